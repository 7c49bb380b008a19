"""MovieLens-shaped data written by the project itself: small releases for tests and the tiny config,
and full-size ones (25 million ratings) to measure how the pipeline scales. Never presented as results.

Ratings come from a planted model, so a collaborative-filtering model has something real to learn and
a known floor to reach: rating = round(mu + b_user + b_item + p_user . q_item + noise) to the release's
scale, noise ~ N(0, sigma). Users and items have heavy-tailed activity as in MovieLens (every user has
at least 20 ratings; a few items have most of them). Files use the release's own format: separator,
header, encoding (latin-1 titles with accents for ml-100k), quoting. ``synthetic_truth.json`` beside them
gives sigma and the oracle RMSE (the planted model's own error on the written ratings).
"""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from lesson5.data.movielens import ML100K_GENRES, Release, get_release

ACCENTED = ["Misérables, Les (1995)", "Cité des enfants perdus, La (1995)", "Belle de jour (1967)",
            "Ménage (1986)", "Amélie (2001)", "Señorita Extraviada (2001)"]
GENRES = "Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy Horror Romance Sci-Fi".split()
TRUTH = "synthetic_truth.json"


def activity_counts(rng, n_users: int, n_ratings: int, minimum: int = 20, shape: float = 1.2) -> np.ndarray:
    """Ratings per user: ``minimum`` each, the rest spread by a heavy-tailed (lognormal) appetite."""
    extra = n_ratings - minimum * n_users
    if extra < 0:
        minimum, extra = n_ratings // n_users, n_ratings % n_users
    weights = rng.lognormal(0, shape, n_users)
    return minimum + rng.multinomial(extra, weights / weights.sum())


