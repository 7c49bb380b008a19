"""Fetching: real HTTP from a local server, file:// and folder sources, checksums, atomicity."""

import http.server
import threading

import pytest

from conftest import checksums_of
from lesson5.data.sources import download, fetch_files
from lesson5.errors import ChecksumMismatch, SourceUnavailable

FILES = ["u.data", "u.item", "u.user"]


class Server:
    """A real HTTP server on 127.0.0.1 serving one payload (or {file name: payload}); the first
    ``drops`` requests are cut short."""

    def __init__(self, payload, drops: int = 0):
        self.payload, self.drops, self.requests = payload, drops, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                body = outer.payload if isinstance(outer.payload, bytes) else outer.payload.get(self.path.rsplit("/", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.requests <= outer.drops:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/ml-100k.zip"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_over_http_verifies_and_extracts(tiny_ml, tiny_zip, tmp_path):
    with Server(tiny_zip.read_bytes()) as server:
        out = fetch_files(server.url, checksums_of(tiny_ml, FILES), tmp_path / "dest",
                          cache=tmp_path / "cache", how_to_fix="fix", retries=2)
    assert sorted(p.name for p in out.values()) == sorted(FILES)
    assert (tmp_path / "dest" / "u.item").read_bytes() == (tiny_ml / "u.item").read_bytes()


def test_dropped_connection_is_retried(tiny_ml, tiny_zip, tmp_path):
    with Server(tiny_zip.read_bytes(), drops=1) as server:
        fetch_files(server.url, checksums_of(tiny_ml, FILES), tmp_path / "dest", cache=tmp_path / "cache",
                    how_to_fix="fix", retries=3, timeout=5)
        assert server.requests == 2
    assert (tmp_path / "dest" / "u.data").read_bytes() == (tiny_ml / "u.data").read_bytes()


def test_connection_dropped_every_time_fails_cleanly_without_half_file(tiny_zip, tmp_path):
    with Server(tiny_zip.read_bytes(), drops=99) as server:
        with pytest.raises(SourceUnavailable, match="after 2 attempts.*closed after"):
            download(server.url, tmp_path / "cache" / "ml-100k.zip", retries=2, backoff=0.01, timeout=5)
        assert server.requests == 2
    assert list((tmp_path / "cache").iterdir()) == []


def test_offline_gives_one_clear_message(tmp_path):
    with pytest.raises(SourceUnavailable) as info:
        fetch_files("http://127.0.0.1:9/ml-100k.zip", {"u.data": None}, tmp_path / "dest",
                    cache=tmp_path / "cache", how_to_fix="To use a local copy, set movielens.source",
                    retries=2, timeout=2)
    message = str(info.value)
    assert "could not download http://127.0.0.1:9/ml-100k.zip" in message
    assert "To use a local copy, set movielens.source" in message
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("kind", ["file_url", "zip_path", "folder"])
def test_local_sources(kind, tiny_ml, tiny_zip, tmp_path):
    source = {"file_url": tiny_zip.as_uri(), "zip_path": str(tiny_zip), "folder": str(tiny_ml)}[kind]
    fetch_files(source, checksums_of(tiny_ml, FILES), tmp_path / "dest", cache=tmp_path / "c", how_to_fix="")
    assert (tmp_path / "dest" / "u.user").read_bytes() == (tiny_ml / "u.user").read_bytes()


def test_gzipped_files_in_a_folder_are_decompressed(tmp_path):
    import gzip

    src = tmp_path / "src"
    src.mkdir()
    (src / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"payload"))
    out = fetch_files(str(src), {"train-labels-idx1-ubyte": None}, tmp_path / "d", cache=tmp_path / "c",
                      how_to_fix="")
    assert out["train-labels-idx1-ubyte"].read_bytes() == b"payload"


def test_checksum_mismatch_fails_and_leaves_nothing(tiny_ml, tmp_path):
    sums = checksums_of(tiny_ml, FILES)
    sums["u.item"] = "0" * 64
    dest = tmp_path / "dest"
    with pytest.raises(ChecksumMismatch) as info:
        fetch_files(str(tiny_ml), sums, dest, cache=tmp_path / "c", how_to_fix="")
    assert "expected " + "0" * 64 in str(info.value)
    assert "actual   " + checksums_of(tiny_ml, ["u.item"])["u.item"] in str(info.value)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_missing_file_in_source_is_named(tiny_ml, tmp_path):
    (tiny_ml / "u.user").unlink()
    with pytest.raises(SourceUnavailable, match="u.user"):
        fetch_files(str(tiny_ml), {n: None for n in FILES}, tmp_path / "d", cache=tmp_path / "c", how_to_fix="")


def test_missing_source_path(tmp_path):
    with pytest.raises(SourceUnavailable, match="no such file or folder"):
        fetch_files(str(tmp_path / "nope"), {"u.data": None}, tmp_path / "d", cache=tmp_path / "c", how_to_fix="")


@pytest.fixture
def no_hang():
    """Fail instead of hanging: a source that blocks (a FIFO) must be refused before it is opened."""
    import signal

    def fail(*_):
        raise TimeoutError("the fetch blocked: it opened a source it should have refused")

    signal.signal(signal.SIGALRM, fail)
    signal.alarm(10)
    yield
    signal.alarm(0)


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "fifo_in_folder"])
def test_sources_that_are_not_files_or_folders_are_refused_unread(kind, tmp_path, no_hang):
    import os
    import socket

    if kind == "fifo":
        os.mkfifo(tmp_path / "pipe")
        source, what = tmp_path / "pipe", "named pipe"
    elif kind == "device":
        source, what = "/dev/zero", "character device"
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(tmp_path / "sock"))
        source, what = tmp_path / "sock", "socket"
    else:
        (tmp_path / "folder").mkdir()
        os.mkfifo(tmp_path / "folder" / "u.data")
        source, what = tmp_path / "folder", "named pipe"
    with pytest.raises(SourceUnavailable, match=what) as info:
        fetch_files(str(source), {"u.data": None}, tmp_path / "d", cache=tmp_path / "c", how_to_fix="")
    assert "regular file" in str(info.value)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("source", ["ftp://example.org/ml-100k.zip", "s3://bucket/ml-100k.zip"])
