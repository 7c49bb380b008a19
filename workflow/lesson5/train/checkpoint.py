"""Checkpoints that let a killed training job continue where it stopped, with the same numbers.

A checkpoint holds what the rest of a fit depends on: the model, the optimizer and scheduler state,
every random stream (torch's global RNG, the trainer's shuffling generators, numpy's and Python's),
and the records so far. It is written atomically (a temporary file renamed into place), so a kill
while saving leaves the previous checkpoint intact. Jobs keep them under ``checkpoints/`` (outside
``results/``, which Snakemake cleans on failure) and delete them once their outputs are complete.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from lesson5.atomic import atomic_output

log = logging.getLogger(__name__)


def rng_state(generators: list[torch.Generator]) -> dict:
    state = {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators],
             "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, generators: list[torch.Generator]):
    torch.set_rng_state(state["torch"])
    for g, s in zip(generators, state["generators"]):
        g.set_state(s)
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj, path: str | Path):
    """torch.save to a temporary file beside ``path``, then rename: never a half-written file."""
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(path, *, epoch: int, model, opt, sched, generators, rows, records):
    atomic_save({"epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(),
                 "sched": sched.state_dict() if sched is not None else None,
                 "rng": rng_state(generators), "rows": rows, "records": records}, path)


def load_checkpoint(path, device) -> dict:
    # our own file (RNG states are numpy/python objects, so not weights_only)
    return torch.load(path, map_location=device, weights_only=False)


def checkpoints_for(folder: str | Path, settings) -> Path:
    """The job's checkpoint folder, emptied first if an earlier, killed job left it under other
    settings (its params): resuming from them would mix two configurations' numbers silently."""
    folder, wanted = Path(folder), json.dumps(settings, sort_keys=True, default=str)
    stamp = folder / "settings.json"
    if folder.exists() and (not stamp.exists() or stamp.read_text() != wanted):
        log.warning("discarding checkpoints in %s: written under other settings", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not stamp.exists():
        with atomic_output(stamp) as tmp:
            Path(tmp).write_text(wanted)
    return folder


def remove_checkpoints(folder: str | Path):
    """Called once a job's outputs are complete: the job's folder, then its parents while empty
    (``checkpoints/finetune/scratch`` goes with its last job; only the relative path's own parts)."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.removedirs(Path(folder).parent)
    except OSError:
        pass  # a parent still holds another job's checkpoints
