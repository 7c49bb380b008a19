"""Fetch a dataset's files from its configured source, verified and written atomically.

A source is one of:
  * an http(s) URL of a zip archive (MovieLens) or of a folder of files (``.../`` for MNIST),
  * a ``file://`` URL or a local path of a zip archive or of a folder of (possibly gzipped) files.

Files are staged in a temporary folder next to the destination, checked against their sha256 and
only then moved into place, so a failed fetch never leaves a partial or unverified file behind.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from lesson5.errors import ChecksumMismatch, SourceUnavailable

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(str(source)).scheme in ("http", "https")


def local_path(source: str) -> Path:
    """The local path a ``file://`` URL or plain path names."""
    parsed = urllib.parse.urlparse(str(source))
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    return Path(source)


def download(url: str, dest: Path, *, timeout: float = 60, retries: int = 3, backoff: float = 1.0):
    """Download ``url`` to ``dest`` atomically, retrying a bounded number of times.

    A response shorter than its Content-Length (a dropped connection) counts as a failed attempt;
    the half file is deleted, never renamed into place.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                expected = resp.headers.get("Content-Length")
                received = 0
                while block := resp.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    log.info("downloading %s: %.1f MB", url, received / 1e6)
            if expected is not None and received != int(expected):
                raise OSError(f"connection closed after {received} of {expected} bytes")
            os.replace(tmp_name, dest)
            return dest
        except (urllib.error.URLError, http.client.HTTPException, OSError, socket.timeout, ValueError) as error:
            last_error = error
            log.warning("download attempt %d/%d of %s failed: %s", attempt, retries, url, error)
            if attempt < retries:
                time.sleep(backoff * 2 ** (attempt - 1))
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    raise SourceUnavailable(f"could not download {url} after {retries} attempts: {last_error}")


def _member_for(names: list[str], wanted: str) -> str | None:
    """The archive member whose base name is ``wanted`` (archives nest files in a folder)."""
    hits = [n for n in names if n.rsplit("/", 1)[-1] == wanted and not n.endswith("/")]
    return hits[0] if hits else None


def _stage_from_zip(archive: Path, wanted: list[str], stage: Path):
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for name in wanted:
                member = _member_for(names, name)
                if member is None:
                    raise SourceUnavailable(f"{archive}: the archive has no file named {name!r}")
                with zf.open(member) as src, open(stage / name, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    except (zipfile.BadZipFile, EOFError) as error:
        raise SourceUnavailable(f"{archive}: not a readable zip archive ({error})") from error


def _stage_from_dir(folder: Path, wanted: list[str], stage: Path):
    for name in wanted:
        plain, gz = folder / name, folder / f"{name}.gz"
        if plain.is_file():
            shutil.copyfile(plain, stage / name)
        elif gz.is_file():
            try:
                with gzip.open(gz, "rb") as src, open(stage / name, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except (OSError, EOFError) as error:
                raise SourceUnavailable(f"{gz}: corrupt gzip file ({error})") from error
        else:
            raise SourceUnavailable(f"{folder}: neither {name} nor {name}.gz is there")


def _download_files(base_url: str, wanted: list[str], cache: Path, **kw) -> Path:
    """Download each file of a folder-style source (``name.gz`` on the server) into ``cache``."""
    for name in wanted:
        target = cache / f"{name}.gz"
        if not target.exists():
            download(urllib.parse.urljoin(base_url, f"{name}.gz"), target, **kw)
    return cache


def fetch_files(
    source: str,
    checksums: dict[str, str | None],
    dest: str | os.PathLike,
    *,
    cache: str | os.PathLike,
    how_to_fix: str,
    timeout: float = 60,
    retries: int = 3,
) -> dict[str, Path]:
    """Put each file named in ``checksums`` into ``dest``, verified against its sha256 (None: unchecked).

    Returns the final paths. Raises SourceUnavailable or ChecksumMismatch and leaves ``dest``
    without any of the files on failure.
    """
    dest, cache = Path(dest), Path(cache)
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        return _fetch_into(source, checksums, dest, cache, how_to_fix, timeout=timeout, retries=retries)
    except BaseException:
        if created and not any(dest.iterdir()):
            dest.rmdir()
        raise


def _fetch_into(source, checksums, dest: Path, cache: Path, how_to_fix: str, **kw) -> dict[str, Path]:
    wanted = list(checksums)
    try:
        if is_url(source):
            if source.lower().endswith(".zip"):
                origin = download(source, cache / source.rsplit("/", 1)[-1], **kw)
            else:
                origin = _download_files(source if source.endswith("/") else source + "/", wanted, cache, **kw)
        else:
            origin = local_path(source)
            if not origin.exists():
                raise SourceUnavailable(f"{origin}: no such file or folder")
    except SourceUnavailable as error:
        raise SourceUnavailable(f"{error}\n{how_to_fix}") from None

    with tempfile.TemporaryDirectory(dir=dest, prefix=".staging-") as tmp:
        stage = Path(tmp)
        if origin.is_dir():
            _stage_from_dir(origin, wanted, stage)
        else:
            _stage_from_zip(origin, wanted, stage)
        for name, expected in checksums.items():
            actual = sha256_of(stage / name)
            if expected is not None and actual != expected.lower():
                if is_url(source) and origin.is_file():
                    origin.unlink()  # a corrupt download must not be served again from the cache
                raise ChecksumMismatch(
                    f"{name} from {source}: sha256 mismatch\n  expected {expected}\n  actual   {actual}"
                )
            if expected is None:
                log.warning("%s: no checksum configured, not verified (sha256=%s)", name, actual)
            else:
                log.info("verified %s sha256=%s", name, actual)
        finals = {}
        for name in wanted:
            os.replace(stage / name, dest / name)
            finals[name] = dest / name
    return finals
