"""Label budgets: how many labelled images per class a transfer run may train on.

For each seed, every class's training pool is shuffled once and a budget of b labels per class takes
the first b of that order, so budgets are nested (the 10-label sample holds the 5-label one) and a
curve over budgets adds labels rather than redrawing them. Different seeds shuffle independently.
The validation images come from the held-out split and are the same for every budget and seed, so
strategies and seeds are compared on the same images. A dev sample (for choosing learning rates) takes
the next images of the same held-out order, so it never overlaps the validation images.
"""

from __future__ import annotations

import numpy as np

from lesson5.errors import PipelineError


def class_orders(labels: np.ndarray, classes, seed: int) -> dict[int, np.ndarray]:
    """Each class's indices into ``labels`` in the seed's shuffled order."""
    rng = np.random.default_rng(seed)
    return {k: rng.permutation(np.flatnonzero(labels == k)) for k in classes}


def budget_indices(labels: np.ndarray, classes, budgets, seed: int) -> dict[int, np.ndarray]:
    """{budget: sorted indices of ``budget`` examples of each class}, nested across budgets."""
    orders = class_orders(labels, classes, seed)
    largest = max(budgets)
    for k, order in orders.items():
        if len(order) < largest:
            raise PipelineError(f"class {k} has {len(order)} training images, fewer than the budget of {largest}")
    return {b: np.sort(np.concatenate([order[:b] for order in orders.values()])) for b in budgets}


def valid_indices(labels: np.ndarray, classes, per_class: int | None, seed: int, skip: int = 0) -> np.ndarray:
    """A fixed, class-balanced validation sample (per_class None: every image of the classes); ``skip``
    passes over the first images of each class's order (those of an earlier sample)."""
    orders = class_orders(labels, classes, seed)
    if per_class is not None:
        short = {k: len(o) for k, o in orders.items() if len(o) < skip + per_class}
        if short:
            what = "validation and dev" if skip else "validation"
            raise PipelineError(f"classes {short} have fewer than the {skip + per_class} {what} images asked for")
    end = None if per_class is None else skip + per_class
    return np.sort(np.concatenate([o[skip:end] for o in orders.values()]))


def relabel(labels: np.ndarray, classes) -> np.ndarray:
    """Dataset labels -> 0..len(classes)-1 in the order of ``classes``."""
    mapping = np.full(max(int(labels.max()), max(classes)) + 1, -1, dtype=np.int64)
    mapping[list(classes)] = np.arange(len(classes))
    out = mapping[labels]
    if (out < 0).any():
        raise PipelineError(f"labels outside the classes {list(classes)}")
    return out
