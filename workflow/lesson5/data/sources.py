"""Fetch a dataset's files from its configured source, verified and written atomically.

A source is one of:
  * an http(s) URL of a zip archive (MovieLens) or of a folder of files (``.../`` for MNIST),
  * a ``file://`` URL or a local path of a zip archive or of a folder of (possibly gzipped) files.
Anything else is refused before it is read: other URL schemes, and local paths (or files in a source
folder) that are not regular files or folders (a FIFO would hang the job, /dev/zero fill the disk).

Files are staged in a temporary folder next to the destination, checked against their sha256 and
only then moved into place, so a failed fetch never leaves a partial or unverified file behind.
Extraction stops at ``max_bytes`` per file (a zip bomb is refused, not expanded), and a download
that fails verification is deleted from the cache so that the next run fetches it again.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import socket
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

from lesson5.atomic import atomic_output
from lesson5.errors import ChecksumMismatch, SourceUnavailable

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def scheme_of(source: str) -> str:
    """The URL scheme, or "" for a plain path (a Windows-style "C:" drive counts as a path)."""
    scheme = urllib.parse.urlparse(str(source)).scheme
    return "" if len(scheme) <= 1 else scheme


KINDS = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def require_file_or_folder(path: Path, folder_ok: bool = True) -> os.stat_result:
    """stat ``path`` (following links) and refuse whatever is not a regular file (or a folder)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SourceUnavailable(f"{path}: no such file or folder") from None
    except OSError as error:
        raise SourceUnavailable(f"{path}: cannot be read ({error})") from None
    if stat.S_ISREG(info.st_mode) or (folder_ok and stat.S_ISDIR(info.st_mode)):
        return info
    kind = next((name for test, name in KINDS if test(info.st_mode)), "not a regular file")
    wanted = "a regular file (a zip archive) or a folder" if folder_ok else "a regular file"
    raise SourceUnavailable(f"{path}: is {kind}; a source must be {wanted}, or an http(s) or file:// URL")


def copy_capped(src, out, max_bytes: int, name: str, origin):
    """Copy a stream, refusing to write more than ``max_bytes`` (a zip or gzip bomb)."""
    written = 0
    while block := src.read(CHUNK):
        written += len(block)
        if written > max_bytes:
            raise SourceUnavailable(f"{origin}: {name} expands to more than {max_bytes / 2**20:.0f} MB "
                                    "(download.max_extract_mb); refused as a likely zip bomb")
        out.write(block)


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
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with atomic_output(dest, ".part") as tmp:
                with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    expected = resp.headers.get("Content-Length")
                    received, logged = 0, 0
                    # progress every 5% of a known size (else every 64 MiB), not a line per chunk
                    step = max(CHUNK, int(expected) // 20) if expected else 64 * CHUNK
                    while block := resp.read(CHUNK):
                        out.write(block)
                        received += len(block)
                        if received - logged >= step:
                            logged = received
                            log.info("downloading %s: %.1f MB", url, received / 1e6)
                if expected is not None and received != int(expected):
                    raise OSError(f"connection closed after {received} of {expected} bytes")
            return dest
        except (urllib.error.URLError, http.client.HTTPException, OSError, socket.timeout, ValueError) as error:
            last_error = error
            log.warning("download attempt %d/%d of %s failed: %s", attempt, retries, url, error)
            if attempt < retries:
                time.sleep(backoff * 2 ** (attempt - 1))
    raise SourceUnavailable(f"could not download {url} after {retries} attempts: {last_error}")


def _member_for(names: list[str], wanted: str) -> str | None:
    """The archive member whose base name is ``wanted`` (archives nest files in a folder)."""
    hits = [n for n in names if n.rsplit("/", 1)[-1] == wanted and not n.endswith("/")]
    return hits[0] if hits else None


def _stage_from_zip(archive: Path, wanted: list[str], stage: Path, max_bytes: int):
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for name in wanted:
                member = _member_for(names, name)
                if member is None:
                    raise SourceUnavailable(f"{archive}: the archive has no file named {name!r}")
                if zf.getinfo(member).file_size > max_bytes:
                    raise SourceUnavailable(f"{archive}: {name} declares {zf.getinfo(member).file_size} bytes, more "
                                            f"than {max_bytes / 2**20:.0f} MB (download.max_extract_mb)")
                with zf.open(member) as src, open(stage / name, "wb") as out:
                    copy_capped(src, out, max_bytes, name, archive)  # a declared size can lie
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
        raise SourceUnavailable(f"{archive}: not a readable zip archive ({error})") from error


def _stage_from_dir(folder: Path, wanted: list[str], stage: Path, max_bytes: int):
    for name in wanted:
        plain, gz = folder / name, folder / f"{name}.gz"
        if plain.exists() or plain.is_symlink():
            require_file_or_folder(plain, folder_ok=False)
            shutil.copyfile(plain, stage / name)
        elif gz.exists() or gz.is_symlink():
            require_file_or_folder(gz, folder_ok=False)
            try:
                with gzip.open(gz, "rb") as src, open(stage / name, "wb") as out:
                    copy_capped(src, out, max_bytes, name, gz)
            except (EOFError, zlib.error, OSError) as error:
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
    max_bytes: int = 4 << 30,
    unverified_why: str = "no checksum configured",
) -> dict[str, Path]:
    """Put each file named in ``checksums`` into ``dest``, verified against its sha256 (None:
    unchecked, with one warning per file saying ``unverified_why``).

    Returns the final paths. Raises SourceUnavailable or ChecksumMismatch and leaves ``dest``
    without any of the files on failure.
    """
    dest, cache = Path(dest), Path(cache)
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob(".staging-*"):  # left by a job that was killed mid-fetch
        shutil.rmtree(stale, ignore_errors=True)
    try:
        return _fetch_into(source, checksums, dest, cache, how_to_fix, max_bytes, unverified_why,
                           timeout=timeout, retries=retries)
    except BaseException:
        if created and not any(dest.iterdir()):
            dest.rmdir()
        raise


