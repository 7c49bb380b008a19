"""Glue for the scripts that Snakemake rules call: logging to the job log, clean failures, seeding."""

from __future__ import annotations

import gc
import logging
import random
import sys
from pathlib import Path

from lesson5.errors import DataValidationError, PipelineError


def setup_logging(log_path: str | None = None, level=logging.INFO):
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )


def seed_everything(seed: int):
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_script(smk, main):
    """Run ``main(smk)`` with the rule's log; a PipelineError ends the job with its message only.

    A DataValidationError's report goes to ``<log>.errors.tsv`` so the offending rows survive the
    failed job (Snakemake deletes a failed job's outputs, not its logs).
    """
    log_path = smk.log[0] if len(smk.log) else None
    if log_path:  # a report from an earlier failed run of this job must not outlive it
        Path(f"{log_path}.errors.tsv").unlink(missing_ok=True)
    setup_logging(log_path)
    # what the imports built (torch's and torchvision's ~370k objects) lives until the job ends: out of
    # the collector's passes it costs nothing more, where collecting it at exit took most of a second
    gc.freeze()
    try:
        main(smk)
    except PipelineError as error:
        logging.getLogger("lesson5").error("%s", error)
        if isinstance(error, DataValidationError) and error.report is not None and log_path:
            error.report.to_csv(f"{log_path}.errors.tsv", sep="\t", index=False)
            logging.getLogger("lesson5").error("full report: %s.errors.tsv", log_path)
        sys.exit(1)
    except Exception:
        logging.getLogger("lesson5").exception("unexpected failure")
        raise
