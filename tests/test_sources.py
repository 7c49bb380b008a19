"""Fetching: real HTTP from a local server, file:// and folder sources, checksums, atomicity."""

import http.server
import threading

import pytest

from conftest import checksums_of
from lesson5.data.sources import download, fetch_files
from lesson5.errors import ChecksumMismatch, SourceUnavailable

FILES = ["u.data", "u.item", "u.user"]


class Server:
    """A real HTTP server on 127.0.0.1 serving one payload; the first ``drops`` requests are cut short."""

    def __init__(self, payload: bytes, drops: int = 0):
        self.payload, self.drops, self.requests = payload, drops, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.payload)))
                self.end_headers()
                if outer.requests <= outer.drops:
                    self.wfile.write(outer.payload[: len(outer.payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(outer.payload)

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
