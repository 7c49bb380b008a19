"""Small MovieLens-shaped data for tests and the tiny config (never presented as results).

Ratings come from a planted low-rank model, so a collaborative-filtering model has something real
to learn; titles are latin-1 encoded with accents, as in the real u.item.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lesson5.data.movielens import ML100K_GENRES

ACCENTED = ["Misérables, Les (1995)", "Cité des enfants perdus, La (1995)", "Belle de jour (1967)",
            "Ménage (1986)", "Amélie (2001)", "Señorita Extraviada (2001)"]


def write_ml100k_like(folder: str | Path, n_users=30, n_items=40, n_ratings=600, seed=0,
                      n_folds=5) -> Path:
    """Write u.data, u.item, u.user and u1..u<n_folds> .base/.test into ``folder``; return it."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    users_f, items_f = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    item_bias = rng.normal(scale=0.7, size=n_items)
    pairs = rng.choice(n_users * n_items, size=min(n_ratings, n_users * n_items), replace=False)
    users, items = pairs // n_items, pairs % n_items
    score = 3.3 + (users_f[users] * items_f[items]).sum(1) * 0.6 + item_bias[items]
    score += rng.normal(scale=0.4, size=len(score))
    ratings = np.clip(np.rint(score), 1, 5).astype(int)
    stamps = 874724710 + rng.integers(0, 10**7, size=len(score))
    rows = [f"{u + 1}\t{i + 1}\t{r}\t{t}" for u, i, r, t in zip(users, items, ratings, stamps)]
    (folder / "u.data").write_text("\n".join(rows) + "\n")

    lines = []
    for i in range(n_items):
        title = ACCENTED[i] if i < len(ACCENTED) else f"Movie {i + 1} ({1950 + i % 50})"
        flags = ["0"] * len(ML100K_GENRES)
        flags[rng.integers(len(flags))] = "1"
        lines.append("|".join([str(i + 1), title, "01-Jan-1995", "", "http://example.invalid/", *flags]))
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    (folder / "u.user").write_text(
        "\n".join(f"{u + 1}|{20 + u % 40}|{'MF'[u % 2]}|other|00000" for u in range(n_users)) + "\n"
    )

    fold_of = rng.permutation(len(rows)) % n_folds
    for k in range(n_folds):
        for part, mask in (("base", fold_of != k), ("test", fold_of == k)):
            chosen = [rows[j] for j in np.flatnonzero(mask)]
            (folder / f"u{k + 1}.{part}").write_text("\n".join(chosen) + "\n")
    return folder


def zip_folder(folder: str | Path, archive: str | Path, prefix: str = "ml-100k") -> Path:
    """Zip a folder's files under ``prefix/`` the way GroupLens archives are laid out."""
    archive = Path(archive)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(folder).iterdir()):
            zf.write(path, f"{prefix}/{path.name}")
    return archive


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a small ml-100k-shaped dataset (test data).")
    parser.add_argument("folder")
    parser.add_argument("--ratings", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_ml100k_like(args.folder, n_ratings=args.ratings, seed=args.seed))
