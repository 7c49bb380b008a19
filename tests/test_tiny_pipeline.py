"""The whole tiny config, run once (a module fixture), and the tests that reuse its results: every
artifact and report item, reruns exactly as wide as a change, a second experiment beside the first,
determinism of a rerun job. Under xdist (--dist loadfile) this file stays on one worker."""

import shutil

import pandas as pd
import pytest

from conftest import ROOT, snakemake, tiny_run


EXPECTED = [
    "results/data/ml-100k/summary.tsv",
    "results/data/ml-100k/ratings_overview.png",
    "results/data/fashion_mnist/images.npz",
    "results/tiny/collab/lr_find.png",
    "results/tiny/collab/main/epochs.tsv",
    "results/tiny/collab/main/loss_curve.png",
    "results/tiny/collab/main/schedule.png",
    "results/tiny/collab/interpret/item_biases.tsv",
    "results/tiny/collab/interpret/pca_ends.tsv",
    "results/tiny/collab/interpret/pca_scatter.png",
    "results/tiny/collab/baselines.tsv",
    "results/tiny/collab/sweep_n_factors.png",
    "results/tiny/collab/sweep_wd.png",
    "results/tiny/collab/folds.tsv",
    "results/tiny/collab/bias_wd.tsv",
    "results/tiny/optimizers/manual/losses.png",
    "results/tiny/optimizers/ablation.png",
    "results/tiny/optimizers/ablation.tsv",
    "results/tiny/optimizers/weight_decay.png",
    "results/tiny/optimizers/one_cycle/lr_find.png",
    "results/tiny/optimizers/one_cycle/fit_one_cycle.tsv",
    "results/tiny/optimizers/one_cycle/schedule.png",
    "results/tiny/optimizers/cross_entropy.png",
    "results/tiny/optimizers/lr_grid.tsv",
    "results/tiny/optimizers/lr_grid.png",
    "results/tiny/transfer/bodies/classes/body.pt",
    "results/tiny/transfer/bodies/fractal/body.pt",
    "results/tiny/transfer/fractal/images.npz",
    "results/tiny/transfer/fractal/samples.png",
    "results/tiny/transfer/strategies.tsv",
    "results/tiny/transfer/paired.tsv",
    "results/tiny/transfer/budget_curve.png",
    "results/tiny/transfer/lr_find_frozen.png",
    "results/tiny/transfer/lr_find_unfrozen.png",
    "results/tiny/transfer/lr_find_scratch.png",
    "results/tiny/transfer/probe.png",
    "results/tiny/transfer/probe_paired.tsv",
    "results/tiny/transfer/lr_select.tsv",
    "results/tiny/transfer/lr_select.png",
    "results/tiny/transfer/curves.png",
    "results/tiny/transfer/confusion.png",
    "results/tiny/summary.tsv",
    "results/tiny/config.yaml",
]


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """The whole tiny config, run once for the tests below."""
    work = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ROOT / "profiles", work / "profiles")
    proc = tiny_run(work, "all")
    assert proc.returncode == 0, proc.stdout[-6000:]
    return work


