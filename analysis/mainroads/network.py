"""Build the main-road graph from Travel Mapping waypoints.

Method
------
1. **Nodes** are the distinct waypoint positions (exact coordinates, to 1e-6 degree):
   routes that meet share a waypoint, so a shared position is an intersection.
2. **Edges** join consecutive waypoints of a route (hidden shaping points included), both
   directions (the files know no one-way), with the straight Lambert-93 length and the
   route's road class (:data:`~analysis.mainroads.travelmapping.ROAD_CLASSES`; Lyon's
   M6/M7 and the former N7 sections in the class they drive like). Where two routes run
   together the fastest edge is kept.
3. **Extent**: the nodes within ``buffer_km`` of an origin point (a commune of the
   region), so border communes route over the neighbouring regions' roads.
4. **Motorway exits**: many exits are filed a few hundred metres from the road they meet.
   A visible motorway waypoint that no other road touches is joined to the nearest
   waypoint of another road within ``exit_join_m``, *only where an IGN ROUTE 500 motorway
   interchange lies within* ``interchange_m``: a motorway is entered at interchanges, not
   wherever a road passes under it. Exits without an interchange are left unjoined and
   counted.
5. **Pieces**: the largest connected piece is kept; the others (islands of the simplified
   data) are dropped and reported with their length.

The simplified geometry's length bias (polyline 5-25 % short on winding roads) is absorbed
by the fitted seconds per km of each class (:mod:`analysis.mainroads.calibrate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..crs import to_l93
from ..errors import ValidationError
from .travelmapping import ROAD_CLASSES, Waypoints, read_waypoints

logger = logging.getLogger(__name__)

#: Class index of the short connectors added between a motorway exit and the road it meets.
CONNECTOR = len(ROAD_CLASSES)

#: Class names including the exit connectors.
EDGE_CLASSES = (*ROAD_CLASSES, "connector")


@dataclass(frozen=True)
class MainRoadNetwork:
    """The main-road network before timing: nodes, undirected edges, classes.

    Attributes
    ----------
    x, y
        Node coordinates, Lambert-93 metres.
    u, v
        End nodes of each undirected edge.
    length_m
        Straight length of each edge, metres.
    klass
        Class index of each edge in :data:`EDGE_CLASSES`.
    urban
        Whether each edge's midpoint lies in an urban-centre commune (``deg3 == 1``);
        all false until :func:`mark_urban` is applied.
    report
        What the build did: counts per class, exits joined / left, pieces dropped,
        skipped files (all shown in ``metadata.json``).
    """

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    klass: np.ndarray
    urban: np.ndarray | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def is_urban(self) -> np.ndarray:
        """Urban flag of each edge (all false if never marked)."""
        return self.urban if self.urban is not None else np.zeros(len(self.u), dtype=bool)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    def km_by_class(self) -> dict[str, float]:
        """Length of the network per class, km."""
        km = np.bincount(self.klass, weights=self.length_m, minlength=len(EDGE_CLASSES)) / 1e3
        return {name: round(float(k), 1) for name, k in zip(EDGE_CLASSES, km, strict=True)}


def _nodes_and_edges(wp: Waypoints) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge equal positions into nodes; return (node of each waypoint, edge u, v, class)."""
    key = np.round(wp.lat * 1e6).astype(np.int64) * 1_000_000_000 + np.round(wp.lon * 1e6).astype(
        np.int64
    )
    _, first, node = np.unique(key, return_index=True, return_inverse=True)
    same_route = wp.route[1:] == wp.route[:-1]
    u = node[:-1][same_route]
    v = node[1:][same_route]
    cls_of_route = np.array([ROAD_CLASSES.index(c) for c in wp.route_class], dtype=np.int8)
    klass = cls_of_route[wp.route[:-1][same_route]]
    return first, node, np.column_stack([u, v]), klass


