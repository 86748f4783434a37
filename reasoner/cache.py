"""A disk cache of the loaded knowledge base, so that a new process starts fast.

The key is a hash of every .lp file under the knowledge-base directory, of the
code that loads them (loader.py, guards.py, messages.py, vocab.py, cache.py, bottomup.py), and of the cptkb and
clingo versions: any edit to either makes a new entry. The cache
lives in ``$CPTKB_CACHE_DIR``, else ``$XDG_CACHE_HOME/cptkb``, else
``~/.cache/cptkb``; ``CPTKB_CACHE=off`` turns it off. A cache that cannot be
read or written is ignored: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import clingo

log = logging.getLogger("cptkb.cache")

FORMAT = 1


def cache_dir() -> Path | None:
    if os.environ.get("CPTKB_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    if os.environ.get("CPTKB_CACHE_DIR"):
        return Path(os.environ["CPTKB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cptkb"


def key_of(kb_dir: Path) -> str:
    from cptkb import __version__

    digest = hashlib.sha256()
    digest.update(f"format {FORMAT} cptkb {__version__} clingo {clingo.__version__}\n".encode())
    # the code that turns kb/ into the cached objects is part of the key too
    here = Path(__file__).resolve().parent
    for name in ("loader.py", "guards.py", "messages.py", "vocab.py", "cache.py", "bottomup.py"):
        digest.update((here / name).read_bytes() + b"\0")
    for path in sorted(p for p in kb_dir.rglob("*") if p.is_file() and p.suffix == ".lp"):
        digest.update(path.relative_to(kb_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def load(kb_dir: Path) -> Any | None:
    where = cache_dir()
    if where is None:
        return None
    path = where / f"kb-{key_of(kb_dir)}.pickle"
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 (a broken cache entry is rebuilt, never fatal)
        log.debug("ignoring unreadable cache %s: %s", path, exc)
        return None


def store(kb_dir: Path, value: Any) -> None:
    where = cache_dir()
    if where is None:
        return
    try:
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"kb-{key_of(kb_dir)}.pickle"
        with tempfile.NamedTemporaryFile(dir=where, delete=False) as tmp:
            pickle.dump(value, tmp, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp.name, path)
    except Exception as exc:  # noqa: BLE001 (a read-only home or a full disk must not stop evaluation)
        log.debug("could not write cache in %s: %s", where, exc)
