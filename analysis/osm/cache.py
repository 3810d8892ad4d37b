"""Cache of built OSM road graphs in ``data/processed``.

- One ``.npz`` file per graph (arrays only, read with ``allow_pickle=False``), named
  ``osm_<network>_<key>.npz``, where the key hashes the input (the file's SHA-256, or the
  place/polygon query) and every build parameter (speeds, network, recipe version, reader
  versions). Changing the extract or a parameter gives another key: a stale graph is never
  read for new inputs.
- Written atomically with a SHA-256 sidecar (:func:`analysis.io.write_with_checksum`); a
  file that fails its checksum or cannot be read is reported and rebuilt.
- ``osm_active_<network>.json`` (also checksummed) records the last prepared model, so
  that :func:`analysis.osm.load_cached_osm_model` can find it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import settings
from ..cache import UNREADABLE, load_npz, save_npz
from ..graph import RoadGraph
from ..io import verify_checksum, write_with_checksum
from .extent import NetworkExtent

logger = logging.getLogger(__name__)

#: Version of the build recipe; part of every cache key (bump when the method changes).
BUILD_VERSION = 1

_ARRAYS = ("x", "y", "indptr", "indices", "weights", "node_ids")


def cache_dir_or_default(cache_dir: str | Path | None) -> Path:
    """Return the cache folder: ``cache_dir`` or :data:`analysis.settings.processed_data_dir`."""
    return Path(cache_dir) if cache_dir is not None else settings.processed_data_dir


def cache_key(identity: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Hash of the input's identity and the build parameters (24 hex digits).

    Parameters
    ----------
    identity
        What identifies the data (file hash, or query).
    params
        Every parameter the graph depends on.

    Returns
    -------
    str
    """
    payload = json.dumps(
        {"v": BUILD_VERSION, "input": dict(identity), "params": dict(params)},
        sort_keys=True,
        default=str,
    )
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def graph_path(cache_dir: str | Path | None, network: str, key: str) -> Path:
    """Path of the cached graph of ``network`` with ``key``."""
    return cache_dir_or_default(cache_dir) / f"osm_{network}_{key}.npz"


def active_path(cache_dir: str | Path | None, network: str) -> Path:
    """Path of the record of the last prepared model of ``network``."""
    return cache_dir_or_default(cache_dir) / f"osm_active_{network}.json"


@dataclass(frozen=True)
class CachedGraph:
    """A road graph with the area its data covers."""

    graph: RoadGraph
    extent: NetworkExtent


def save_graph(cached: CachedGraph, path: str | Path) -> Path:
    """Write a graph and its extent to ``path`` (``.npz``) atomically, with a checksum.

    Parameters
    ----------
    cached
        The graph and extent.
    path
        Target file.

    Returns
    -------
    pathlib.Path
    """
    g = cached.graph
    node_ids = (
        np.asarray(g.node_ids, dtype=np.int64)
        if g.node_ids is not None
        else np.arange(g.n_nodes, dtype=np.int64)
    )
    arrays = {
        "x": g.x, "y": g.y, "indptr": g.indptr, "indices": g.indices, "weights": g.weights,
        "node_ids": node_ids, "label": np.array(g.label), "meta": np.array(json.dumps(g.meta)),
        **cached.extent.to_arrays(),
    }  # fmt: skip

    write_with_checksum(path, lambda tmp: save_npz(tmp, arrays))
    logger.info("OSM graph cached in %s", path)
    return Path(path)


def load_graph(path: str | Path) -> CachedGraph | None:
    """Read a cached graph, or ``None`` if it is missing, corrupt or unreadable.

    Parameters
    ----------
    path
        The ``.npz`` file.

    Returns
    -------
    CachedGraph or None
        ``None`` (with a warning when a file exists) means: rebuild it.
    """
    p = Path(path)
    if not p.exists():
        return None
    if not verify_checksum(p):
        logger.warning("OSM graph cache %s fails its checksum (corrupt or stale); rebuilding", p)
        return None
    try:
        z = load_npz(p)
        meta = json.loads(str(z["meta"]))
        graph = RoadGraph(
            x=z["x"], y=z["y"], indptr=z["indptr"], indices=z["indices"],
            weights=z["weights"], model="osm", label=str(z["label"]),
            node_ids=z["node_ids"], meta=meta,
        )  # fmt: skip
        extent = NetworkExtent.from_arrays(z)
    except (*UNREADABLE, TypeError) as exc:  # not an npz, empty, a broken zip, a member missing
        logger.warning("OSM graph cache %s cannot be read (%s); rebuilding", p, exc)
        return None
    if meta.get("build_version") != BUILD_VERSION:
        logger.warning("OSM graph cache %s was built by another recipe; rebuilding", p)
        return None
    return CachedGraph(graph=graph, extent=extent)


def write_active(cache_dir: str | Path | None, network: str, record: Mapping[str, Any]) -> Path:
    """Record the last prepared model of ``network`` (atomic, checksummed JSON)."""
    path = active_path(cache_dir, network)
    text = json.dumps(dict(record), indent=2, ensure_ascii=False, default=str)

    def writer(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_with_checksum(path, writer)
    return path


def read_active(cache_dir: str | Path | None, network: str) -> dict[str, Any] | None:
    """Return the record of the last prepared model, or ``None`` if none is valid."""
    path = active_path(cache_dir, network)
    if not path.exists():
        return None
    if not verify_checksum(path):
        logger.warning("%s fails its checksum; run `spro-access prepare --osm` again", path)
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("%s cannot be read (%s)", path, exc)
        return None
    return record if isinstance(record, dict) else None