@pytest.mark.e2e
def test_tiny_pipeline_produces_every_artifact(tiny_pipeline):
    missing = [p for p in EXPECTED if not (tiny_pipeline / p).is_file()]
    assert not missing
    for png in (p for p in EXPECTED if p.endswith(".png")):
        assert (tiny_pipeline / png).stat().st_size > 5_000, png
    rule_dirs = [*(tiny_pipeline / "logs" / "tiny").iterdir(), *(tiny_pipeline / "logs" / "data").iterdir()]
    assert len(rule_dirs) > 20
    for rule_dir in rule_dirs:
        assert any(rule_dir.rglob("*.log")) or rule_dir.suffix == ".log"
    baselines = pd.read_csv(tiny_pipeline / "results/tiny/collab/baselines.tsv", sep="\t")
    assert list(baselines.model) == ["mean", "bias", "dot", "mlp"] and (baselines.n_seeds == 2).all()
    bias_wd = pd.read_csv(tiny_pipeline / "results/tiny/collab/bias_wd.tsv", sep="\t")
    assert list(zip(bias_wd.model, bias_wd.bias_wd)) == [("bias", False), ("bias", True), ("dot", False), ("dot", True)]
    # the two settings train different models (the main run, bias_wd false, is one of them)
    assert bias_wd.valid_rmse_mean.nunique() == 4
    main = bias_wd.set_index(["model", "bias_wd"]).valid_rmse_mean[("dot", False)]
    assert baselines.set_index("model").valid_rmse_mean["dot"] == pytest.approx(main, abs=1e-4)
    table = (tiny_pipeline / "results/tiny/transfer/strategies.tsv").read_text()
    # each body against scratch and the broad body against the narrow one, at both budgets
    assert table.count("# verdict: ") == 6 and "discriminative, classes body" in table.splitlines()[-1]
    budgets = pd.read_csv(tiny_pipeline / "results/tiny/transfer/strategies.tsv", sep="\t", comment="#")
    methods = {b: set(budgets[budgets.budget == b].method) for b in (3, 6)}
    assert {"head_only, fractal body", "discriminative, fractal body", "discriminative, classes body",
            "scratch"} <= methods[3]
    assert "unfrozen_high_lr, fractal body" in methods[6] - methods[3]  # strategy_budgets: at 6 only
    assert {f"linear probe, {b} body (layer4)" for b in ("fractal", "classes", "random")} <= methods[3]
    assert budgets.method.str.startswith("source task").sum() == 2
    probe = pd.read_csv(tiny_pipeline / "results/tiny/transfer/probe.tsv", sep="\t")
    assert set(probe.layer) == {"layer2", "layer3", "layer4"} and set(probe.budget) == {3, 6}
    assert set(probe.body) == {"fractal", "classes", "random"}
    probe_paired = pd.read_csv(tiny_pipeline / "results/tiny/transfer/probe_paired.tsv", sep="\t")
    assert len(probe_paired) == 2 * 3 * 2 and (probe_paired.n_seeds == 2).all()  # bodies x layers x budgets
    # tiny's grid is 1 and 3, no step beyond its edge: two scales a job, on its first seed only; the
    # kept one is on the grid's edge, and the table says so for each job
    selection = pd.read_csv(tiny_pipeline / "results/tiny/transfer/lr_select.tsv", sep="\t")
    tried = selection.groupby(["family", "budget"]).lr_scale.unique()
    assert len(tried) == 6 and all(sorted(t) == [1, 3] for t in tried) and set(selection.seed) == {0}
    assert table.count("# lr scale on the grid's edge: ") == 6
    kept = selection[selection.chosen].groupby(["family", "budget"]).lr_scale.nunique()
    assert (kept == 1).all() and len(kept) == 6
    runs = pd.concat(pd.read_csv(p, sep="\t")
                     for p in (tiny_pipeline / "results/tiny/transfer/finetune").glob("*/budget~*/runs.tsv"))
    assert runs.dev_error_rate.notna().all()
    assert runs.groupby(["family", "budget"]).lr_scale.nunique().eq(1).all()  # every seed at the kept scale
    assert set(probe_paired.b) == {f"linear probe, random body ({layer})" for layer in ("layer2", "layer3", "layer4")}
    summary_lines = pd.read_csv(tiny_pipeline / "results/tiny/summary.tsv", sep="\t").experiment
    for body in ("fractal", "classes"):
        assert (summary_lines == f"transfer: share of label budgets where discriminative, {body} body beats "
                                 "scratch").sum() == 1
    assert not (tiny_pipeline / "checkpoints").exists() or not any((tiny_pipeline / "checkpoints").iterdir())
    summary = pd.read_csv(tiny_pipeline / "results/tiny/summary.tsv", sep="\t")
    assert (summary.experiment == "sweep whose best value is on the grid's edge").any()
    epochs = pd.read_csv(tiny_pipeline / "results/tiny/collab/main/epochs.tsv", sep="\t")
    assert list(epochs.columns) == ["epoch", "train_mse", "valid_mse", "valid_rmse", "seconds"]


