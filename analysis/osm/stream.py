"""Streaming reader of ``.osm.pbf`` extracts: road ways straight into arrays (pyosmium).

The osmnx/pyrosm path materialises a networkx ``MultiDiGraph`` (a dict and a geometry per
edge) that is turned into CSR arrays at once; on a regional extract that graph is the
memory peak of ``prepare`` (11.2 GiB for 8.4 M raw road nodes in
``benchmarks/bench_osm_stream.py``). This reader never builds it:

1. one pass over the file with :class:`osmium.FileProcessor`: node locations are kept by
   libosmium's own index (C++), only ways with a ``highway`` tag reach Python, and those
   the network's way filter keeps (:func:`way_passes`: the project's osmnx filter,
   ``analysis.osm.convert._WAY_FILTERS``, as the XML and download paths) append their node
   ids and coordinates to flat arrays, with their ``highway``/``maxspeed`` codes and
   their direction (``oneway``, ``junction=roundabout``, as osmnx);
2. the ways are cut into segments (consecutive nodes), and made directed edges;
3. the graph is simplified as osmnx does (:func:`osmnx.simplify_graph`'s endpoint rule,
   with ``edge_attrs_differ=["highway", "maxspeed"]`` as the pyrosm path): chains of
   nodes that are neither a dead end, a junction nor a change of class or speed limit
   are merged, travel times summed — with array operations (pointer jumping), no loop over edges;
4. speeds follow :mod:`analysis.osm.speeds` (``maxspeed`` tag, else the French default of
   the class), computed per way and carried by each segment, so a merged edge keeps the
   exact time of its parts;
5. the :class:`~analysis.graph.RoadGraph` (CSR) is built, largest strongly connected
   component only.

Memory is dominated by the node-location index (16 bytes per node of the file) and a few
arrays of 8 bytes per road segment.
"""

from __future__ import annotations

import logging
import re
import time
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..graph import RoadGraph
from .convert import (
    _WAY_FILTERS,
    NETWORKS,
    check_network,
    filter_tags,
    great_circle_m,
    largest_strong_component,
    to_lambert93,
)
from .load import EXTRACT_HINT
from .speeds import FALLBACK_SPEED_KMH, WALK_SPEED_KMH, edge_speeds_kmh

logger = logging.getLogger(__name__)

#: Name of this reader (in cache keys and graph metadata).
READER_NAME = "pyosmium-stream"

#: Version of this reader's recipe (part of the cache key; bump when its output changes).
STREAM_VERSION = 1

#: osmnx's ``oneway`` values meaning one-way, and those meaning "against the way's order".
_ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
_REVERSED_VALUES = frozenset({"-1", "reverse", "T"})

#: Up-front estimate of the streaming read (:func:`estimate_cost`). Measured on the shared
#: 2-core machine by ``benchmarks/bench_osm_stream.py`` (2026-12-03): the road part costs
#: :data:`SECONDS_PER_DRIVE_NODE` and :data:`BYTES_PER_DRIVE_NODE` per node of the drive
#: graph (slopes over three synthetic extracts, 1 M to 8.4 M raw road nodes: 1.17 GiB per
#: million nodes; 50.6 s per million under a load average of 5 from other work, 29.1 s on
#: a quieter machine: the slower figure is kept); the rest of
#: the file (buildings, POI) costs :data:`SECONDS_PER_MB` per MB to decode (a pass with
#: node locations over a building-heavy synthetic file) and its node-location index
#: :data:`INDEX_BYTES_PER_MB` per MB (16 bytes per node in libosmium's sparse index, about
#: 9 bytes of PBF per node, an assumption: the synthetic files have dense node ids).
#: The file size does not tell the number of roads: :data:`DRIVE_NODES_PER_MB` is the
#: density of the Geofabrik French extracts (issue 15: 1.5-2.5 M drive-graph nodes in
#: 600-700 MB). The estimate is a rough figure, for the user to know before waiting.
SECONDS_PER_DRIVE_NODE = 50.6e-6
BYTES_PER_DRIVE_NODE = 1.26e03
BASE_PEAK_BYTES = 2.1e08
SECONDS_PER_MB = 0.15
INDEX_BYTES_PER_MB = 16 * 1e6 / 9
DRIVE_NODES_PER_MB = 3_000


