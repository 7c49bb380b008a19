"""Files that appear whole or not at all: written beside their destination, then renamed into place."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(dest: str | os.PathLike, suffix: str = ".tmp"):
    """Yield a temporary path beside ``dest``; rename it to ``dest`` when the block ends without an
    exception, delete it otherwise (a kill leaves at most a hidden temporary file, never a half dest)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
