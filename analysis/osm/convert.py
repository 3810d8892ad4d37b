"""Conversion of osmnx-style graphs to the engine's CSR :class:`~analysis.graph.RoadGraph`.

An osmnx ``MultiDiGraph`` (from osmnx, or from pyrosm with ``osmnx_compatible=True``) is
read once into columns (:func:`edge_table`): node ids and coordinates, edge endpoints,
lengths and the tags the speeds need. Everything after that is column arithmetic on
NumPy/pandas arrays (speeds, travel times, projection to Lambert-93, the CSR arrays, the
largest strongly connected component): no Python loop runs over the edges. The single
read of networkx's edge view is the only per-edge step, and it runs with the garbage
collector paused (it allocates one tuple per edge, which otherwise triggers many full
collections on large graphs).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components

from .. import settings
from ..errors import ValidationError
from ..graph import RoadGraph
from .speeds import (
    FALLBACK_SPEED_KMH,
    WALK_SPEED_KMH,
    edge_speeds_kmh,
    travel_times_s,
)

logger = logging.getLogger(__name__)

#: Networks a road graph can be built for.
NETWORKS = ("drive", "walk")

#: Edge attributes read from a graph by default.
DEFAULT_EDGE_ATTRS = ("length", "highway", "maxspeed")

_EARTH_RADIUS_M = 6_371_009.0  # osmnx's mean Earth radius

#: osmnx's Overpass way filters (``osmnx._overpass._get_network_filter``), as
#: ``(tag, required, excluded-values regex)``; a way passes when every tag is present if
#: required and does not match its regex (unanchored, like Overpass ``!~``).
_WAY_FILTERS: dict[str, tuple[tuple[str, bool, str | None], ...]] = {
    "drive": (
        ("highway", True, None),
        ("area", False, "yes"),
        ("access", False, "private"),
        (
            "highway",
            True,
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
            "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
            "rest_area|service|services|steps|track",
        ),
        ("motor_vehicle", False, "no"),
        ("motorcar", False, "no"),
        ("service", False, "alley|driveway|emergency_access|parking|parking_aisle|private"),
    ),
    "walk": (
        ("highway", True, None),
        ("area", False, "yes"),
        ("access", False, "private"),
        (
            "highway",
            True,
            "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
            "proposed|raceway|razed|rest_area|services",
        ),
        ("foot", False, "no"),
        ("service", False, "private"),
        ("sidewalk", False, "separate"),
        ("sidewalk:both", False, "separate"),
        ("sidewalk:left", False, "separate"),
        ("sidewalk:right", False, "separate"),
    ),
}


def filter_tags(network: str) -> list[str]:
    """Way tags the :func:`network_mask` of ``network`` reads."""
    check_network(network)
    return sorted({tag for tag, _, _ in _WAY_FILTERS[network]})


def check_network(network: str) -> str:
    """Return ``network`` if it is one of :data:`NETWORKS`, else raise ``ValidationError``."""
    if network not in NETWORKS:
        raise ValidationError(
            f"unknown network {network!r}; valid networks are: {', '.join(NETWORKS)}"
        )
    return network


@dataclass(frozen=True)
class EdgeTable:
    """The columns of an osmnx-style graph.

    Attributes
    ----------
    node_ids
        OSM id of each node, shape ``(n,)``.
    node_x, node_y
        Node coordinates in ``crs`` (longitude/latitude for an unprojected graph).
    crs
        CRS of the node coordinates.
    u, v
        Tail and head of each directed edge, as positions in ``node_ids``.
    attrs
        Edge attribute columns (object arrays; ``None`` where an edge lacks it).
    """

    node_ids: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    crs: str
    u: np.ndarray
    v: np.ndarray
    attrs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.u)

    def subset(self, keep: np.ndarray) -> EdgeTable:
        """Return the table restricted to the edges where ``keep`` is true."""
        return EdgeTable(
            node_ids=self.node_ids, node_x=self.node_x, node_y=self.node_y, crs=self.crs,
            u=self.u[keep], v=self.v[keep],
            attrs={k: a[keep] for k, a in self.attrs.items()},
        )  # fmt: skip


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (bulk allocation of many small tuples)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def edge_table(G: Any, *, attrs: Sequence[str] = DEFAULT_EDGE_ATTRS) -> EdgeTable:
    """Read an osmnx-style ``MultiDiGraph`` into columns, in one pass over its edge view.

    Parameters
    ----------
    G
        A ``networkx.MultiDiGraph`` whose nodes carry ``x``/``y`` coordinates and whose
        graph attribute ``crs`` names their CRS (EPSG:4326 if absent).
    attrs
        Edge attributes to read (missing ones give ``None``).

    Returns
    -------
    EdgeTable

    Raises
    ------
    ValidationError
        If the graph has no edge, or nodes without coordinates.
    """
    n = G.number_of_nodes()
    m = G.number_of_edges()
    if m == 0:
        raise ValidationError("the road graph has no edge")
    with _gc_paused():
        ids = list(G.nodes)
        try:
            node_x = np.fromiter(map(itemgetter(1), G.nodes(data="x")), dtype=float, count=n)
            node_y = np.fromiter(map(itemgetter(1), G.nodes(data="y")), dtype=float, count=n)
        except TypeError as exc:
            raise ValidationError("graph nodes need numeric 'x' and 'y' coordinates") from exc
        uu, vv, dd = zip(*G.edges(data=True), strict=True)
        frame = pd.DataFrame.from_records(dd, columns=list(attrs), nrows=m)
        del dd
    try:
        node_ids = np.asarray(ids, dtype=np.int64)
        index = pd.Index(node_ids)
        u = index.get_indexer(pd.Index(np.asarray(uu, dtype=np.int64)))
        v = index.get_indexer(pd.Index(np.asarray(vv, dtype=np.int64)))
    except (TypeError, ValueError, OverflowError):  # non-integer node ids
        node_ids = np.asarray(ids, dtype=object)
        index = pd.Index(node_ids)
        u = index.get_indexer(pd.Index(uu, dtype=object))
        v = index.get_indexer(pd.Index(vv, dtype=object))
    cols = {c: frame[c].to_numpy(dtype=object) for c in attrs}
    return EdgeTable(
        node_ids=node_ids, node_x=node_x, node_y=node_y,
        crs=str(G.graph.get("crs", settings.geographic_crs)),
        u=u.astype(np.int64), v=v.astype(np.int64), attrs=cols,
    )  # fmt: skip


def network_mask(table: EdgeTable, network: str) -> np.ndarray:
    """Which edges osmnx's ``network_type`` filter keeps (for files not filtered on reading).

    Parameters
    ----------
    table
        Edge table holding the tags of :func:`filter_tags` (absent tags count as absent).
    network
        ``"drive"`` or ``"walk"``.

    Returns
    -------
    numpy.ndarray
        Boolean mask over the edges.
    """
    check_network(network)
    keep = np.ones(table.n_edges, dtype=bool)
    for tag, required, excluded in _WAY_FILTERS[network]:
        col = table.attrs.get(tag)
        if col is None:
            if required:
                keep[:] = False
            continue
        s = pd.Series(col, dtype=object)
        present = s.notna().to_numpy()
        if required:
            keep &= present
        if excluded is not None:
            hit = s.astype("string").str.contains(excluded, regex=True, na=False)
            keep &= ~hit.to_numpy(dtype=bool)
    return keep


def to_lambert93(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Project coordinates from ``crs`` to Lambert-93 metres."""
    tr = Transformer.from_crs(crs, settings.projected_crs, always_xy=True)
    px, py = tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(px, dtype=float), np.asarray(py, dtype=float)


