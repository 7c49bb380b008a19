"""Which fractal source transfers: generate a FractalDB-style source, pretrain a ResNet-34 on it as
rule pretrain_body does, then measure what the transfer stage asks of a body. Prints one table row:
the source's own valid error after each epoch, the linear probes of layer2/3/4 at a few label budgets
(against a random body's), and discriminative fine-tuning at the same budgets (against scratch).

    python benchmarks/fractal_source.py --classes 300 --per-class 84 --data DIR_OF_UNPACKED_IDX_FILES
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np
import pandas as pd
import torch
import yaml
from snakemake.utils import update_config, validate

from lesson5.analysis.probe import pooled_features, probe_error
from lesson5.data.fractals import FractalSpec, fractal_dataset
from lesson5.data.idx import load_idx_dataset, split_train_valid
from lesson5.data.image_tasks import AUGMENTS, source_task, target_tasks
from lesson5.experiments.transfer import Finetune, finetune_budget, pretrain
from lesson5.experiments.transfer_plan import SCRATCH, dev_per_class, pretrain_recipe
from lesson5.models.vision import resnet34_body, save_body
from lesson5.train.device import resolve_device

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"


def merged_config(variant: str | None) -> dict:
    """The default config with a variant config's keys merged over it by Snakemake's own --configfile merge,
    then validated with the schema's defaults filled in, as the Snakefile does: what the jobs read."""
    config = yaml.safe_load((CONFIG / "config.yaml").read_text())
    if variant:
        update_config(config, yaml.safe_load(Path(variant).read_text()))
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def add_stage_arguments(ap: argparse.ArgumentParser):
    """The options of a benchmark that fine-tunes on a finished stage's images and bodies."""
    ap.add_argument("--images", required=True, help="the stage's images.npz (rule prepare_images)")
    ap.add_argument("--bodies", required=True, help="a folder of <family>/body.pt (the stage's transfer/bodies)")
    ap.add_argument("--seeds", type=int, nargs="+", help="default: the config's")
    ap.add_argument("--config", help="a variant config whose transfer keys replace the default's")


def stage_inputs(args) -> tuple[dict, int, dict, str]:
    """(transfer section, validation seed, images, device) for ``add_stage_arguments``' options, on one
    thread as a finetune job trains."""
    torch.set_num_threads(1)
    config = merged_config(args.config)
    transfer, valid_seed = config["transfer"], config["seed"]  # the seed the finetune jobs draw validation with
    if args.seeds:
        transfer["seeds"] = args.seeds
    with np.load(args.images, allow_pickle=False) as npz:
        images = dict(npz)
    return transfer, valid_seed, images, str(resolve_device(transfer["device"]))


def stage_body(bodies, family: str) -> str | None:
    """A family's body.pt in a stage's bodies folder (``add_stage_arguments``' --bodies); None for scratch."""
    return None if family == SCRATCH else str(Path(bodies) / family / "body.pt")


def stage_runs(stage: Path, family: str, budget: int, strategy: str, seeds=None) -> pd.DataFrame:
    """A finished stage's runs of one strategy at one budget (its runs.tsv), indexed by seed and in the
    order of ``seeds`` (default: every seed it ran)."""
    runs = pd.read_csv(Path(stage) / family / f"budget~{budget}" / "runs.tsv", sep="\t")
    runs = runs[runs.strategy == strategy].set_index("seed").sort_index()
    return runs if seeds is None else runs.loc[list(seeds)]


