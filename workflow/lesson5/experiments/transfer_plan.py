"""What the transfer stage runs, defined once: the strategies, the bodies, which fine-tuning jobs there
are and what each of them reads. The rules, the scripts, the tables and the plots all ask here.

A *family* is what one fine-tuning job starts from: one of the ``bodies`` (a pretrained ResNet-34
body) or ``scratch`` (random weights). A body's strategies share one frozen stage per seed.
"""

from __future__ import annotations

HEAD_ONLY, DISCRIMINATIVE, HIGH_LR, SCRATCH = "head_only", "discriminative", "unfrozen_high_lr", "scratch"
STRATEGIES = (HEAD_ONLY, DISCRIMINATIVE, HIGH_LR, SCRATCH)
FROM_BODY = (HEAD_ONLY, DISCRIMINATIVE, HIGH_LR)  # continue from a body's frozen stage

# the bodies this pipeline pretrains and the source tasks each one learns, as one task of their classes
# together: generated fractals (broad, no natural images), the dataset's source classes (narrow), or both
# (broad and of the target's domain, as ImageNet is for the lesson's pets); a config's bodies may also
# name imagenet (torchvision's weights)
FRACTAL_SOURCE, CLASS_SOURCE = "fractal", "classes"
BODY_SOURCES = {"fractal": (FRACTAL_SOURCE,), "classes": (CLASS_SOURCE,), "mixed": (FRACTAL_SOURCE, CLASS_SOURCE)}
OWN_BODIES = tuple(BODY_SOURCES)
RANDOM = "random"  # the probes' untrained body

FINETUNE_COMMON = ["bs", "frozen_epochs", "unfrozen_epochs", "min_steps", "wd", "ps", "bn_stats"]
BODY_KEYS = (FINETUNE_COMMON + ["lr", "lr_slice", "slice_ratio", "lr_div"], ["frozen", "unfrozen"])
SCRATCH_KEYS = (FINETUNE_COMMON + ["scratch_lr"], ["scratch"])  # transfer.finetune keys, lr_find.pick keys
TASK_KEYS = ("seeds", "target_classes", "valid_per_class", "size", "device", "precision", "conv", "cut")


def method(family: str, strategy: str) -> str:
    """A run's name in tables and legends."""
    return strategy if family == SCRATCH else f"{strategy}, {family} body"


def lead_strategy(family: str, strategies) -> str:
    """The strategy whose dev error chooses a family's lr scale: a body's strategies share one frozen
    stage and so one set of lrs; the lesson's recipe (discriminative) leads where it is trained."""
    if family == SCRATCH:
        return SCRATCH
    return DISCRIMINATIVE if DISCRIMINATIVE in strategies else next(s for s in FROM_BODY if s in strategies)


def beyond_edge(scales: list[float], best: float) -> float | None:
    """The next scale past the grid's end where ``best`` is its smallest or largest (one more step of the
    grid's outer ratio there), or None when ``best`` lies inside."""
    scales = sorted(scales)
    if best == scales[0]:
        return best * scales[0] / scales[1]
    return best * scales[-1] / scales[-2] if best == scales[-1] else None


def families(transfer: dict) -> list[str]:
    """The fine-tuning families of a config: each body with strategies, then scratch if asked for."""
    wanted = [b for b in transfer["bodies"] if transfer["strategies"].get(b)]
    return wanted + ([SCRATCH] if transfer["strategies"].get(SCRATCH) else [])


def job_strategies(transfer: dict, family: str, budget: int) -> list[str]:
    """What the (family, budget) job trains: the family's strategies, less those that run at other budgets
    only (``strategy_budgets``)."""
    only_at = transfer.get("strategy_budgets") or {}
    return [s for s in transfer["strategies"].get(family, []) if s not in only_at or budget in only_at[s]]


def jobs(transfer: dict) -> list[tuple[str, int]]:
    """Every (family, budget) fine-tuning job: those with something to train."""
    return [(f, b) for f in families(transfer) for b in transfer["budgets"] if job_strategies(transfer, f, b)]


def job_columns(transfer: dict) -> tuple[list[str], list[int]]:
    """``jobs`` as two lists, families and budgets (Snakemake's expand(..., zip, ...))."""
    pairs = jobs(transfer)
    return [f for f, _ in pairs], [b for _, b in pairs]


def finetune_params(transfer: dict, family: str, budget: int) -> dict:
    """Exactly what the (family, budget) fine-tuning job reads."""
    ft_keys, picks = SCRATCH_KEYS if family == SCRATCH else BODY_KEYS
    finder = transfer["lr_find"]
    return dict(
        finetune={k: transfer["finetune"][k] for k in ft_keys},
        lr_find={**{k: finder[k] for k in ("start_lr", "end_lr", "num_it", "rise")},
                 "pick": {k: finder["pick"][k] for k in picks}},
        lr_select=lr_select_params(transfer, family),
        strategies=job_strategies(transfer, family, budget),
        **{k: transfer[k] for k in TASK_KEYS},
    )


def lr_select_params(transfer: dict, family: str) -> dict:
    """How the ``family``'s fine-tuning jobs choose among lr scales: the finder's pick alone reads nothing
    more, and scratch (one lr, no head of a body) not ``head``."""
    select = transfer["lr_select"]
    if select["by"] != "dev":
        return {"by": select["by"]}
    return {k: v for k, v in select.items() if not (k == "head" and family == SCRATCH)}


def dev_per_class(job: dict) -> int:
    """The dev images per class a fine-tuning job (its params) needs: none unless it chooses on them."""
    return job["lr_select"]["dev_per_class"] if job["lr_select"]["by"] == "dev" else 0


def pretrain_recipe(transfer: dict, source: str) -> dict:
    """The ``source`` body's pretraining recipe: transfer.pretrain's shared keys, then its own
    ``pretrain.<source>`` keys over them (so a change to one body's recipe reruns that body alone)."""
    shared = {k: v for k, v in transfer["pretrain"].items() if k not in OWN_BODIES}
    return {**shared, **transfer["pretrain"].get(source, {})}


def pretrain_params(transfer: dict, source: str) -> dict:
    """What pretraining the ``source`` body reads (a body that learns source classes also their dataset
    and which they are; the fractals' own keys are the fractal images' rule's)."""
    extra = {k: transfer[k] for k in ("dataset", "source_classes")} if CLASS_SOURCE in BODY_SOURCES[source] else {}
    return {"pretrain": pretrain_recipe(transfer, source), "ps": transfer["finetune"]["ps"],
            **{k: transfer[k] for k in ("size", "device", "precision", "conv")}, **extra}


def probe_params(transfer: dict) -> dict:
    return {k: transfer[k] for k in ("seeds", "budgets", "target_classes", "valid_per_class", "size", "bodies",
                                     "conv")} | \
        {"c": transfer["probe"]["c"]}


def comparisons(transfer: dict) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The paired comparisons the stage's verdicts make, each (a, b) of (family, strategy): every body's
    discriminative fine-tuning against scratch, then the first body's against each other body's."""
    wanted = families(transfer)
    with_disc = [b for b in wanted if b != SCRATCH and DISCRIMINATIVE in transfer["strategies"][b]]
    pairs = [((b, DISCRIMINATIVE), (SCRATCH, SCRATCH)) for b in with_disc if SCRATCH in wanted]
    return pairs + [((with_disc[0], DISCRIMINATIVE), (b, DISCRIMINATIVE)) for b in with_disc[1:]]
