"""Reading (Fashion-)MNIST IDX files with the checks a corrupt or truncated file needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lesson5.errors import DataValidationError

IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | Path, magic: int, n_classes: int = 10) -> np.ndarray:
    """A uint8 array from an IDX file: images [n, rows, cols] (magic 2051) or labels [n] (2049)."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 8:
        raise DataValidationError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataValidationError(f"{path}: magic number {found:#010x}, expected {magic:#010x}")
    ndim = found & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataValidationError(
            f"{path}: {len(raw)} bytes, but the header's dimensions {dims} need {expected} (truncated or corrupt)")
    if ndim == 3 and (dims[1], dims[2]) != (28, 28):
        raise DataValidationError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and data.size and data.max() >= n_classes:
        bad = int(np.flatnonzero(data >= n_classes)[0])
        raise DataValidationError(f"{path}: label {data[bad]} at index {bad} is outside 0..{n_classes - 1}")
    return data


def write_idx(path: str | Path, array: np.ndarray):
    """Write a uint8 array as IDX (used to make small test files)."""
    magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def load_idx_dataset(folder: str | Path) -> dict[str, np.ndarray]:
    folder = Path(folder)
    out = {}
    for key, name in IDX_FILES.items():
        out[key] = read_idx(folder / name, IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC)
    for part in ("train", "test"):
        n_img, n_lab = len(out[f"{part}_images"]), len(out[f"{part}_labels"])
        if n_img != n_lab:
            raise DataValidationError(f"{folder}: {n_img} {part} images but {n_lab} labels")
    return out


def split_train_valid(data: dict[str, np.ndarray], n_valid: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded split of the training images into train and valid (the lesson: 50k / 10k)."""
    n = len(data["train_labels"])
    if not 0 < n_valid < n:
        raise DataValidationError(f"n_valid={n_valid} must be between 0 and the {n} training images")
    order = np.random.default_rng(seed).permutation(n)
    valid, train = order[:n_valid], order[n_valid:]
    return {"x_train": data["train_images"][train], "y_train": data["train_labels"][train],
            "x_valid": data["train_images"][valid], "y_valid": data["train_labels"][valid],
            "x_test": data["test_images"], "y_test": data["test_labels"]}


def write_fake_idx_dataset(folder: str | Path, n_train=600, n_test=100, seed=0, gz=True) -> Path:
    """Small learnable IDX files (class = which image band is bright) for tests and the tiny config."""
    import gzip

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for k, label in enumerate(labels):
            images[k, 2 * label + 4: 2 * label + 7, :] += 150
        for suffix, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            target = folder / f"{part}-{suffix}"
            write_idx(target, arr)
            if gz:
                target.with_name(target.name + ".gz").write_bytes(gzip.compress(target.read_bytes(), mtime=0))
                target.unlink()
    return folder


if __name__ == "__main__":
    import sys

    print(write_fake_idx_dataset(sys.argv[1]))