def estimate_cost(path: str | Path) -> tuple[float, float]:
    """Up-front estimate of the streaming read of an extract: (minutes, GiB of memory).

    From the file size only (see :data:`SECONDS_PER_DRIVE_NODE` and the constants next
    to it): ``MB * DRIVE_NODES_PER_MB`` drive-graph nodes expected.
    """
    mb = Path(path).stat().st_size / 1e6
    drive_nodes = mb * DRIVE_NODES_PER_MB
    seconds = mb * SECONDS_PER_MB + drive_nodes * SECONDS_PER_DRIVE_NODE
    peak = BASE_PEAK_BYTES + mb * INDEX_BYTES_PER_MB + drive_nodes * BYTES_PER_DRIVE_NODE
    return seconds / 60.0, peak / 2**30


def describe_estimate(path: str | Path) -> str:
    """Text of :func:`estimate_cost`, e.g. ``about 12 minutes, 5.8 GiB``."""
    minutes, gib = estimate_cost(path)
    size = Path(path).stat().st_size / 2**20
    when = "under a minute" if minutes < 1 else f"about {minutes:.0f} minutes"
    return f"reading {Path(path).name} ({size:,.0f} MiB): {when}, {gib:.1f} GiB of memory"


#: Way tags the filters read (memo key of :func:`way_passes`), per network.
_FILTER_KEYS = {net: tuple(filter_tags(net)) for net in NETWORKS}
_PATTERNS = {
    net: tuple(
        (tag, required, None if excluded is None else re.compile(excluded))
        for tag, required, excluded in _WAY_FILTERS[net]
    )
    for net in NETWORKS
}
_MEMO: dict[tuple[str, tuple[str | None, ...]], bool] = {}


def way_passes(tags: Any, network: str) -> bool:
    """Whether a way with these tags (a mapping) belongs to ``network``.

    The rule is the project's osmnx way filter (:data:`analysis.osm.convert._WAY_FILTERS`,
    osmnx's Overpass ``drive``/``walk`` filters, the one the XML and download paths
    apply): every required tag present, no tag matching its excluded-values regex
    (unanchored, like Overpass ``!~``). Distinct tag combinations are evaluated once.
    """
    values = tuple(tags.get(k) for k in _FILTER_KEYS[network])
    key = (network, values)
    hit = _MEMO.get(key)
    if hit is None:
        hit = True
        tagmap = dict(zip(_FILTER_KEYS[network], values, strict=True))
        for tag, required, pattern in _PATTERNS[network]:
            val = tagmap[tag]
            if val is None:
                if required:
                    hit = False
                    break
                continue
            if pattern is not None and pattern.search(val):
                hit = False
                break
        if len(_MEMO) < 100_000:
            _MEMO[key] = hit
    return hit


@dataclass
class WayArrays:
    """The kept ways of an extract, flattened.

    Attributes
    ----------
    refs, lon, lat
        Node id and coordinates of every node of every kept way, way after way.
    offsets
        Start of each way in ``refs`` (length ``n_ways + 1``).
    highway, maxspeed
        Codes of each way's tags in ``highway_values`` / ``maxspeed_values`` (-1: absent).
    direction
        ``0`` two-way, ``1`` one-way along the nodes, ``-1`` one-way against them.
    latest
        Newest way timestamp (UNIX seconds), 0 if none.
    """

    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    offsets: np.ndarray
    highway: np.ndarray
    maxspeed: np.ndarray
    direction: np.ndarray
    highway_values: list[str] = field(default_factory=list)
    maxspeed_values: list[str] = field(default_factory=list)
    latest: float = 0.0
    n_ways_read: int = 0
    n_ways_passing: int = 0

    @property
    def n_ways(self) -> int:
        """Number of kept way pieces (a way cut by missing nodes counts once per piece)."""
        return len(self.offsets) - 1