def great_circle_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> np.ndarray:
    """Great-circle distance in metres (haversine, osmnx's Earth radius), vectorised."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _lengths(table: EdgeTable) -> np.ndarray:
    """Edge lengths in metres; missing ones from the endpoints' straight-line distance."""
    raw = table.attrs.get("length")
    if raw is None:
        length = np.full(table.n_edges, np.nan)
    else:
        numeric = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce")
        length = numeric.to_numpy(dtype=float, copy=True)
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        u, v = table.u[bad], table.v[bad]
        if _is_geographic(table.crs):
            d = great_circle_m(table.node_x[u], table.node_y[u], table.node_x[v], table.node_y[v])
        else:
            d = np.hypot(table.node_x[u] - table.node_x[v], table.node_y[u] - table.node_y[v])
        length[bad] = d
    return length


def _is_geographic(crs: str) -> bool:
    from pyproj import CRS

    return bool(CRS.from_user_input(crs).is_geographic)


def largest_strong_component(graph: RoadGraph) -> RoadGraph:
    """Keep the largest strongly connected component of a graph, renumbering the nodes.

    In a strongly connected graph every node reaches every other one.

    Parameters
    ----------
    graph
        Any road graph.

    Returns
    -------
    RoadGraph
        The component, with ``meta["n_nodes_dropped"]`` counting the removed nodes.
    """
    n = graph.n_nodes
    if n == 0:
        return graph
    n_comp, labels = connected_components(graph.csr, directed=True, connection="strong")
    if n_comp == 1:
        return graph
    big = np.argmax(np.bincount(labels))
    keep = labels == big
    new_index = np.cumsum(keep) - 1
    u = np.repeat(np.arange(n), np.diff(graph.indptr))
    v = graph.indices.astype(np.int64)
    ek = keep[u] & keep[v]
    meta = dict(graph.meta)
    meta["n_nodes_dropped"] = int(meta.get("n_nodes_dropped", 0)) + int(n - keep.sum())
    return RoadGraph.from_edges(
        new_index[u[ek]], new_index[v[ek]], graph.weights[ek],
        graph.x[keep], graph.y[keep], model=graph.model, label=graph.label,
        node_ids=None if graph.node_ids is None else graph.node_ids[keep], meta=meta,
    )  # fmt: skip