def transfer_recipe(variant: str | None) -> dict:
    """The merged config's transfer section: pretraining, fine-tuning and the lr finder as the stage runs them."""
    return merged_config(variant)["transfer"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a folder of Fashion-MNIST's IDX files")
    ap.add_argument("--config", help="a variant config whose transfer keys replace the default's "
                                     "(config/tiny.yaml: seconds-long finders and stages, for the test suite)")
    known, _ = ap.parse_known_args()
    TRANSFER = transfer_recipe(known.config)
    PRETRAIN = pretrain_recipe(TRANSFER, "fractal")  # the fractal body's recipe, its own keys included
    spec = FractalSpec()  # the generator's defaults
    for name in ("classes", "per_class", "variation", "min_fill", "walkers", "steps", "burn_in"):
        ap.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(spec, name)), default=getattr(spec, name))
    ap.add_argument("--sigma", type=float, nargs=2, default=spec.sigma)
    ap.add_argument("--size", type=int, default=TRANSFER["size"],
                    help="pixels a side of the source and target images (transfer.size; Fashion-MNIST is resized)")
    ap.add_argument("--epochs", type=int, default=PRETRAIN["epochs"])
    ap.add_argument("--lr", type=float, default=PRETRAIN["lr"])
    ap.add_argument("--augment", choices=sorted(AUGMENTS), default=PRETRAIN["augment"],
                    help="the pretraining's augmentation of each batch (transfer.pretrain.augment)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[10, 25])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--finetune", action="store_true", help="also fine-tune (discriminative) at each budget")
    ap.add_argument("--n-valid", type=int, default=10000, help="training images held out as the valid split")
    ap.add_argument("--valid-per-class", type=int, default=100)
    ap.add_argument("--lr-select", choices=["finder", "dev"], default="finder",
                    help="how --finetune settles its lrs (transfer.lr_select.by): the sources' table in "
                         "docs/benchmarks.md used the finder's picks; dev: the config's scales on a dev set")
    ap.add_argument("--body", help="save the body here")
    ap.add_argument("--reuse", action="store_true", help="load the body from --body where it exists")
    args = ap.parse_args()
    torch.set_num_threads(1)
    precision, conv = TRANSFER["precision"], TRANSFER["conv"]  # as the stage's jobs (the Learner resolves auto)
    t0 = time.perf_counter()
    spec = FractalSpec(classes=args.classes, per_class=args.per_class, variation=args.variation,
                       sigma=tuple(args.sigma), min_fill=args.min_fill, walkers=args.walkers, steps=args.steps,
                       burn_in=args.burn_in, size=args.size)
    source = fractal_dataset(spec)
    t1 = time.perf_counter()
    body_file = Path(args.body or f"/tmp/fractal_body_{args.classes}_{args.per_class}.pt")
    if args.reuse and body_file.exists():  # a body this script saved before: skip its pretraining
        saved = torch.load(body_file, weights_only=False)
        errors = saved.get("errors", [saved.get("valid_error_rate")])
    else:
        data = source_task(source, list(range(args.classes)), args.size)
        recipe = {**PRETRAIN, "epochs": args.epochs, "lr": args.lr, "augment": args.augment}
        learner, history = pretrain(data, recipe, TRANSFER["finetune"]["ps"], 0, "cpu", precision=precision, conv=conv)
        errors = history.error_rate.tolist()
        save_body(learner.model.cpu(), body_file, source="fractal", size=args.size, errors=errors)
    print("source valid error by epoch", errors, flush=True)
    t2 = time.perf_counter()
    arrays = split_train_valid(load_idx_dataset(args.data), args.n_valid, 0)
    select = {**TRANSFER["lr_select"], "by": args.lr_select}
    tasks = target_tasks(arrays, list(range(5, 10)), args.budgets, args.seeds, args.valid_per_class, 0, args.size,
                         dev_per_class({"lr_select": select}))
    torch.manual_seed(0)
    probes = {}
    bodies = {"fractal": resnet34_body(body_file, conv=conv), "random": resnet34_body("scratch", conv=conv)}
    for name, body in bodies.items():
        valid = tasks[args.seeds[0]][args.budgets[0]]
        vf = pooled_features(body, valid.x_valid)
        for budget in args.budgets:
            for seed in args.seeds:
                t = tasks[seed][budget]
                f = pooled_features(body, t.x_train)
                for layer in f:
                    probes.setdefault((name, layer, budget), []).append(
                        probe_error(f[layer], t.y_train.numpy(), vf[layer], valid.y_valid.numpy(), c=1.0))
    t3 = time.perf_counter()
    line = [f"{args.classes}x{args.per_class} var {args.variation} sigma {args.sigma} ep {args.epochs} lr {args.lr} "
            f"aug {args.augment} size {args.size}",
            "source err " + "/".join(f"{e:.3f}" for e in errors),
            f"gen {t1 - t0:.0f}s pretrain {t2 - t1:.0f}s"]
    for budget in args.budgets:
        line.append(f"probe@{budget} " + " ".join(
            f"{layer} {np.mean(probes[('fractal', layer, budget)]):.3f}/{np.mean(probes[('random', layer, budget)]):.3f}"
            for layer in ("layer2", "layer3", "layer4")))
    print(" | ".join(line), flush=True)
    line = []
    if args.finetune:
        ft = Finetune.from_config({**TRANSFER, "lr_select": select})
        for budget in args.budgets:
            r = {}
            for family, body in (("pretrained", body_file), ("scratch", None)):
                res = finetune_budget(family, {s: tasks[s][budget] for s in args.seeds}, body, ft, budget, "cpu",
                                      ["discriminative", "scratch"])
                r[family] = [x["error_rate"] for x in res.runs]
            line.append(f"finetune@{budget} disc {np.mean(r['pretrained']):.3f} scratch {np.mean(r['scratch']):.3f}")
    line.append(f"total {time.perf_counter() - t0:.0f}s")
    print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