def planned_jobs(workdir, *config) -> dict[str, int]:
    """Jobs a dry run of ``all`` plans per rule (its job-stats table), the target rule left out."""
    args = ["--config", *config] if config else []
    proc = snakemake("all", "-n", "--nolock", "--quiet", "rules", "--configfile", ROOT / "config" / "tiny.yaml",
                     *args, cwd=workdir, check=True)  # --nolock: dry runs side by side in one directory
    if "Nothing to be done" in proc.stdout:
        return {}
    lines = proc.stdout.split("Job stats:", 1)[1].splitlines()
    counts = {}
    for line in lines[3:]:
        rule, _, count = line.strip().partition(" ")
        if rule == "total":
            break
        counts[rule] = int(count)
    counts.pop("all", None)
    return counts


# tiny's collab runs: 14 settings, 9 on the random split (of which 7 of the bias or dot model) and the
# main dot-product settings on the 5 official folds
COLLAB_DOWNSTREAM = {"aggregate_collab": 1, "collab_sweep": 2, "collab_table": 2, "summary_table": 1}
MAIN_RUN_READERS = {"plot_collab_main": 1, "interpret_collab": 1}
TRANSFER_DOWNSTREAM = {"aggregate_transfer": 1, "summary_table": 1}
OPT_DOWNSTREAM = {"aggregate_optimizers": 1, "summary_table": 1}
CONFIG = {"experiment_config": 1}  # the experiment's recorded config: every tracked key
# one leaf key changed -> the jobs that read it or what it changed, and nothing more
RERUNS = [
    ("movielens={'max_problems_per_check': 5}", {}),  # a limit of the error report: untracked
    ("download={'timeout_s': 5}", {}),
    ("transfer={'threads': 2}", {}),
    ("collab={'model': {'sparse_opt': 'sparse_adam'}}", CONFIG),  # read only with sparse embeddings
    ("collab={'interpret': {'top_n': 20}}", {"interpret_collab": 1} | CONFIG),
    ("collab={'lr_find': {'num_it': 20}}", {"collab_lr_find": 1} | CONFIG),
    ("collab={'model': {'mlp_layers': [50]}}", {"train_collab": 1} | COLLAB_DOWNSTREAM | CONFIG),
    ("collab={'sweeps': {'n_factors': [4, 16]}}", {"train_collab": 1} | COLLAB_DOWNSTREAM | CONFIG),
    ("collab={'model': {'step': 'analytic'}}",
     {"train_collab": 12, "collab_lr_find": 1} | MAIN_RUN_READERS | COLLAB_DOWNSTREAM | CONFIG),
    ("movielens={'valid_pct': 0.2}",
     {"split_movielens": 1, "train_collab": 9, "collab_lr_find": 1} | MAIN_RUN_READERS | COLLAB_DOWNSTREAM | CONFIG),
    ("optimizers={'one_cycle': {'lr': 0.02}}", {"opt_one_cycle": 1, "summary_table": 1} | CONFIG),
    ("optimizers={'ablation': {'lr_grid': {'adam': [0.001, 0.01]}}}", {"opt_ablation": 2} | OPT_DOWNSTREAM | CONFIG),
    ("optimizers={'weight_decay': {'lr': {'sgd': 0.05}}}", {"opt_weight_decay": 2} | OPT_DOWNSTREAM | CONFIG),
    ("transfer={'probe': {'c': 0.5}}", {"transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'confusion_budget': 3}", TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'finetune': {'frozen_epochs': 2}}", {"finetune": 6} | TRANSFER_DOWNSTREAM | CONFIG),  # scratch too
    ("transfer={'finetune': {'scratch_lr': 0.01}}", {"finetune": 2} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'finetune': {'bn_stats': 'running'}}", {"finetune": 6} | TRANSFER_DOWNSTREAM | CONFIG),  # no pretraining
    ("transfer={'lr_find': {'pick': {'unfrozen': 'steepest'}}}", {"finetune": 4} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'lr_select': {'scales': [0.5, 1]}}", {"finetune": 6} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'lr_select': {'dev_per_class': 2}}", {"finetune": 6} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'lr_select': {'head': 'scaled'}}", {"finetune": 4} | TRANSFER_DOWNSTREAM | CONFIG),  # not scratch
    ("transfer={'pretrain': {'epochs': 2}}",
     {"pretrain_body": 2, "finetune": 4, "transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'pretrain': {'fractal': {'augment': 'shift'}}}",  # one body's own recipe: that body alone
     {"pretrain_body": 1, "finetune": 2, "transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'conv': 'plain'}",  # every ResNet job: both pretrainings, the fine-tuning and the probe
     {"pretrain_body": 2, "finetune": 6, "transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'cut': 'layer2'}",  # the fine-tuning only: bodies are pretrained whole, the probe reads every layer
     {"finetune": 6} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'fractal': {'variation': 0.3}}",  # the broad body and what starts from it, not the narrow one
     {"fractal_images": 1, "pretrain_body": 1, "finetune": 2, "transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'strategy_budgets': {'unfrozen_high_lr': [3]}}", {"finetune": 2} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'bodies': ['fractal', 'classes', 'mixed']}",  # a third body: its own jobs, the others stay
     {"pretrain_body": 1, "finetune": 2, "transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'source_classes': [0, 1, 2]}",  # the narrow body alone (the fractal body does not read them)
     {"pretrain_body": 1, "finetune": 2, "transfer_probe": 1} | TRANSFER_DOWNSTREAM | CONFIG),
    ("transfer={'strategies': {'classes': ['head_only', 'discriminative']}}",
     {"finetune": 2} | TRANSFER_DOWNSTREAM | CONFIG),
    ("fashion_mnist={'n_valid': 50}",
     {"prepare_images": 1, "opt_manual": 1, "opt_ablation": 4, "opt_weight_decay": 4, "opt_one_cycle": 1,
      "pretrain_body": 1, "finetune": 6, "transfer_probe": 1, "aggregate_optimizers": 1, "aggregate_transfer": 1,
      "summary_table": 1} | CONFIG),
]


@pytest.mark.e2e
def test_the_mixed_body_learns_the_fractals_and_the_source_classes_as_one_task(tiny_pipeline):
    """A third body, asked for by one key: pretrained on both sources at once and fine-tuned like the others."""
    target = "results/tiny/transfer/finetune/mixed/budget~3/runs.tsv"
    proc = tiny_run(tiny_pipeline, target, extra=["--config", "transfer={'bodies': ['fractal', 'classes', 'mixed']}"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "pretrain_body" in proc.stdout and "fractal_images" not in proc.stdout  # the other bodies' images stay
    history = {b: pd.read_csv(tiny_pipeline / f"results/tiny/transfer/bodies/{b}/history.tsv", sep="\t")
               for b in ("mixed", "fractal", "classes")}
    for column in ("classes", "train_images", "valid_images"):
        assert (history["mixed"][column] == history["fractal"][column] + history["classes"][column]).all(), column
    assert history["mixed"].source[0] == f"{history['fractal'].source[0]} + {history['classes'].source[0]}"
    runs = pd.read_csv(tiny_pipeline / target, sep="\t")
    assert set(runs.family) == {"mixed"} and set(runs.strategy) == {"discriminative"} and len(runs) == 2
    for made in ("bodies/mixed", "finetune/mixed"):  # the rerun test's dry runs plan the mixed body from nothing
        shutil.rmtree(tiny_pipeline / "results/tiny/transfer" / made)


@pytest.mark.e2e
def test_a_changed_key_reruns_exactly_what_reads_it(tiny_pipeline):
    """After a finished run, each one-key change plans the jobs that read the key (or its outputs'
    readers), and nothing else: every rule gets only the config it reads."""
    proc = tiny_run(tiny_pipeline, "all")  # up to date again after any earlier test's forced rerun
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert planned_jobs(tiny_pipeline) == {}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # each dry run is a process that mostly waits on Snakemake's start-up
        planned = pool.map(lambda row: planned_jobs(tiny_pipeline, row[0]), RERUNS)
    wrong = {override: (got, expected) for (override, expected), got in zip(RERUNS, planned) if got != expected}
    assert not wrong, wrong


@pytest.mark.e2e
def test_a_second_experiment_runs_beside_the_first_and_compare_lists_both(tiny_pipeline):
    """Another experiment in the same working directory: the shared release is not parsed again, the
    first experiment's results stay, and compare puts both side by side with the keys that differ."""
    # the main run alone (no other baselines, sweeps or folds): what it shows needs one trained model
    small = "{'model': {'n_factors': 4}, 'baselines': ['dot'], 'folds': False, " \
            "'sweeps': {'n_factors': [], 'wd': null, 'bias_wd': []}}"
    second = ["--config", "experiment=tiny-collab", "stages=['collab']", f"collab={small}"]
    before = (tiny_pipeline / "results/tiny/summary.tsv").read_bytes()
    plan = snakemake("all", "-n", "--quiet", "rules", "--configfile", ROOT / "config" / "tiny.yaml", *second,
                     cwd=tiny_pipeline, check=True).stdout
    assert "train_collab" in plan and "parse_movielens" not in plan and "finetune" not in plan
    proc = tiny_run(tiny_pipeline, "all", "compare", extra=second)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tiny_pipeline / "results/tiny/summary.tsv").read_bytes() == before
    table = pd.read_csv(tiny_pipeline / "results/compare.tsv", sep="\t")
    assert {"tiny", "tiny-collab"} <= set(table.columns)
    main = table.set_index("figure").loc["collab valid RMSE (random 90/10 split)"]
    assert main["tiny"] != main["tiny-collab"] and main["lesson"] == pytest.approx(0.9026)
    keys = pd.read_csv(tiny_pipeline / "results/compare_keys.tsv", sep="\t").key.tolist()
    assert {"experiment", "stages", "collab.model.n_factors"} <= set(keys) and "seed" not in keys
    assert (tiny_pipeline / "results/compare.png").stat().st_size > 10_000


@pytest.mark.e2e
def test_same_seed_gives_the_same_numbers(tiny_pipeline):
    run = next((tiny_pipeline / "results/tiny/collab/runs").glob("split~random/model~dot/*/*/*/*/seed~0/history.tsv"))
    # the job trains every seed of its setting: rerunning it rewrites them all
    before = pd.read_csv(run, sep="\t")
    target = str(run.relative_to(tiny_pipeline))
    proc = snakemake(target, "--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1", "--forcerun", target,
                     cwd=tiny_pipeline)
    assert proc.returncode == 0, proc.stdout[-3000:]
    after = pd.read_csv(run, sep="\t")
    pd.testing.assert_frame_equal(before.drop(columns="seconds"), after.drop(columns="seconds"))


@pytest.mark.e2e
def test_a_rerun_finetuning_job_gives_the_same_numbers(tiny_pipeline):
    runs = tiny_pipeline / "results/tiny/transfer/finetune/classes/budget~3/runs.tsv"
    before = pd.read_csv(runs, sep="\t")
    target = str(runs.relative_to(tiny_pipeline))
    proc = snakemake(target, "--configfile", ROOT / "config" / "tiny.yaml", "--cores", "1", "--forcerun", target,
                     cwd=tiny_pipeline)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "time: imports" in (tiny_pipeline / "logs/tiny/finetune/classes/budget~3.log").read_text()
    after = pd.read_csv(runs, sep="\t")
    pd.testing.assert_frame_equal(before.drop(columns="seconds"), after.drop(columns="seconds"))


@pytest.mark.e2e
def test_report_contains_every_item(tiny_pipeline):
    import zipfile

    proc = snakemake("--configfile", ROOT / "config" / "tiny.yaml", "--report", "report.zip", cwd=tiny_pipeline)
    assert proc.returncode == 0, proc.stdout[-3000:]
    names = [n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(tiny_pipeline / "report.zip").namelist()]
    reported = [p.rsplit("/", 1)[-1] for p in EXPECTED if not p.endswith((".npz", ".pt"))]
    for base in set(reported):
        assert names.count(base) >= reported.count(base), base
