"""The *estimated* regional road network: communes linked to their neighbours.

When no OpenStreetMap extract is at hand, travel times come from a coarse network whose
nodes are the communes and whose edges join communes that share a border. Every result
computed on it is labelled ``estimated`` (the graph's ``model``).

Model
-----
- **Nodes**: one per commune, at its origin point (``x_l93``, ``y_l93``, a point inside
  the polygon), identified by its INSEE code.
- **Edges**: two communes are neighbours when their polygons (Lambert-93) lie within
  ``adjacency_tolerance_m`` of each other along at least ``min_shared_border_m`` of
  border. The tolerance lets the simplified polygons of the bundled layer touch; the
  minimum length drops mere corner contacts (four communes meeting at a point), where no
  road passes. Both directions get the same time::

      t(u, v) = d(u, v) × circuity × (0.5 / speed[class u] + 0.5 / speed[class v])

  with ``d`` the straight Lambert-93 distance between the nodes: half of the edge is
  driven at the speed of each end's settlement class (1 urban centre, 2 intermediate,
  3 rural).
- **Connectivity repair**: if the adjacency graph is not connected (islands, or gaps in
  simplified polygons), each component other than the largest is joined, smallest first,
  by one edge between its node and the nearest node outside it (straight distance), with
  the same time formula, until the graph is connected. The repairs are listed in
  ``graph.meta["connectivity_repairs"]``.
- **Access time of a commune** (``RoadModel.origin_offsets_s``): a commune is not a
  point. Its residents are spread over its area; modelling it as a disc of the same area
  ``A`` (radius ``R = sqrt(A / π)``) with uniform residents, the mean straight distance to
  the centre is ``2R/3``, driven at the commune's class speed with the same circuity::

      access = (2/3) × sqrt(A / π) × circuity / speed[class]

  INSEE's chef-lieu-to-chef-lieu method sets it to 0 and so under-estimates.
- **Sites** join the nearest commune node (``RoadModel.snap_sites``) with a straight-line
  leg at ``snap_speed_kmh`` × ``snap_circuity``; sites farther than ``max_snap_m`` from
  every node are flagged.

The speeds are fitted on the scheduled times of TER coaches between consecutive stops
(:mod:`analysis.estimated.calibration`); see ``docs/estimated_network.md`` for the method and the
measured error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .. import settings
from ..adjacency import adjacent_pairs
from ..cache import cache_key, load_or_build, load_road_arrays, save_road_model
from ..crs import polygons_l93
from ..errors import ValidationError
from ..graph import RoadGraph
from ..road_model import RoadModel

logger = logging.getLogger(__name__)

#: Label carried by the graph and every result computed on it (calibrated defaults).
LABEL = "estimated regional road network (commune adjacency, calibrated on TER coach timetables)"

#: Label when the speeds or circuity differ from the calibrated defaults.
LABEL_CUSTOM = "estimated regional road network (commune adjacency, custom parameters)"

#: Settlement classes (``deg3``) in the order of :attr:`EstimatedNetworkParams.speeds_kmh`.
CLASS_NAMES = ("urban centre", "intermediate", "rural")

#: Columns :func:`build_estimated_network` needs in the commune table.
REQUIRED_COLUMNS = ("insee", "x_l93", "y_l93", "deg3", "surface_km2", "geometry")

#: Version of the build recipe; part of the cache key (bump when the method changes).
BUILD_VERSION = 1

# Fitted by ``python -m analysis.estimated.calibration`` (its ``calibrate`` with the
# defaults: TER coach hops of sncf_ter_2025-01.zip, 458 training stop pairs, circuity 1.3,
# commune layer COG 2026) -- see docs/estimated_network.md. Travel times only identify
# speed / circuity, so the circuity is fixed and the speeds are fitted. The defaults are
# the training-split fit, so the held-out error below is the error of these very values.
FITTED_SPEED_URBAN_KMH = 37.6
FITTED_SPEED_INTERMEDIATE_KMH = 52.0
FITTED_SPEED_RURAL_KMH = 74.0

#: Error of the fitted defaults in that calibration run (percent of the scheduled coach
#: time, per stop pair; "test" = 110 held-out pairs of 32 held-out routes; the hop model is
#: network time + a fitted coach stop overhead of 73 s; "network only" leaves it out).
CALIBRATION_SUMMARY: dict[str, Any] = {
    "source": "SNCF TER GTFS 2025-01 (sncf_ter_2025-01.zip), coach hops in the region",
    "method": "analysis.estimated.calibration.calibrate (defaults)",
    "stop_overhead_s": 72.8,
    "train": {"n": 458, "median_abs_pct": 21.2, "bias_pct": -0.0, "p90_abs_pct": 57.0},
    "test": {"n": 110, "median_abs_pct": 19.4, "bias_pct": 1.1, "p90_abs_pct": 52.6},
    "test_network_only": {"n": 110, "median_abs_pct": 21.1, "bias_pct": -9.0, "p90_abs_pct": 56.5},
    "crowfly_test": {"n": 110, "median_abs_pct": 20.9, "bias_pct": -5.0, "p90_abs_pct": 52.3},
}


@dataclass(frozen=True)
class EstimatedNetworkParams:
    """Parameters of the estimated network.

    Parameters
    ----------
    circuity
        Road distance over straight distance between neighbouring commune nodes, and
        within a commune. Fixed (not fitted): travel times only identify
        ``speed / circuity``. 1.3 is a usual detour index of French rural roads at
        short range.
    speed_urban_kmh, speed_intermediate_kmh, speed_rural_kmh
        Mean driving speed on the road distance in communes of each settlement class
        (``deg3`` 1, 2, 3). Defaults fitted on TER coach timetables.
    snap_speed_kmh, snap_circuity
        Speed and detour factor of the straight leg between a site and its commune node.
    max_snap_m
        Sites farther than this from every commune node are flagged ``too_far``.
    adjacency_tolerance_m
        Polygons closer than this (Lambert-93 metres) count as touching.
    min_shared_border_m
        Minimum length of border (within the tolerance) for two communes to be
        neighbours; drops corner contacts.
    """

    circuity: float = 1.3
    speed_urban_kmh: float = FITTED_SPEED_URBAN_KMH
    speed_intermediate_kmh: float = FITTED_SPEED_INTERMEDIATE_KMH
    speed_rural_kmh: float = FITTED_SPEED_RURAL_KMH
    snap_speed_kmh: float = 30.0
    snap_circuity: float = 1.3
    max_snap_m: float = 15_000.0
    adjacency_tolerance_m: float = 1.0
    min_shared_border_m: float = 10.0

    def __post_init__(self) -> None:
        positive = {
            "circuity": self.circuity,
            "speed_urban_kmh": self.speed_urban_kmh,
            "speed_intermediate_kmh": self.speed_intermediate_kmh,
            "speed_rural_kmh": self.speed_rural_kmh,
            "snap_speed_kmh": self.snap_speed_kmh,
            "snap_circuity": self.snap_circuity,
            "max_snap_m": self.max_snap_m,
        }
        bad = [k for k, v in positive.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise ValidationError(f"estimated network parameters must be positive: {bad}")
        if self.circuity < 1 or self.snap_circuity < 1:
            raise ValidationError("circuity factors must be at least 1")
        if self.adjacency_tolerance_m < 0 or self.min_shared_border_m < 0:
            raise ValidationError("adjacency tolerance and minimum border must be >= 0")

    @property
    def speeds_kmh(self) -> np.ndarray:
        """Speeds of classes 1, 2, 3 (urban centre, intermediate, rural), km/h."""
        return np.array([self.speed_urban_kmh, self.speed_intermediate_kmh, self.speed_rural_kmh])

    def with_speeds(self, speeds_kmh: np.ndarray) -> EstimatedNetworkParams:
        """Return a copy with the three class speeds replaced."""
        s = [float(v) for v in np.asarray(speeds_kmh, dtype=float)]
        return dataclasses.replace(
            self, speed_urban_kmh=s[0], speed_intermediate_kmh=s[1], speed_rural_kmh=s[2]
        )

    @property
    def is_calibrated(self) -> bool:
        """Whether the speeds and circuity are the calibrated defaults."""
        ref = EstimatedNetworkParams()
        return bool(
            np.allclose(self.speeds_kmh, ref.speeds_kmh, rtol=0, atol=1e-9)
            and self.circuity == ref.circuity
        )

    def to_dict(self) -> dict[str, float]:
        """Plain dictionary of the parameters (for provenance and cache keys)."""
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class CommuneSkeleton:
    """The parameter-free part of the estimated network: nodes, neighbour pairs.

    Edge and access times follow from it and the speeds (:func:`edge_times`,
    :func:`access_times`), so a calibration can re-time the network cheaply.

    Attributes
    ----------
    insee
        INSEE code of each node (the commune table's order).
    x, y
        Node coordinates, Lambert-93 metres.
    deg3
        Settlement class of each node (1, 2, 3).
    area_km2
        Area of each commune, km².
    u, v
        Neighbour pairs (each unordered pair once, ``u < v`` for adjacency edges).
    dist_m
        Straight distance between the nodes of each pair, metres.
    repaired
        Whether each pair was added by the connectivity repair.
    n_corner_contacts
        Pairs that touched only at a point (or along less than the minimum border) and
        were dropped.
    repairs
        The links added by the connectivity repair: ``{"from", "to", "dist_m"}`` with
        INSEE codes and the straight distance between the nodes.
    """

    insee: np.ndarray
    x: np.ndarray
    y: np.ndarray
    deg3: np.ndarray
    area_km2: np.ndarray
    u: np.ndarray
    v: np.ndarray
    dist_m: np.ndarray
    repaired: np.ndarray
    n_corner_contacts: int = 0
    repairs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_nodes(self) -> int:
        """Number of communes."""
        return len(self.x)


def label_for(params: EstimatedNetworkParams) -> str:
    """Return the label of a network built with ``params`` (:data:`LABEL` if calibrated)."""
    return LABEL if params.is_calibrated else LABEL_CUSTOM


def _validate(communes: gpd.GeoDataFrame) -> None:
    """Check the commune table has what the network needs."""
    missing = [c for c in REQUIRED_COLUMNS if c not in communes.columns]
    if missing:
        raise ValidationError(
            f"the commune table lacks column(s) {missing}; build it with "
            "analysis.communes.load_communes()",
            source="communes",
        )
    if len(communes) == 0:
        raise ValidationError("the commune table is empty", source="communes")
    if communes.crs is None:
        raise ValidationError("the commune polygons have no CRS", source="communes")
    dup = communes["insee"].duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValidationError(
            "duplicate INSEE codes in the commune table", source="communes",
            rows=np.flatnonzero(dup) + 1,
        )  # fmt: skip
    deg3 = pd.to_numeric(communes["deg3"], errors="coerce").to_numpy()
    bad = ~np.isin(deg3, (1, 2, 3))
    if bad.any():
        raise ValidationError(
            "deg3 must be 1 (urban centre), 2 (intermediate) or 3 (rural)",
            source="communes", rows=np.flatnonzero(bad) + 1,
        )  # fmt: skip
    xy = communes[["x_l93", "y_l93"]].to_numpy(dtype=float)
    area = pd.to_numeric(communes["surface_km2"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(xy).all(axis=1) | ~np.isfinite(area) | (area < 0)
    if bad.any():
        raise ValidationError(
            "communes need finite x_l93, y_l93 and a non-negative surface_km2",
            source="communes", rows=np.flatnonzero(bad) + 1,
        )  # fmt: skip
    empty = communes.geometry.is_empty.to_numpy() | communes.geometry.isna().to_numpy()
    if empty.any():
        raise ValidationError(
            "communes without a polygon", source="communes", rows=np.flatnonzero(empty) + 1
        )


def _repair_connectivity(
    x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining every component to the rest, smallest component first.

    Each round joins the smallest component to the nearest node outside it (straight
    distance between nodes), until one component remains.
    """
    n = len(x)
    add_u: list[int] = []
    add_v: list[int] = []
    pts = np.column_stack([x, y])
    while True:
        uu = np.concatenate([u, np.asarray(add_u, dtype=np.int64)])
        vv = np.concatenate([v, np.asarray(add_v, dtype=np.int64)])
        adj = coo_matrix((np.ones(len(uu)), (uu, vv)), shape=(n, n))
        n_comp, label = connected_components(adj, directed=False)
        if n_comp <= 1:
            break
        sizes = np.bincount(label, minlength=n_comp)
        smallest = int(np.argmin(sizes))  # lowest label among ties: deterministic
        inside = np.flatnonzero(label == smallest)
        outside = np.flatnonzero(label != smallest)
        dist, j = cKDTree(pts[outside]).query(pts[inside], k=1)
        best = int(np.argmin(dist))
        a, b = int(inside[best]), int(outside[j[best]])
        add_u.append(min(a, b))
        add_v.append(max(a, b))
    return np.asarray(add_u, dtype=np.int64), np.asarray(add_v, dtype=np.int64)


def commune_skeleton(
    communes: gpd.GeoDataFrame, *, params: EstimatedNetworkParams | None = None
) -> CommuneSkeleton:
    """Nodes and neighbour pairs of the estimated network (no times yet).

    Parameters
    ----------
    communes
        Commune table as returned by :func:`analysis.communes.load_communes` (needs
        ``insee``, ``x_l93``, ``y_l93``, ``deg3``, ``surface_km2`` and polygons in any CRS).
    params
        Adjacency tolerance and minimum shared border; defaults if not given.

    Returns
    -------
    CommuneSkeleton

    Raises
    ------
    ValidationError
        If a required column is missing or holds invalid values.
    """
    params = params or EstimatedNetworkParams()
    _validate(communes)
    x = communes["x_l93"].to_numpy(dtype=float)
    y = communes["y_l93"].to_numpy(dtype=float)
    geoms = polygons_l93(communes).to_numpy()
    u, v, n_corner = adjacent_pairs(
        geoms, tolerance_m=params.adjacency_tolerance_m, min_shared_m=params.min_shared_border_m
    )
    ru, rv = _repair_connectivity(x, y, u, v)
    insee = communes["insee"].astype(str).to_numpy()
    repairs = [
        {
            "from": str(insee[a]),
            "to": str(insee[b]),
            "dist_m": round(float(np.hypot(x[a] - x[b], y[a] - y[b])), 1),
        }
        for a, b in zip(ru, rv, strict=True)
    ]
    if repairs:
        logger.warning(
            "estimated network: %d commune group(s) had no neighbour and were joined to the "
            "nearest commune: %s", len(repairs), repairs,
        )  # fmt: skip
    uu = np.concatenate([u, ru])
    vv = np.concatenate([v, rv])
    logger.info(
        "estimated network: %d communes, %d neighbour pairs (%d corner contacts dropped, "
        "%d repair links)", len(x), len(u), n_corner, len(ru),
    )  # fmt: skip
    return CommuneSkeleton(
        insee=insee,
        x=x,
        y=y,
        deg3=communes["deg3"].to_numpy(dtype=np.int64),
        area_km2=communes["surface_km2"].to_numpy(dtype=float),
        u=uu,
        v=vv,
        dist_m=np.hypot(x[uu] - x[vv], y[uu] - y[vv]),
        repaired=np.concatenate([np.zeros(len(u), bool), np.ones(len(ru), bool)]),
        n_corner_contacts=n_corner,
        repairs=repairs,
    )


def edge_class_lengths(skeleton: CommuneSkeleton, circuity: float) -> np.ndarray:
    """Road length of each pair driven in each class.

    Half of each edge lies in each end's class, so
    ``time = lengths @ (1 / speed_m_per_s)``.

    Parameters
    ----------
    skeleton
        Nodes and neighbour pairs.
    circuity
        Road distance over straight distance.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_pairs, 3)``: metres in urban-centre, intermediate and rural communes.
    """
    half = 0.5 * skeleton.dist_m * circuity
    out = np.zeros((len(half), 3))
    np.add.at(out, (np.arange(len(half)), skeleton.deg3[skeleton.u] - 1), half)
    np.add.at(out, (np.arange(len(half)), skeleton.deg3[skeleton.v] - 1), half)
    return out


def edge_times(skeleton: CommuneSkeleton, params: EstimatedNetworkParams) -> np.ndarray:
    """Travel time of each neighbour pair (either direction).

    Parameters
    ----------
    skeleton
        Nodes and neighbour pairs.
    params
        Circuity and class speeds.

    Returns
    -------
    numpy.ndarray
        Seconds, one per pair of ``skeleton.u, skeleton.v``.
    """
    return edge_class_lengths(skeleton, params.circuity) @ (3.6 / params.speeds_kmh)


def access_times(
    area_km2: np.ndarray, deg3: np.ndarray, params: EstimatedNetworkParams
) -> np.ndarray:
    """Mean time from a commune's residents to its node, seconds.

    A disc of the commune's area with uniform residents: mean distance ``2R/3`` to the
    centre, times ``circuity``, at the commune's class speed.

    Parameters
    ----------
    area_km2
        Commune areas, km².
    deg3
        Settlement class of each commune (1, 2, 3).
    params
        Circuity and class speeds.

    Returns
    -------
    numpy.ndarray
    """
    radius_m = np.sqrt(np.asarray(area_km2, dtype=float) * 1e6 / np.pi)
    speed_ms = params.speeds_kmh[np.asarray(deg3, dtype=np.int64) - 1] / 3.6
    return (2.0 / 3.0) * radius_m * params.circuity / speed_ms


def model_from_skeleton(skeleton: CommuneSkeleton, params: EstimatedNetworkParams) -> RoadModel:
    """Time a skeleton with ``params`` and wrap it as a :class:`RoadModel`.

    Parameters
    ----------
    skeleton
        Nodes and neighbour pairs (:func:`commune_skeleton`).
    params
        Speeds, circuity and snap rules.

    Returns
    -------
    RoadModel
        See :func:`build_estimated_network`.
    """
    w = edge_times(skeleton, params)
    u = np.concatenate([skeleton.u, skeleton.v])
    v = np.concatenate([skeleton.v, skeleton.u])
    meta = {
        "road_model": "estimated",
        "params": params.to_dict(),
        "calibrated": params.is_calibrated,
        "calibration": dict(CALIBRATION_SUMMARY),
        "n_adjacent_pairs": int((~skeleton.repaired).sum()),
        "n_corner_contacts_dropped": int(skeleton.n_corner_contacts),
        "connectivity_repairs": list(skeleton.repairs),
        "build_version": BUILD_VERSION,
    }
    graph = RoadGraph.from_edges(
        u, v, np.concatenate([w, w]), skeleton.x, skeleton.y,
        model="estimated", label=label_for(params), node_ids=skeleton.insee, meta=meta,
    )  # fmt: skip
    return RoadModel(
        graph=graph,
        origin_ids=skeleton.insee.copy(),
        origin_nodes=np.arange(skeleton.n_nodes, dtype=np.int64),
        origin_offsets_s=access_times(skeleton.area_km2, skeleton.deg3, params),
        snap_speed_kmh=params.snap_speed_kmh,
        snap_circuity=params.snap_circuity,
        max_snap_m=params.max_snap_m,
        meta=dict(meta),
    )


def build_estimated_network(
    communes: gpd.GeoDataFrame, *, params: EstimatedNetworkParams | None = None
) -> RoadModel:
    """Build the estimated regional road network of the communes.

    Parameters
    ----------
    communes
        Commune table as returned by :func:`analysis.communes.load_communes` (columns
        ``insee``, ``x_l93``, ``y_l93``, ``deg3``, ``surface_km2``, polygon geometry).
    params
        Model parameters; :class:`EstimatedNetworkParams` defaults (fitted on TER coach
        timetables) if not given.

    Returns
    -------
    RoadModel
        ``graph.model == "estimated"``, one node per commune in the table's order
        (``graph.node_ids`` = INSEE codes, ``origin_nodes = arange(n)``), symmetric
        edges between neighbours, ``origin_offsets_s`` = access time of each commune.

    Raises
    ------
    ValidationError
        If the commune table lacks a column or holds invalid values.
    """
    params = params or EstimatedNetworkParams()
    return model_from_skeleton(commune_skeleton(communes, params=params), params)


# ---------------------------------------------------------------------- cache
def inputs_key(communes: gpd.GeoDataFrame, params: EstimatedNetworkParams) -> str:
    """Hash of everything the network depends on (communes, parameters, recipe)."""
    _validate(communes)
    recipe = {"v": BUILD_VERSION, "params": params.to_dict(), "calibration": CALIBRATION_SUMMARY}
    return cache_key(
        json.dumps(recipe, sort_keys=True, default=str),
        "\x1f".join(communes["insee"].astype(str)),
        *(
            np.ascontiguousarray(communes[col].to_numpy(dtype=float)).tobytes()
            for col in ("x_l93", "y_l93", "surface_km2", "deg3")
        ),
        str(communes.crs),
        *shapely.to_wkb(communes.geometry.to_numpy()),
        size=12,
    )


def _write_model(tmp: Path, model: RoadModel) -> None:
    """Write the estimated network (the one road-model layout of :mod:`analysis.cache`)."""
    save_road_model(tmp, model)


def _read_model(path: Path, params: EstimatedNetworkParams) -> RoadModel:
    """Read a road model written by :func:`_write_model`."""
    z, meta = load_road_arrays(path)
    graph = RoadGraph(
        x=z["x"], y=z["y"], indptr=z["indptr"], indices=z["indices"],
        weights=z["weights"], model="estimated", label=label_for(params),
        node_ids=z["node_ids"].astype(object), meta=dict(meta),
    )  # fmt: skip
    return RoadModel(
        graph=graph,
        origin_ids=z["origin_ids"].astype(object),
        origin_nodes=z["origin_nodes"],
        origin_offsets_s=z["origin_offsets_s"],
        snap_speed_kmh=params.snap_speed_kmh,
        snap_circuity=params.snap_circuity,
        max_snap_m=params.max_snap_m,
        meta=meta,
    )


def load_or_build_estimated_network(
    communes: gpd.GeoDataFrame,
    *,
    params: EstimatedNetworkParams | None = None,
    cache_dir: str | Path | None = None,
) -> RoadModel:
    """Return the estimated network from the cache, building and caching it if needed.

    The cache file ``estimated_network_<key>.npz`` (with a ``.sha256`` sidecar) is keyed by
    a hash of the commune table and the parameters; a missing or corrupt file is rebuilt.

    Parameters
    ----------
    communes
        Commune table (see :func:`build_estimated_network`).
    params
        Model parameters; defaults if not given.
    cache_dir
        Folder of the cache; :data:`analysis.settings.processed_data_dir` if not given.

    Returns
    -------
    RoadModel
    """
    params = params or EstimatedNetworkParams()
    folder = Path(cache_dir) if cache_dir is not None else settings.processed_data_dir
    path = folder / f"estimated_network_{inputs_key(communes, params)}.npz"
    return load_or_build(
        path,
        build=lambda: build_estimated_network(communes, params=params),
        read=lambda p: _read_model(p, params),
        write=lambda tmp, m: _write_model(tmp, m),  # looked up at call time (tests patch it)
        what="estimated network",
        log=logger,
    )
