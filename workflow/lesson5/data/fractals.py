"""A formula-driven source task (FractalDB, Kataoka et al. 2020): each class is one iterated function
system (IFS) of a few random affine maps, each image the chaos game of its class's system, slightly
perturbed, flipped and rotated. Broad, offline and free of natural images.

The maps are drawn through their singular values (Anderson & Farrell 2022) so that every map is
contractive and the chaos game converges; a filling-rate filter then drops systems whose attractor
is degenerate (a dot or a thin line). Rendering is vectorised over instances and walkers: every
image is many walkers taking a few dozen steps, their points binned at twice the size and
area-downsampled (an antialiased image without a rasteriser).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lesson5.errors import PipelineError


@dataclass(frozen=True)
class FractalSpec:
    """The generator's knobs (config ``transfer.fractal``)."""

    classes: int = 100
    per_class: int = 250  # training images a class
    valid_per_class: int = 20
    maps: tuple[int, int] = (2, 4)  # maps per system, inclusive range
    sigma: tuple[float, float] = (0.25, 0.85)  # singular values of each map's linear part
    variation: float = 0.15  # an instance scales each map parameter by a factor in 1 ± variation
    min_fill: float = 0.15  # share of pixels a class's unperturbed attractor must cover
    walkers: int = 256
    steps: int = 32  # points per walker after burn-in
    burn_in: int = 10
    size: int = 28
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: dict, size: int, seed: int) -> "FractalSpec":
        keys = set(cls.__dataclass_fields__) - {"size", "seed"}
        unknown = set(cfg) - keys
        if unknown:
            raise PipelineError(f"transfer.fractal: unknown keys {sorted(unknown)}")
        tuples = {k: tuple(cfg[k]) for k in ("maps", "sigma") if k in cfg}
        return cls(**{**cfg, **tuples}, size=size, seed=seed)


def sample_system(rng: np.random.Generator, spec: FractalSpec) -> np.ndarray:
    """One IFS as an array [k, 2, 3] of affine maps (A | b): A = R(theta) diag(s1, s2) R(phi), with a
    reflection half the time, singular values in ``spec.sigma``, offsets b in [-1, 1]^2."""
    k = int(rng.integers(spec.maps[0], spec.maps[1] + 1))
    theta, phi = rng.uniform(0, 2 * np.pi, (2, k))
    sigma = rng.uniform(*spec.sigma, (k, 2))
    sigma[:, 1] *= np.where(rng.random(k) < 0.5, -1.0, 1.0)  # a reflection
    linear = rotation(theta) @ (sigma[:, :, None] * np.eye(2)) @ rotation(phi)
    return np.concatenate([linear, rng.uniform(-1, 1, (k, 2, 1))], axis=2)