def _origin(source: str, wanted: list[str], cache: Path, **kw) -> Path:
    """The local file or folder to stage from: downloaded into ``cache`` for an http(s) source."""
    scheme = scheme_of(source)
    if scheme in ("http", "https"):
        if source.lower().endswith(".zip"):
            return download(source, cache / source.rsplit("/", 1)[-1], **kw)
        return _download_files(source if source.endswith("/") else source + "/", wanted, cache, **kw)
    if scheme not in ("", "file"):
        raise SourceUnavailable(f"{source}: {scheme}:// sources are not supported; give an http(s) or file:// "
                                "URL, a local folder or a local zip archive")
    origin = local_path(source)
    require_file_or_folder(origin)
    return origin


def _fetch_into(source, checksums, dest: Path, cache: Path, how_to_fix: str, max_bytes: int, unverified_why: str,
                **kw) -> dict[str, Path]:
    wanted = list(checksums)
    try:
        origin = _origin(source, wanted, cache, **kw)
    except SourceUnavailable as error:
        raise SourceUnavailable(f"{error}\n{how_to_fix}") from None
    downloaded = scheme_of(source) in ("http", "https")

    def drop_cache(reason: str):
        """A download that fails verification must not be served again from the cache."""
        if origin.is_dir():
            shutil.rmtree(origin, ignore_errors=True)
        else:
            origin.unlink(missing_ok=True)
        return f"{reason}\nThe cached download {origin} was deleted; the next run downloads it again."

    with tempfile.TemporaryDirectory(dir=dest, prefix=".staging-") as tmp:
        stage = Path(tmp)
        try:
            if origin.is_dir():
                _stage_from_dir(origin, wanted, stage, max_bytes)
            else:
                _stage_from_zip(origin, wanted, stage, max_bytes)
        except SourceUnavailable as error:
            raise SourceUnavailable(drop_cache(str(error)) if downloaded else str(error)) from None
        for name, expected in checksums.items():
            actual = sha256_of(stage / name)
            if expected is not None and actual != expected.lower():
                message = f"{name} from {source}: sha256 mismatch\n  expected {expected}\n  actual   {actual}"
                raise ChecksumMismatch(drop_cache(message) if downloaded else message)
            if expected is None:
                log.warning("%s: not verified (%s); sha256=%s", name, unverified_why, actual)
            else:
                log.info("verified %s sha256=%s", name, actual)
        finals = {}
        for name in wanted:
            os.replace(stage / name, dest / name)
            finals[name] = dest / name
    return finals