def draw_pairs(rng, n_users: int, n_items: int, n_ratings: int, zipf: float = 1.0):
    """(users, items) of ``n_ratings`` distinct pairs: users by heavy-tailed activity, items by a
    Zipf-like popularity; duplicates are redrawn until none is left."""
    counts = activity_counts(rng, n_users, n_ratings)
    cap = max(1, n_items // 2)  # nobody rates more than half the catalogue: duplicates stay resolvable
    while (counts > cap).any() and (counts < cap).any():
        excess = int((counts - cap).clip(min=0).sum())
        counts = np.minimum(counts, cap)
        room = cap - counts
        counts += rng.multinomial(excess, room / room.sum()).clip(max=room)
    users = np.repeat(np.arange(n_users), np.minimum(counts, cap))
    popularity = 1.0 / np.arange(1, n_items + 1) ** zipf
    popularity = rng.permutation(popularity / popularity.sum())  # popular items anywhere in the id range
    cdf = np.cumsum(popularity)
    items = np.minimum(np.searchsorted(cdf, rng.random(len(users))), n_items - 1)
    for _ in range(200):
        key = users.astype(np.int64) * n_items + items
        order = np.argsort(key, kind="stable")
        dup = np.zeros(len(key), bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not dup.any():
            break
        items[dup] = rng.integers(0, n_items, int(dup.sum()))  # a uniform redraw spreads them out
    else:
        raise RuntimeError("could not draw distinct user-item pairs; lower n_ratings")
    return users, items


def planted_ratings(n_users: int, n_items: int, n_ratings: int, values, *, rank: int = 8, sigma: float = 0.6,
                    seed: int = 0, period: tuple[int, int] = (789_609_600, 1_574_294_400)):
    """(ratings frame with 1-based ids, truth dict). ``values`` are the release's allowed ratings,
    ``period`` the first and last timestamp (unix seconds; default ml-25m's 1995-01-09 .. 2019-11-21)."""
    rng = np.random.default_rng(seed)
    users, items = draw_pairs(rng, n_users, n_items, n_ratings)
    b_user, b_item = rng.normal(0, 0.35, n_users), rng.normal(0, 0.45, n_items)
    p, q = rng.normal(0, 0.5 / rank ** 0.25, (n_users, rank)), rng.normal(0, 0.5 / rank ** 0.25, (n_items, rank))
    mean = 3.5 + b_user[users] + b_item[items]
    for start in range(0, len(users), 1 << 22):  # the dot products in chunks: bounded memory
        part = slice(start, start + (1 << 22))
        mean[part] += np.einsum("ij,ij->i", p[users[part]], q[items[part]])
    noisy = mean + rng.normal(0, sigma, len(mean))
    values = np.asarray(values, dtype=float)
    step = values[1] - values[0]
    ratings = np.clip(np.round((noisy - values[0]) / step) * step + values[0], values[0], values[-1])
    stamps = rng.integers(period[0], period[1], len(users))
    frame = pd.DataFrame({"user": users + 1, "item": items + 1, "rating": ratings, "timestamp": stamps})
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    oracle = float(np.sqrt(np.mean((ratings - np.clip(mean, values[0], values[-1])) ** 2)))
    truth = {"sigma": sigma, "rank": rank, "oracle_rmse": oracle, "n_ratings": len(frame), "n_users": n_users,
             "n_items": n_items, "seed": seed}
    return frame, truth


def title(i: int, latin1: bool) -> str:
    if i < len(ACCENTED):
        return ACCENTED[i]
    if not latin1 and i % 997 == 7:
        return f"東京物語 {i} ({1950 + i % 70})"  # non-Latin titles in UTF-8 releases
    return f"Movie {i + 1}{', The' if i % 5 == 0 else ''} ({1930 + i % 90})"


def write_ratings(frame: pd.DataFrame, path: Path, release: Release):
    fmt = release.ratings
    if release.integer_ratings:
        frame = frame.assign(rating=frame.rating.astype(np.int64))
    if fmt.sep == "," and len(frame) > 200_000:
        write_csv_fast(frame, path, fmt.header)
        return
    rating = frame.rating.map("{:.1f}".format) if not release.integer_ratings else frame.rating.astype(str)
    lines = (frame.user.astype(str) + fmt.sep + frame.item.astype(str) + fmt.sep + rating + fmt.sep
             + frame.timestamp.astype(str))
    text = (fmt.sep.join(fmt.header) + "\n" if fmt.header else "") + "\n".join(lines) + "\n"
    path.write_text(text, encoding=fmt.encoding)


def write_csv_fast(frame: pd.DataFrame, path: Path, header):
    """pyarrow's C++ CSV writer; the ratings as their "4.0" / "3.5" text, as MovieLens writes them."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    labels = np.array([f"{v:.1f}" for v in np.arange(0.5, 5.01, 0.5)])
    codes = np.round(frame.rating.to_numpy() * 2).astype(np.int32) - 1
    table = pa.table({header[0]: frame.user.to_numpy(), header[1]: frame.item.to_numpy(),
                      header[2]: pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels)),
                      header[3]: frame.timestamp.to_numpy()})
    with open(path, "wb") as out:  # the header as MovieLens writes it (pyarrow would quote its names)
        out.write((",".join(header) + "\n").encode())
        pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none",
                                                                     batch_size=1 << 20))


def write_items(path: Path, release: Release, n_items: int, rng):
    fmt, latin1 = release.items, release.items.encoding.lower().startswith("latin")
    lines = [fmt.sep.join(fmt.header)] if fmt.header else []
    for i in range(n_items):
        name = title(i, latin1)
        if release.genre_flags:
            flags = ["0"] * len(ML100K_GENRES)
            flags[rng.integers(len(flags))] = "1"
            fields = [str(i + 1), name, "01-Jan-1995", "", "http://example.invalid/", *flags]
        else:
            genres = "|".join(sorted(set(rng.choice(GENRES, rng.integers(1, 4)))))
            fields = [str(i + 1), f'"{name}"' if fmt.quoted and "," in name else name, genres]
        lines.append(fmt.sep.join(fields))
    path.write_bytes(("\n".join(lines) + "\n").encode(fmt.encoding))


def write_users(path: Path, release: Release, n_users: int):
    fmt = release.users
    rows = {"u.user": lambda u: [str(u + 1), str(20 + u % 40), "MF"[u % 2], "other", "00000"],
            "users.dat": lambda u: [str(u + 1), "MF"[u % 2], str(18 + u % 40), str(u % 21), "00000"]}[fmt.file]
    path.write_text("\n".join(fmt.sep.join(rows(u)) for u in range(n_users)) + "\n", encoding=fmt.encoding)


def write_release(folder, release: str | Release = "ml-100k", n_users=30, n_items=40, n_ratings=600, seed=0,
                  sigma=0.6, rank=8) -> Path:
    """Write ``release``'s files with planted ratings into ``folder``; return it."""
    release = get_release(release) if isinstance(release, str) else release
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start, end = release.timestamps
    end = end or int(datetime(2018, 9, 24, tzinfo=timezone.utc).timestamp())  # an open-ended release
    frame, truth = planted_ratings(n_users, n_items, n_ratings, release.ratings_values, rank=rank, sigma=sigma,
                                   seed=seed, period=(start + 20 * 86_400, end - 86_400))
    rng = np.random.default_rng(seed + 1)
    write_ratings(frame, folder / release.ratings.file, release)
    write_items(folder / release.items.file, release, n_items, rng)
    if release.users:
        write_users(folder / release.users.file, release, n_users)
    fold_of = rng.permutation(len(frame)) % max(len(release.folds), 1)
    for k, fold in enumerate(release.folds):
        for part, mask in (("base", fold_of != k), ("test", fold_of == k)):
            write_ratings(frame[mask], folder / f"{fold}.{part}", release)
    (folder / TRUTH).write_text(json.dumps({**truth, "release": release.name}, indent=1))
    return folder


def write_ml100k_like(folder, n_users=30, n_items=40, n_ratings=600, seed=0) -> Path:
    """The tests' and tiny config's small ml-100k: u.data, u.item (latin-1), u.user, u1..u5."""
    return write_release(folder, "ml-100k", n_users, n_items, n_ratings, seed)


def zip_folder(folder: str | Path, archive: str | Path, prefix: str = "ml-100k") -> Path:
    """Zip a folder's files under ``prefix/`` the way GroupLens archives are laid out."""
    archive = Path(archive)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(folder).iterdir()):
            zf.write(path, f"{prefix}/{path.name}")
    return archive


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a MovieLens-shaped release with planted ratings.")
    parser.add_argument("folder")
    parser.add_argument("--release", default="ml-100k")
    parser.add_argument("--ratings", type=int, default=600)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_release(args.folder, args.release, args.users, args.items, args.ratings, args.seed, args.sigma))