def rotation(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def chaos_game(systems: np.ndarray, rng: np.random.Generator, spec: FractalSpec) -> np.ndarray:
    """The points of the chaos game for a batch of systems [n, k, 2, 3] of one class: [n, points, 2].
    Map i is chosen with probability proportional to |det A_i| (FractalDB's rule)."""
    n = len(systems)
    det = np.abs(np.linalg.det(systems[:, :, :, :2])) + 1e-6
    cum = np.cumsum(det / det.sum(1, keepdims=True), axis=1)
    xy = rng.uniform(-1, 1, (n, spec.walkers, 2))
    rows = np.arange(n)[:, None]
    points = np.empty((n, spec.steps, spec.walkers, 2))
    for step in range(spec.burn_in + spec.steps):
        choice = (rng.random((n, spec.walkers, 1)) > cum[:, None, :-1]).sum(-1)  # [n, walkers]
        m = systems[rows, choice]  # [n, walkers, 2, 3]
        xy = np.einsum("nwij,nwj->nwi", m[..., :2], xy) + m[..., 2]
        if step >= spec.burn_in:
            points[:, step - spec.burn_in] = xy
    return points.reshape(n, -1, 2)


def render(points: np.ndarray, size: int) -> np.ndarray:
    """Points [n, p, 2] -> uint8 images [n, size, size]: each image's points fitted to its frame with a
    margin, binned at 2x, area-downsampled to size (a pixel's grey is the share of its 4 sub-pixels hit)."""
    n = len(points)
    lo, hi = points.min(1, keepdims=True), points.max(1, keepdims=True)
    extent = (hi - lo).max(-1, keepdims=True)
    fine = 2 * size
    margin = 0.06
    unit = (points - (lo + hi) / 2) / np.maximum(extent, 1e-9) * (1 - 2 * margin) + 0.5
    cells = np.clip((unit * fine).astype(np.int64), 0, fine - 1)
    flat = (np.arange(n)[:, None] * fine + cells[..., 1]) * fine + cells[..., 0]
    hit = np.zeros(n * fine * fine, dtype=bool)
    hit[flat.ravel()] = True
    hit = hit.reshape(n, size, 2, size, 2).mean(axis=(2, 4))
    return np.round(hit * 255).astype(np.uint8)


def filling_rate(image: np.ndarray) -> float:
    """The share of an image's pixels that any point reached."""
    return float((image > 0).mean())


def accept(system: np.ndarray, rng: np.random.Generator, spec: FractalSpec) -> bool:
    """The filling-rate filter: the unperturbed system's attractor must cover ``spec.min_fill``."""
    image = render(chaos_game(system[None], rng, spec), spec.size)[0]
    return filling_rate(image) >= spec.min_fill


def instances(system: np.ndarray, n: int, rng: np.random.Generator, spec: FractalSpec) -> np.ndarray:
    """n images of one class: each map parameter scaled by its own factor in 1 ± variation, then a
    random horizontal flip and a random rotation by a multiple of 90 degrees."""
    scale = rng.uniform(1 - spec.variation, 1 + spec.variation, (n, *system.shape))
    images = render(chaos_game(system[None] * scale, rng, spec), spec.size)
    flips, turns = rng.random(n) < 0.5, rng.integers(0, 4, n)
    images = np.where(flips[:, None, None], images[:, :, ::-1], images)
    return np.stack([np.rot90(im, t) for im, t in zip(images, turns)])


def fractal_dataset(spec: FractalSpec, on_class=None) -> dict[str, np.ndarray]:
    """The source task as the other image sets store it: x_train/y_train/x_valid/y_valid (uint8 images,
    int64 labels 0..classes-1), plus each class's system and the number of systems the filter dropped.
    Deterministic by ``spec.seed``: class c draws from its own stream, so classes do not depend on
    each other's rejections."""
    n = spec.per_class + spec.valid_per_class
    x, systems, rejected = [], [], 0
    for c in range(spec.classes):
        rng = np.random.default_rng([spec.seed, c])
        for _attempt in range(1000):
            system = sample_system(rng, spec)
            if accept(system, rng, spec):
                break
            rejected += 1
        else:
            raise PipelineError(f"fractal class {c}: no system passed the filling-rate filter "
                                f"(min_fill {spec.min_fill}) in 1000 draws; lower transfer.fractal.min_fill")
        x.append(instances(system, n, rng, spec))
        systems.append(np.pad(system, ((0, spec.maps[1] - len(system)), (0, 0), (0, 0))))
        if on_class is not None:
            on_class(c)
    x = np.stack(x)  # [classes, n, size, size]
    y = np.repeat(np.arange(spec.classes), n).reshape(spec.classes, n)
    part = np.s_[:, :spec.per_class], np.s_[:, spec.per_class:]
    return {"x_train": x[part[0]].reshape(-1, spec.size, spec.size), "y_train": y[part[0]].ravel(),
            "x_valid": x[part[1]].reshape(-1, spec.size, spec.size), "y_valid": y[part[1]].ravel(),
            "systems": np.stack(systems), "rejected": np.array(rejected)}