def roadgraph_from_table(
    table: EdgeTable,
    *,
    network: str = "drive",
    hwy_speeds: Mapping[str, float] | None = None,
    fallback_kmh: float = FALLBACK_SPEED_KMH,
    walk_speed_kmh: float = WALK_SPEED_KMH,
    largest_scc: bool = True,
    label: str = "",
    meta: Mapping[str, Any] | None = None,
) -> RoadGraph:
    """Build the engine's graph from an edge table: speeds, times, CSR, projection.

    Parameters
    ----------
    table
        The graph's columns (see :func:`edge_table`).
    network
        ``"drive"`` (speeds from tags and class defaults) or ``"walk"`` (one speed).
    hwy_speeds
        Default speed per highway class (French defaults if not given).
    fallback_kmh
        Speed of unknown untagged classes.
    walk_speed_kmh
        Walking speed.
    largest_scc
        Keep only the largest strongly connected component.
    label, meta
        Provenance for the :class:`RoadGraph`.

    Returns
    -------
    RoadGraph
        ``model == "osm"``; ``node_ids`` are OSM node ids; weights are seconds.

    Raises
    ------
    ValidationError
        If no edge is left.
    """
    check_network(network)
    if table.n_edges == 0:
        raise ValidationError(f"the OSM data holds no {network} road")
    length = _lengths(table)
    if network == "walk":
        speed = np.full(table.n_edges, float(walk_speed_kmh))
    else:
        highway = table.attrs.get("highway")
        if highway is None:
            highway = np.full(table.n_edges, None, dtype=object)
        speed = edge_speeds_kmh(
            highway, table.attrs.get("maxspeed"), hwy_speeds=hwy_speeds, fallback=fallback_kmh
        )
    w = travel_times_s(length, speed)
    x, y = to_lambert93(table.node_x, table.node_y, table.crs)
    info = dict(meta or {})
    info.update(
        road_model="osm",
        network=network,
        n_nodes_read=len(table.node_ids),
        n_edges_read=int(table.n_edges),
        total_length_km=float(length.sum() / 1000.0),
    )
    g = RoadGraph.from_edges(
        table.u, table.v, w, x, y, model="osm", label=label,
        node_ids=table.node_ids, meta=info,
    )  # fmt: skip
    # Nodes with no edge left (e.g. filtered footways' nodes) are dropped by the component
    # step; without it, they are kept harmlessly isolated.
    if largest_scc:
        g = largest_strong_component(g)
    if g.n_edges == 0:
        raise ValidationError(f"the OSM data holds no connected {network} road")
    return g


def graph_to_roadgraph(
    G: Any,
    *,
    network: str = "drive",
    apply_filter: bool = False,
    hwy_speeds: Mapping[str, float] | None = None,
    fallback_kmh: float = FALLBACK_SPEED_KMH,
    walk_speed_kmh: float = WALK_SPEED_KMH,
    largest_scc: bool = True,
    label: str = "",
    meta: Mapping[str, Any] | None = None,
) -> RoadGraph:
    """Convert an osmnx-style ``MultiDiGraph`` to the engine's :class:`RoadGraph`.

    Parameters
    ----------
    G
        The osmnx graph (unprojected or projected; ``G.graph["crs"]`` says which).
    network
        ``"drive"`` or ``"walk"``.
    apply_filter
        Apply osmnx's way filter of ``network`` (for graphs read from unfiltered files).
    hwy_speeds, fallback_kmh, walk_speed_kmh, largest_scc, label, meta
        See :func:`roadgraph_from_table`.

    Returns
    -------
    RoadGraph
    """
    check_network(network)
    attrs = list(DEFAULT_EDGE_ATTRS)
    if apply_filter:
        attrs += [t for t in filter_tags(network) if t not in attrs]
    table = edge_table(G, attrs=attrs)
    if apply_filter:
        table = table.subset(network_mask(table, network))
    return roadgraph_from_table(
        table, network=network, hwy_speeds=hwy_speeds, fallback_kmh=fallback_kmh,
        walk_speed_kmh=walk_speed_kmh, largest_scc=largest_scc, label=label, meta=meta,
    )  # fmt: skip
