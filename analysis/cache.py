"""The one file cache: hash-keyed names, checksummed atomic writes, verified reads.

Every cache of the project (commune contiguity, the estimated and main-road models, the
OSM road graph, the site directory, the compiled timetables) goes through
:func:`load_or_build`:

- the file name carries a hash of everything the content depends on (:func:`cache_key`),
  so a changed input or parameter never reads a stale file;
- a file is written through :func:`analysis.io.write_with_checksum` (a temporary file
  renamed into place, a SHA-256 sidecar), so a crash never leaves a half-written cache;
- a file is trusted only if it matches its checksum *and* reads back; otherwise it is
  rebuilt, with a warning in the caller's log;
- a folder that cannot be written only costs the rebuild next time.

Road models share one ``.npz`` layout (:func:`save_road_model`, :func:`load_road_arrays`).
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import logging
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

from .io import verify_checksum, write_with_checksum
from .road_model import RoadModel

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: What reading a damaged cache file can raise (not an npz, empty, a member missing...).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def cache_key(*parts: bytes | str, size: int = 16) -> str:
    """Return a hex digest of ``parts`` (bytes, or text encoded as UTF-8).

    Parameters
    ----------
    *parts
        Everything the cached content depends on, in a fixed order.
    size
        Digest length in bytes (the key has twice as many hex digits).

    Returns
    -------
    str
    """
    h = hashlib.blake2b(digest_size=size)
    for p in parts:
        b = p if isinstance(p, bytes) else p.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))  # no ambiguity between ("ab", "c") and ("a", "bc")
        h.update(b)
    return h.hexdigest()


def load_or_build(
    path: Path,
    *,
    build: Callable[[], T],
    read: Callable[[Path], T],
    write: Callable[[Path, T], None],
    what: str,
    log: logging.Logger | None = None,
    unreadable: tuple[type[BaseException], ...] = UNREADABLE,
    prune: str | None = None,
) -> T:
    """Return the cached value at ``path`` if it verifies and reads, else build and cache it.

    Parameters
    ----------
    path
        The cache file (its name should carry a :func:`cache_key`).
    build
        Computes the value.
    read
        Reads the value from a verified file.
    write
        Writes the value to a temporary path (renamed into place with its checksum).
    what
        What is cached, for the log (``"estimated network"``).
    log
        The caller's logger (the messages come from the module that owns the cache).
    unreadable
        Exceptions of ``read`` that mean "damaged file: rebuild" (others propagate).
    prune
        A glob (in the cache's folder) of the files of *other* keys of this cache, removed
        with their sidecars once the new file is in place (``"mainroads_*.npz"``), so that
        stale caches do not pile up.

    Returns
    -------
    The value.
    """
    log = log or logger
    if verify_checksum(path):
        try:
            value = read(path)
            log.info("%s read from cache %s", what, path)
            return value
        except unreadable as exc:  # a writer bug, or a file damaged with its checksum
            log.warning("%s cache %s unreadable (%s); rebuilding", what, path, exc)
    elif path.exists():
        log.warning("%s cache %s fails its checksum; rebuilding", what, path)
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with_checksum(path, lambda tmp: write(tmp, value))
        log.info("%s cached in %s", what, path)
        if prune is not None:
            remove_other_keys(path, prune)
    except OSError as exc:  # a read-only folder only costs the rebuild next time
        log.warning("could not cache the %s in %s: %s", what, path.parent, exc)
    return value


def remove_other_keys(path: Path, pattern: str) -> int:
    """Remove the files matching ``pattern`` beside ``path`` (not ``path``), with sidecars.

    Returns
    -------
    int
        How many files were removed.
    """
    n = 0
    for old in path.parent.glob(pattern):
        if old != path and not old.name.endswith(".sha256"):
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".sha256").unlink(missing_ok=True)
            n += 1
    return n


def save_npz(tmp: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to an uncompressed ``.npz`` at ``tmp`` (no pickled objects)."""
    buf = _io.BytesIO()
    np.savez(buf, **dict(arrays))  # type: ignore[arg-type]  # numpy's stub types **kwds oddly
    tmp.write_bytes(buf.getvalue())


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` (no pickles), closing the file in every case."""
    # Open the file here: np.load leaves its own handle open when the zip is unreadable.
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_road_model(tmp: Path, model: RoadModel) -> None:
    """Write a road model's graph, origins and metadata (the one road-model layout)."""
    g = model.graph
    arrays = {
        "x": g.x,
        "y": g.y,
        "indptr": g.indptr,
        "indices": g.indices,
        "weights": g.weights,
        "origin_ids": np.asarray(model.origin_ids, dtype=str),
        "origin_nodes": model.origin_nodes,
        "origin_offsets_s": model.origin_offsets_s,
        "meta": np.array(json.dumps(model.meta)),
        "label": np.array(g.label),
    }
    if g.node_ids is not None:
        arrays["node_ids"] = np.asarray(g.node_ids, dtype=str)
    save_npz(tmp, arrays)


def load_road_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Read a file written by :func:`save_road_model`: its arrays and its metadata."""
    z = load_npz(path)
    meta = json.loads(str(z.pop("meta")))
    if not isinstance(meta, dict):
        raise ValueError("the cached road model's metadata is not a mapping")
    return z, meta