def _bytes_read() -> int | None:
    """Bytes this process has read so far (Linux ``/proc/self/io``), else ``None``."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class _ByteProgress:
    """A tqdm bar of the bytes of the file read, with the ways kept as postfix.

    libosmium reads the file in C++ threads, so a small thread polls the process's read
    counter (``/proc/self/io``).
    """

    def __init__(self, path: Path, verbose: bool) -> None:
        import threading

        from tqdm import tqdm

        self.size = path.stat().st_size
        self.bar = tqdm(
            total=self.size, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"reading {path.name}", disable=not verbose,
        )  # fmt: skip
        self._start = _bytes_read()
        self._stop = threading.Event()
        self._thread = None
        if verbose and self._start is not None:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            now = _bytes_read()
            if now is None or self._start is None:
                return
            done = min(self.size, now - self._start)
            if done > self.bar.n:
                self.bar.update(done - self.bar.n)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.bar.set_postfix_str(text, refresh=refresh)

    def finish(self) -> None:
        self._stop.set()
        if self.bar.n < self.size:
            self.bar.update(self.size - self.bar.n)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        self.bar.close()


def read_ways(path: str | Path, *, network: str = "drive", verbose: bool = False) -> WayArrays:
    """Stream an ``.osm.pbf`` file and keep the ways of ``network`` as flat arrays.

    Parameters
    ----------
    path
        The extract (already checked as a PBF by :func:`analysis.osm.load.file_source`).
    network
        ``"drive"`` or ``"walk"`` (walk ways are two-way).
    verbose
        Show a progress bar (bytes read, ways kept).

    Returns
    -------
    WayArrays

    Raises
    ------
    ValidationError
        If libosmium cannot read the file (broken or truncated data).
    """
    import osmium

    check_network(network)
    p = Path(path)
    walk = network == "walk"
    refs = array("q")
    lonlat = array("d")  # lon, lat interleaved
    offsets = array("q", [0])
    hw_codes = array("i")
    ms_codes = array("i")
    direction = array("b")
    hw_index: dict[str, int] = {}
    ms_index: dict[str, int] = {}
    latest = 0.0
    n_read = 0
    n_pass = 0
    n_missing = 0
    bar = _ByteProgress(p, verbose)
    make_line = osmium.geom.WKBFactory().create_linestring
    all_nodes = osmium.geom.ALL
    fp = (
        osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations("flex_mem")
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    w: Any  # an osmium.osm.Way (the filters let only ways through)
    try:
        for w in fp:
            n_read += 1
            tags = w.tags
            if not way_passes(tags, network):
                continue
            nodes = w.nodes
            size = len(nodes)
            if size < 2:
                continue
            n_pass += 1
            # One C++ call gives the way's coordinates (WKB: 9 header bytes, then lon/lat
            # doubles); the node ids are read one by one (no bulk accessor).
            try:
                raw = bytes.fromhex(make_line(w, use_nodes=all_nodes))
            except (osmium.InvalidLocationError, RuntimeError):
                raw = None
            if raw is not None and len(raw) == 9 + 16 * size:
                lst, data = nodes._list, nodes._pyosmium_data
                get = lst.get
                refs.extend([get(data, i).ref for i in range(size)])
                lonlat.frombytes(raw[9:])
                offsets.append(len(refs))
                n_runs = 1
            else:
                # Nodes missing from the extract (ways cut at its edge): the way is split
                # there, never joined across the gap.
                runs = []
                cur: list[Any] = []
                for n in [*list(nodes), None]:
                    if n is not None and n.location.valid():
                        cur.append((n.ref, n.lon, n.lat))
                        continue
                    if n is not None:
                        n_missing += 1
                    if len(cur) >= 2:
                        runs.append(cur)
                    cur = []
                if not runs:
                    continue
                for run in runs:
                    for ref, x, y in run:
                        refs.append(ref)
                        lonlat.append(x)
                        lonlat.append(y)
                    offsets.append(len(refs))
                n_runs = len(runs)
            code = hw_index.setdefault(tags["highway"], len(hw_index))
            ms = tags.get("maxspeed")
            mcode = -1 if ms is None else ms_index.setdefault(ms, len(ms_index))
            dcode = 0
            if not walk:
                one = tags.get("oneway")
                if one in _ONEWAY_VALUES:
                    dcode = -1 if one in _REVERSED_VALUES else 1
                elif tags.get("junction") == "roundabout":
                    dcode = 1
            for _ in range(n_runs):
                hw_codes.append(code)
                ms_codes.append(mcode)
                direction.append(dcode)
            ts = w.timestamp.timestamp()
            if ts > latest:
                latest = ts
            if verbose and len(offsets) % 20_000 == 0:
                bar.set_postfix_str(f"{len(offsets) - 1:,} ways kept", refresh=False)
        bar.finish()
    except RuntimeError as exc:
        raise ValidationError(
            f"this OSM PBF file cannot be read ({exc}); the download may be incomplete or "
            "broken: download it again",
            source=str(p),
        ) from exc
    finally:
        bar.set_postfix_str(f"{len(offsets) - 1:,} ways kept")
        bar.close()
    if n_missing:
        logger.info("%s: %d way nodes missing from the extract were skipped", p.name, n_missing)
    return WayArrays(
        refs=np.frombuffer(refs, dtype=np.int64),
        lon=np.frombuffer(lonlat, dtype=np.float64)[0::2],
        lat=np.frombuffer(lonlat, dtype=np.float64)[1::2],
        offsets=np.frombuffer(offsets, dtype=np.int64),
        highway=np.frombuffer(hw_codes, dtype=np.int32),
        maxspeed=np.frombuffer(ms_codes, dtype=np.int32),
        direction=np.frombuffer(direction, dtype=np.int8),
        highway_values=list(hw_index),
        maxspeed_values=list(ms_index),
        latest=latest,
        n_ways_read=n_read,
        n_ways_passing=n_pass,
    )


def way_speeds_kmh(
    ways: WayArrays,
    *,
    network: str = "drive",
    hwy_speeds: Mapping[str, float] | None = None,
    fallback_kmh: float = FALLBACK_SPEED_KMH,
    walk_speed_kmh: float = WALK_SPEED_KMH,
) -> np.ndarray:
    """Speed of each kept way (km/h) by :func:`analysis.osm.speeds.edge_speeds_kmh`."""
    if network == "walk":
        return np.full(ways.n_ways, float(walk_speed_kmh))
    hw_vals = np.array([*ways.highway_values, None], dtype=object)
    ms_vals = np.array([*ways.maxspeed_values, None], dtype=object)
    highway = hw_vals[np.where(ways.highway >= 0, ways.highway, len(hw_vals) - 1)]
    maxspeed = ms_vals[np.where(ways.maxspeed >= 0, ways.maxspeed, len(ms_vals) - 1)]
    return edge_speeds_kmh(highway, maxspeed, hwy_speeds=hwy_speeds, fallback=fallback_kmh)


@dataclass
class SegmentGraph:
    """Directed edges between OSM nodes (before or after simplification)."""

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray | None
    time_s: np.ndarray
    attr: np.ndarray | None = None
    total_length_m: float = 0.0


def segments(ways: WayArrays, speed_kmh: np.ndarray) -> SegmentGraph:
    """Cut the ways into directed segments between consecutive nodes.

    Parameters
    ----------
    ways
        From :func:`read_ways`.
    speed_kmh
        Speed of each way.

    Returns
    -------
    SegmentGraph
        One node per distinct OSM node; two-way ways give both directions.
    """
    node_ids, first, inverse = np.unique(ways.refs, return_index=True, return_inverse=True)
    lon = ways.lon[first]
    lat = ways.lat[first]
    n_refs = len(ways.refs)
    way_of = np.repeat(np.arange(ways.n_ways), np.diff(ways.offsets))
    # A segment i joins refs i and i + 1 of the same way.
    seg = np.flatnonzero(way_of[:-1] == way_of[1:]) if n_refs > 1 else np.zeros(0, np.int64)
    a = inverse[seg].astype(np.int32)
    b = inverse[seg + 1].astype(np.int32)
    keep = a != b
    seg, a, b = seg[keep], a[keep], b[keep]
    wid = way_of[seg]
    del way_of, inverse, first, keep
    length = great_circle_m(ways.lon[seg], ways.lat[seg], ways.lon[seg + 1], ways.lat[seg + 1])
    t = length / (speed_kmh[wid] / 3.6)
    d = ways.direction[wid]
    fwd = d >= 0
    bwd = d <= 0
    u = np.concatenate([a[fwd], b[bwd]])
    v = np.concatenate([b[fwd], a[bwd]])
    # (highway, maxspeed) of each segment as one code: osmnx's ``edge_attrs_differ``.
    code = ways.highway[wid].astype(np.int64) * (len(ways.maxspeed_values) + 2) + (
        ways.maxspeed[wid].astype(np.int64) + 1
    )
    return SegmentGraph(
        node_ids=node_ids, lon=lon, lat=lat, u=u, v=v, length=None,
        time_s=np.concatenate([t[fwd], t[bwd]]),
        attr=np.concatenate([code[fwd], code[bwd]]),
        total_length_m=float(length[fwd].sum() + length[bwd].sum()),
    )  # fmt: skip


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: faster than NumPy 2's hash path on int64 here)."""
    x = np.sort(x)
    if len(x) == 0:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def endpoints(n: int, u: np.ndarray, v: np.ndarray, attr: np.ndarray | None = None) -> np.ndarray:
    """Return osmnx's simplification endpoints (``osmnx.simplification._is_endpoint``).

    Vectorised: a node is an endpoint when it has a self-loop, no incoming or no outgoing
    edge, not exactly two neighbours with a degree of 2 or 4, or (``attr`` given, as
    ``edge_attrs_differ=["highway", "maxspeed"]``, what the pyrosm path does) incident
    edges whose ``attr`` codes differ.
    """
    indeg = np.bincount(v, minlength=n)
    outdeg = np.bincount(u, minlength=n)
    deg = indeg + outdeg
    # Distinct neighbours: each unordered pair {x, y} (x != y) counts once for both.
    lo = np.minimum(u, v).astype(np.int64)
    hi = np.maximum(u, v).astype(np.int64)
    proper = lo != hi
    pairs = _unique(lo[proper] * np.int64(n) + hi[proper])
    del lo, hi
    nbr = np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)
    del pairs
    loop = np.zeros(n, dtype=bool)
    loop[u[~proper]] = True
    through = (nbr == 2) & ((deg == 2) | (deg == 4))
    out = loop | (indeg == 0) | (outdeg == 0) | ~through
    if attr is not None and len(attr):
        # A node whose incident edges do not all carry the code of one of them.
        ref = np.zeros(n, dtype=attr.dtype)
        ref[u] = attr
        ref[v] = attr
        out[u[attr != ref[u]]] = True
        out[v[attr != ref[v]]] = True
    return out