def _interchange_points(path: Path | None) -> np.ndarray | None:
    """Lambert-93 points of the ROUTE 500 interchanges, ``None`` without the file."""
    if path is None or not Path(path).exists():
        return None
    import geopandas as gpd

    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise ValidationError(
            f"{path}: the interchange layer declares no CRS; it should be EPSG:2154",
            source=str(path),
        )
    gdf = gdf.to_crs("EPSG:2154")
    pts = gdf.geometry.representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def graph_from_travelmapping(
    source: str | Path,
    *,
    origins_xy: tuple[np.ndarray, np.ndarray] | None = None,
    buffer_km: float = 30.0,
    interchanges: str | Path | None = None,
    exit_join_m: float = 1_500.0,
    interchange_m: float = 1_000.0,
    regions: tuple[str, ...] | None = None,
) -> MainRoadNetwork:
    """Build the main-road network from a Travel Mapping ``hwy_data`` tarball or folder.

    Parameters
    ----------
    source
        The tarball (``hwy_data_FRA_*.tar.gz``) or an unpacked ``hwy_data`` folder.
    origins_xy
        Lambert-93 points the network must serve (the communes); nodes farther than
        ``buffer_km`` from all of them are left out. Every node is kept if ``None``.
    buffer_km
        Extent around the origins, km.
    interchanges
        GeoJSON of the ROUTE 500 motorway interchanges; without it motorway exits are
        joined wherever another road lies within ``exit_join_m`` (and the report says so).
    exit_join_m, interchange_m
        See the module docstring.
    regions
        Region folders to read (all if ``None``).

    Returns
    -------
    MainRoadNetwork

    Raises
    ------
    ValidationError
        On a damaged source (see :func:`~analysis.mainroads.travelmapping.read_waypoints`),
        or if nothing is left within the buffer.
    """
    if not (buffer_km >= 0 and np.isfinite(buffer_km)):
        raise ValidationError(f"buffer_km must be a non-negative number of km, not {buffer_km}")
    wp = read_waypoints(source, regions=regions)
    first, node_of_wp, uv, klass = _nodes_and_edges(wp)
    wx, wy = to_l93(wp.lon[first], wp.lat[first])
    n = len(first)
    # Which nodes are visible (an intersection or exit) and which roads touch them.
    visible = np.zeros(n, dtype=bool)
    visible[node_of_wp[~wp.hidden]] = True
    is_motorway_edge = klass == ROAD_CLASSES.index("autoroute")
    touches_motorway = np.zeros(n, dtype=bool)
    touches_other = np.zeros(n, dtype=bool)
    touches_motorway[uv[is_motorway_edge].ravel()] = True
    touches_other[uv[~is_motorway_edge].ravel()] = True

    keep = np.ones(n, dtype=bool)
    if origins_xy is not None:
        ox, oy = (np.asarray(a, dtype=float) for a in origins_xy)
        d, _ = cKDTree(np.column_stack([ox, oy])).query(
            np.column_stack([wx, wy]), k=1, distance_upper_bound=buffer_km * 1e3 + 1
        )
        keep = d <= buffer_km * 1e3

    # Motorway exits filed off the road they meet.
    exits = np.flatnonzero(keep & visible & touches_motorway & ~touches_other)
    targets = np.flatnonzero(keep & touches_other)
    report: dict[str, Any] = {"source": str(source), "skipped_files": list(wp.skipped)}
    ex_u: list[np.ndarray] = []
    ex_v: list[np.ndarray] = []
    if len(exits) and len(targets):
        d_t, j = cKDTree(np.column_stack([wx[targets], wy[targets]])).query(
            np.column_stack([wx[exits], wy[exits]]), k=1, distance_upper_bound=exit_join_m
        )
        near = np.isfinite(d_t)
        ich = _interchange_points(Path(interchanges) if interchanges else None)
        if ich is not None:
            d_i, _ = cKDTree(ich).query(
                np.column_stack([wx[exits], wy[exits]]), k=1, distance_upper_bound=interchange_m
            )
            real = np.isfinite(d_i)
            report["exits_without_interchange"] = int((near & ~real).sum())
            near &= real
        else:
            report["exits_without_interchange"] = None
            report["interchange_check"] = "no ROUTE 500 interchange file: exits joined unchecked"
        ex_u.append(exits[near])
        ex_v.append(targets[j[near]])
        report["exits_joined"] = int(near.sum())
        report["exits_unjoined"] = int((~near).sum())
    e_u = np.concatenate([uv[:, 0], *ex_u]).astype(np.int64)
    e_v = np.concatenate([uv[:, 1], *ex_v]).astype(np.int64)
    e_k = np.concatenate([klass, np.full(sum(len(a) for a in ex_u), CONNECTOR, np.int8)])
    inside = keep[e_u] & keep[e_v]
    e_u, e_v, e_k = e_u[inside], e_v[inside], e_k[inside]
    if len(e_u) == 0:
        raise ValidationError(
            f"{source}: no road of the Travel Mapping data lies within {buffer_km} km of the "
            "origins; check the regions read and the origins' coordinates (Lambert-93)",
            source=str(source),
        )
    length = np.hypot(wx[e_u] - wx[e_v], wy[e_u] - wy[e_v])

    # Keep the largest connected piece; report the others.
    adj = coo_matrix((np.ones(len(e_u)), (e_u, e_v)), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    used = np.zeros(n, dtype=bool)
    used[e_u] = used[e_v] = True
    sizes = np.bincount(comp[used], minlength=comp.max() + 1)
    main = int(np.argmax(sizes))
    in_main = comp[e_u] == main
    dropped_comps = np.unique(comp[e_u][~in_main])
    report["pieces_dropped"] = len(dropped_comps)
    report["pieces_dropped_km"] = round(float(length[~in_main].sum()) / 1e3, 1)
    report["pieces_dropped_nodes"] = int(((comp != main) & used).sum())
    e_u, e_v, e_k, length = e_u[in_main], e_v[in_main], e_k[in_main], length[in_main]

    # Renumber the nodes that remain.
    kept_nodes = np.unique(np.concatenate([e_u, e_v]))
    new = np.full(n, -1, dtype=np.int64)
    new[kept_nodes] = np.arange(len(kept_nodes))
    net = MainRoadNetwork(
        x=wx[kept_nodes],
        y=wy[kept_nodes],
        u=new[e_u],
        v=new[e_v],
        length_m=length,
        klass=e_k.astype(np.int8),
        report=report,
    )
    report["nodes"] = net.n_nodes
    report["edges"] = len(net.u)
    report["km_by_class"] = net.km_by_class()
    for key in ("pieces_dropped", "exits_joined", "exits_without_interchange"):
        logger.info("main roads: %s = %s", key, report.get(key))
    return net


def mark_urban(net: MainRoadNetwork, communes: Any) -> MainRoadNetwork:
    """Flag the edges whose midpoint lies in an urban-centre commune (``deg3 == 1``).

    Parameters
    ----------
    net
        The network.
    communes
        Commune polygons with a ``deg3`` column (1 urban centre, 2 intermediate, 3 rural);
        without it nothing is flagged.

    Returns
    -------
    MainRoadNetwork
        A copy with :attr:`MainRoadNetwork.urban` set.
    """
    import dataclasses

    from ..crs import polygons_l93

    urban = np.zeros(len(net.u), dtype=bool)
    if "deg3" in getattr(communes, "columns", ()):
        import shapely

        mid = shapely.points((net.x[net.u] + net.x[net.v]) / 2, (net.y[net.u] + net.y[net.v]) / 2)
        geoms = polygons_l93(communes)
        pt, poly = geoms.sindex.query(mid, predicate="within")
        is_centre = communes["deg3"].to_numpy() == 1
        urban[pt[is_centre[poly]]] = True
    report = {**net.report, "urban_km": round(float(net.length_m[urban].sum()) / 1e3, 1)}
    return dataclasses.replace(net, urban=urban, report=report)
