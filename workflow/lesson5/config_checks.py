"""Config rules a JSON schema cannot state (an order between two values, one list against another),
checked by the Snakefile after schema validation and before any job runs. Each problem names its key."""

from __future__ import annotations

from lesson5.errors import PipelineError


def _ordered(problems: list, key: str, lo, hi, what: str):
    if not lo < hi:
        problems.append(f"{key}: {what} must be below {hi!r}, got {lo!r}")


def config_problems(config: dict) -> list[str]:
    problems: list[str] = []
    collab, transfer, opt = config["collab"], config["transfer"], config["optimizers"]
    lo, hi = collab["model"]["y_range"]
    _ordered(problems, "collab.model.y_range", lo, hi, "the low end")
    for key, finder in (("collab.lr_find", collab["lr_find"]), ("transfer.lr_find", transfer["lr_find"])):
        _ordered(problems, f"{key}.start_lr", finder["start_lr"], finder["end_lr"], "start_lr")
    lr_slice = transfer["finetune"]["lr_slice"]
    if isinstance(lr_slice, list) and len(lr_slice) == 2:
        _ordered(problems, "transfer.finetune.lr_slice", lr_slice[0], lr_slice[1], "lo")
    shared = sorted(set(transfer["source_classes"]) & set(transfer["target_classes"]))
    if shared:
        problems.append(f"transfer.source_classes and transfer.target_classes share {shared}: a body "
                        "pretrained on a target class would have seen its labels")
    if transfer["confusion_budget"] not in transfer["budgets"]:
        problems.append(f"transfer.confusion_budget: {transfer['confusion_budget']} is not one of "
                        f"transfer.budgets {transfer['budgets']}")
    for strategy, budgets in (transfer.get("strategy_budgets") or {}).items():
        if set(budgets) - set(transfer["budgets"]):
            problems.append(f"transfer.strategy_budgets.{strategy}: {sorted(set(budgets) - set(transfer['budgets']))} "
                            f"not in transfer.budgets {transfer['budgets']}")
    lo_maps, hi_maps = transfer["fractal"]["maps"]
    if lo_maps > hi_maps:
        problems.append(f"transfer.fractal.maps: [fewest, most] must be ordered, got {transfer['fractal']['maps']}")
    for name in opt["ablation"]["optimizers"]:
        if name not in opt["ablation"]["lr_grid"]:
            problems.append(f"optimizers.ablation.lr_grid: no grid for {name!r} (listed in optimizers.ablation.optimizers)")
    for name in opt["weight_decay"]["optimizers"]:
        if name not in opt["weight_decay"]["lr"]:
            problems.append(f"optimizers.weight_decay.lr: no lr for {name!r} (listed in optimizers.weight_decay.optimizers)")
    return problems


def check_config(config: dict):
    problems = config_problems(config)
    if problems:
        raise PipelineError("invalid config:\n  " + "\n  ".join(problems))