def simplify(g: SegmentGraph) -> SegmentGraph:
    """Merge chains of non-endpoint nodes into single edges (travel times summed).

    Each directed edge points to the next edge of its chain (the out edge of its head that
    does not go back); pointer jumping then gives, for every edge leaving an endpoint, the
    endpoint it reaches and the sums along the way, in ``O(E log L)`` array work for
    chains of length ``L``. Closed rings without any endpoint are dropped (they are not
    connected to the rest of the network).
    """
    n = len(g.node_ids)
    u, v = g.u, g.v
    end = endpoints(n, u, v, g.attr)
    m = len(u)
    order = np.argsort(u, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    outdeg = np.diff(indptr)
    nxt: np.ndarray = np.full(m, -1, dtype=np.int32 if m < 2**31 - 1 else np.int64)
    inner = ~end[v]
    e = np.flatnonzero(inner)
    h = v[e]
    o1 = order[indptr[h]]
    one = outdeg[h] == 1
    o2 = order[np.minimum(indptr[h] + 1, indptr[h + 1] - 1)]
    nxt[e] = np.where(one | (v[o1] != u[e]), o1, o2)
    del order, inner, e, h, o1, o2, one
    # Pointer jumping: J -> end of chain, S -> sums.
    jump = nxt
    head = v.copy()
    tsum = g.time_s.copy()
    for _ in range(64):
        live = np.flatnonzero(jump >= 0)
        if len(live) == 0:
            break
        j = jump[live]
        tsum[live] += tsum[j]
        head[live] = head[j]
        jump[live] = jump[j]
    start = end[u] & (jump < 0)
    keep_nodes = end.copy()
    new_index = np.cumsum(keep_nodes) - 1
    return SegmentGraph(
        node_ids=g.node_ids[keep_nodes], lon=g.lon[keep_nodes], lat=g.lat[keep_nodes],
        u=new_index[u[start]], v=new_index[head[start]],
        length=None, time_s=tsum[start],
    )  # fmt: skip


@dataclass
class StreamResult:
    """The graph of :func:`read_pbf_roadgraph` and what was read."""

    graph: RoadGraph
    latest_edit: float
    counts: dict[str, int]


def read_pbf_roadgraph(
    path: str | Path,
    *,
    network: str = "drive",
    hwy_speeds: Mapping[str, float] | None = None,
    fallback_kmh: float = FALLBACK_SPEED_KMH,
    walk_speed_kmh: float = WALK_SPEED_KMH,
    largest_scc: bool = True,
    label: str = "",
    meta: Mapping[str, Any] | None = None,
    verbose: bool = False,
) -> StreamResult:
    """Read an ``.osm.pbf`` extract straight into the engine's graph (no networkx).

    Parameters
    ----------
    path
        The extract.
    network
        ``"drive"`` or ``"walk"``.
    hwy_speeds, fallback_kmh, walk_speed_kmh
        Speeds (see :func:`analysis.osm.speeds.edge_speeds_kmh`).
    largest_scc
        Keep only the largest strongly connected component.
    label, meta
        Provenance for the :class:`RoadGraph`.
    verbose
        Progress bar and timings.

    Returns
    -------
    StreamResult

    Raises
    ------
    ValidationError
        If the file cannot be read or holds no road of the network.
    """
    check_network(network)
    t0 = time.perf_counter()
    ways = read_ways(path, network=network, verbose=verbose)
    t_read = time.perf_counter() - t0
    what = "drivable" if network == "drive" else "walkable"
    if ways.n_ways == 0 and ways.n_ways_passing:
        raise ValidationError(
            f"{ways.n_ways_passing:,} {what} way(s) read, but none of their nodes is in the "
            "file: the extract is incomplete; download it again",
            source=str(path),
        )
    if ways.n_ways == 0:
        raise ValidationError(
            f"this OSM extract holds no {what} road ({ways.n_ways_read:,} highway way(s) "
            f"read, none of the network); {EXTRACT_HINT}",
            source=str(path),
        )
    speed = way_speeds_kmh(
        ways, network=network, hwy_speeds=hwy_speeds, fallback_kmh=fallback_kmh,
        walk_speed_kmh=walk_speed_kmh,
    )  # fmt: skip
    raw = segments(ways, speed)
    n_raw_nodes = len(raw.node_ids)
    n_raw_edges = len(raw.u)
    total_km = raw.total_length_m / 1000.0  # every directed edge, as the osmnx path
    latest = ways.latest
    del ways
    simple = simplify(raw)
    del raw
    if len(simple.u) == 0:
        raise ValidationError(
            f"this OSM extract holds no connected {what} road; give an extract of the "
            "region's roads",
            source=str(path),
        )
    x, y = to_lambert93(simple.lon, simple.lat, "EPSG:4326")
    info = dict(meta or {})
    info.update(
        road_model="osm",
        network=network,
        reader=READER_NAME,
        n_nodes_read=len(simple.node_ids),
        n_edges_read=len(simple.u),
        n_raw_nodes=int(n_raw_nodes),
        n_raw_edges=int(n_raw_edges),
        total_length_km=total_km,
    )
    g = RoadGraph.from_edges(
        simple.u, simple.v, simple.time_s, x, y, model="osm", label=label,
        node_ids=simple.node_ids, meta=info,
    )  # fmt: skip
    if largest_scc:
        g = largest_strong_component(g)
    if g.n_edges == 0:
        raise ValidationError(
            f"this OSM extract holds no connected {what} road; give an extract of the "
            "region's roads",
            source=str(path),
        )
    logger.info(
        "streamed %s: %d raw nodes -> %d nodes, %d edges (read %.1f s, total %.1f s)",
        Path(path).name, n_raw_nodes, g.n_nodes, g.n_edges, t_read, time.perf_counter() - t0,
    )  # fmt: skip
    return StreamResult(
        graph=g,
        latest_edit=latest,
        counts={"raw_nodes": int(n_raw_nodes), "raw_edges": int(n_raw_edges)},
    )
