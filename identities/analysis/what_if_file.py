"""The estate a what-if starts from, kept in a file per analysis run, so that a new process
(``manage.py what_if``) reads it back instead of loading and parsing the whole estate again.

A file holds the parsed estate (`estate.load_estate`) and the run's reach graph
(`incremental.Stored`), pickled, under ``DATA_DIR/what-if/``. Its name is made
of the database's and the run's identity: the run's id and start time, a digest of its stored
state and of the source files that decide what is pickled (a change of the code makes another
name). A file is only read for the run it was written for, while that run is the current
analysis and no sync or import finished since it started (`what_if._prepared` asks that
before), the same rule as the copy a process keeps in memory. Writing a file removes the
database's files of other runs.

The contents are signed with a key derived from ``SECRET_KEY`` (keyed BLAKE2b) and checked
before they are unpickled: a file that is truncated, changed or written under another key is
ignored (and the estate loaded from the database).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import sys
from functools import cache
from pathlib import Path

import networkx as nx
from django.conf import settings
from django.db import connection

from identities.analysis.estate import Estate
from identities.analysis.reach import ReachGraph
from identities.models import AnalysisRun

logger = logging.getLogger(__name__)

_MAGIC = b"iamviz-what-if-estate-1\n"
_MAC_SIZE = 64
# The modules whose classes are pickled or whose code decides what the file holds.
_SOURCES = (
    "identities/analysis/estate.py",
    "identities/analysis/reach.py",
    "identities/analysis/what_if_file.py",
    "identities/policy/*.py",
)

Kept = tuple[Estate, ReachGraph | None]


def directory() -> Path:
    return Path(settings.DATA_DIR) / "what-if"


@cache
def _code_digest() -> str:
    found = hashlib.blake2b(f"{sys.version} networkx {nx.__version__}".encode(), digest_size=16)
    root = Path(__file__).resolve().parents[2]
    for path in sorted(path for pattern in _SOURCES for path in root.glob(pattern)):
        found.update(str(path.relative_to(root)).encode())
        found.update(path.read_bytes())
    return found.hexdigest()


def _database() -> str:
    """The database's identity (a data directory may serve several)."""
    database = connection.settings_dict
    parts = (connection.vendor, *(str(database.get(key)) for key in ("HOST", "PORT", "NAME")))
    text = ":".join(parts)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def file_name(run: AnalysisRun, blob: bytes) -> str:
    """The name of the file of ``run`` whose stored state is ``blob``."""
    found = hashlib.blake2b(digest_size=16)
    for part in (str(run.pk), run.started_at.isoformat(), _code_digest()):
        found.update(part.encode() + b"\0")
    found.update(blob)
    return f"{_database()}-{found.hexdigest()}.pickle"


def remove_all() -> int:
    """Remove the database's files (every run's); how many there were."""
    found = list(directory().glob(f"{_database()}-*.pickle"))
    for path in found:
        path.unlink(missing_ok=True)
    return len(found)


def _mac(payload: bytes | memoryview) -> bytes:
    key = hashlib.blake2b(f"what-if estate:{settings.SECRET_KEY}".encode()).digest()
    return hashlib.blake2b(payload, key=key, digest_size=_MAC_SIZE).digest()


def read(name: str) -> Kept | None:
    """What the file ``name`` keeps, or None when there is none or it does not check."""
    path = directory() / name
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + _MAC_SIZE
    payload = memoryview(data)[head:]
    if not data.startswith(_MAGIC) or not hmac.compare_digest(
        data[len(_MAGIC) : head], _mac(payload)
    ):
        logger.warning("%s: not a what-if estate file of this installation; ignored", path)
        return None
    try:
        kept = pickle.loads(payload)
    except Exception:  # a file of other code: load from the database instead
        logger.warning("%s: unreadable; ignored", path, exc_info=True)
        return None
    estate, graph = kept
    return estate, graph


def write(name: str, kept: Kept) -> Path | None:
    """Write the file ``name`` (atomically), removing the database's files of other runs;
    None when it cannot be written (a warning is logged: the next process loads the estate)."""
    folder = directory()
    try:
        payload = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError, TypeError) as exc:
        logger.warning("could not keep the what-if estate: %s", exc)
        return None
    path = folder / name
    partial = folder / f".{name}.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            out.write(_MAGIC)
            out.write(_mac(payload))
            out.write(payload)
        os.replace(partial, path)
        database = name.split("-", 1)[0]
        for other in folder.glob(f"{database}-*.pickle"):
            if other.name != name:
                other.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not keep the what-if estate in %s: %s", folder, exc)
        partial.unlink(missing_ok=True)
        return None
    return path