def test_unsupported_url_schemes_are_refused(source, tmp_path):
    with pytest.raises(SourceUnavailable, match="sources are not supported"):
        fetch_files(source, {"u.data": None}, tmp_path / "d", cache=tmp_path / "c", how_to_fix="")


def test_zip_and_gzip_bombs_stop_at_the_cap(tmp_path):
    import gzip
    import zipfile

    zeros = bytes(8 << 20)  # 8 MB of zeros: a few KB compressed
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/u.data", zeros)
    assert (tmp_path / "bomb.zip").stat().st_size < 100_000
    with pytest.raises(SourceUnavailable, match="more than 1 MB"):
        fetch_files(str(tmp_path / "bomb.zip"), {"u.data": None}, tmp_path / "d", cache=tmp_path / "c",
                    how_to_fix="", max_bytes=1 << 20)
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "u.data.gz").write_bytes(gzip.compress(zeros))
    with pytest.raises(SourceUnavailable, match="zip bomb"):
        fetch_files(str(tmp_path / "gz"), {"u.data": None}, tmp_path / "d", cache=tmp_path / "c",
                    how_to_fix="", max_bytes=1 << 20)
    assert not (tmp_path / "d").exists()


def test_a_download_that_fails_verification_is_dropped_from_the_cache(tmp_path):
    import gzip

    names = {"train-labels-idx1-ubyte": None}
    cache = tmp_path / "cache"
    with Server({"train-labels-idx1-ubyte.gz": b"not gzip at all"}) as server:
        url = server.url.rsplit("/", 1)[0] + "/"
        with pytest.raises(SourceUnavailable, match="was deleted; the next run downloads it again"):
            fetch_files(url, names, tmp_path / "d", cache=cache, how_to_fix="", retries=1)
        assert not cache.exists() or not any(cache.iterdir())
        server.payload = {"train-labels-idx1-ubyte.gz": gzip.compress(b"labels")}
        out = fetch_files(url, names, tmp_path / "d", cache=cache, how_to_fix="", retries=1)
        assert server.requests == 2  # the second run asked again instead of reusing the bad copy
    assert out["train-labels-idx1-ubyte"].read_bytes() == b"labels"


def test_stale_staging_folders_are_removed_and_unverified_files_warned_once(tiny_ml, tmp_path, caplog):
    stale = tmp_path / "d" / ".staging-killed"
    stale.mkdir(parents=True)
    (stale / "u.data").write_text("half")
    with caplog.at_level("WARNING"):
        fetch_files(str(tiny_ml), {n: None for n in FILES}, tmp_path / "d", cache=tmp_path / "c", how_to_fix="",
                    unverified_why="verify is false")
    assert not stale.exists()
    warnings = [r.getMessage() for r in caplog.records if "not verified" in r.getMessage()]
    assert len(warnings) == len(FILES) and all("verify is false" in w for w in warnings)
