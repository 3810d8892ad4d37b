"""The main-road road model: the Travel Mapping network timed with calibrated speeds.

Times are *modelled on the real main-road network, speeds calibrated on OSRM car times*:
neither OpenStreetMap street-level routing nor observed traffic.

- Edge time = straight length × fitted seconds per km of its class
  (:data:`~analysis.mainroads.network.EDGE_CLASSES`).
- First and last mile, one rule for origins and sites
  (:meth:`MainRoadParams.leg_s`): from a point to the nearest node, a fixed time plus the
  straight distance × fitted seconds per km. A commune's residents start from its origin
  point (a point inside the polygon); a site from its position (a site placed at commune
  level sits at that point too, so it shares its commune's rule).
- The speeds are fitted by ``python -m analysis.mainroads.calibrate`` on the OSRM car
  durations between the 512 town halls of Isère (training origins) and checked on
  held-out origins; the figures below are that run's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import geopandas as gpd
import numpy as np

from .. import settings
from ..cache import cache_key, load_or_build, load_road_arrays, save_road_model
from ..errors import DataMissingError, ValidationError
from ..graph import RoadGraph, nearest_nodes
from ..road_model import RoadModel
from .network import EDGE_CLASSES, MainRoadNetwork, graph_from_travelmapping, mark_urban

logger = logging.getLogger(__name__)

#: The label every result computed on this model carries.
LABEL = (
    "modelled on the real main-road network (Travel Mapping), speeds calibrated on OSRM car "
    "times — neither OSM street-level routing nor observed traffic"
)

#: Label when the parameters differ from the calibrated defaults.
LABEL_CUSTOM = "modelled on the real main-road network (Travel Mapping), custom speeds"

#: Version of the build recipe, part of the cache key.
BUILD_VERSION = 1

#: Where the inputs lie in the mirror (``settings.shared_data_dir``).
TARBALL = Path("roads/travelmapping/hwy_data_FRA_3d7993c.tar.gz")
INTERCHANGES = Path("roads/tent_route500/noeuds_ech.geojson")

#: Seconds per km of each class, fitted (see :data:`CALIBRATION_SUMMARY`).
FITTED_S_PER_KM: tuple[float, ...] = (38.07, 64.72, 70.15, 70.15, 45.0)
#: Extra seconds per km inside urban-centre communes, fitted.
FITTED_URBAN_EXTRA_S_PER_KM = 16.15
#: First/last-mile leg: fixed seconds and seconds per straight km, fitted.
FITTED_LEG_FIXED_S = 46.2
FITTED_LEG_S_PER_KM = 60.0

#: Error of the fitted defaults, from ``python -m analysis.mainroads.calibrate --rounds 5``
#: (2026-12-03): "test" = pairs of two held-out town halls (140 of 512 origins held out).
CALIBRATION_SUMMARY: dict[str, Any] = {
    "source": "OSRM car durations between the 512 town halls of Isère (2021, car.lua)",
    "method": "python -m analysis.mainroads.calibrate",
    "counts": {"origins": 512, "origins_held_out": 140, "train_pairs": 138012, "test_pairs": 19460},
    "train": {"n": 138012, "median_abs_pct": 4.6, "bias_pct": -1.0, "p90_abs_pct": 14.1},
    "test": {"n": 19460, "median_abs_pct": 4.3, "bias_pct": -1.5, "p90_abs_pct": 12.4},
    "test_mae_min_by_band": {
        "0-20 min": 1.66,
        "20-40 min": 2.42,
        "40-60 min": 3.06,
        "60+ min": 3.79,
    },
    "adjacency_test": {"n": 19460, "median_abs_pct": 13.8, "bias_pct": -9.6, "p90_abs_pct": 34.4},
    "coach_slower_share_pct": 54.5,
}


@dataclass(frozen=True)
class MainRoadParams:
    """Parameters of the main-road model.

    Parameters
    ----------
    s_per_km
        Seconds per km of straight edge length for each class of
        :data:`~analysis.mainroads.network.EDGE_CLASSES` (autoroute, nationale,
        départementale, métropole, exit connector). Fitted.
    urban_extra_s_per_km
        Extra seconds per km on the edges inside urban-centre communes (traffic lights,
        junctions). Fitted.
    leg_fixed_s, leg_s_per_km
        First/last-mile leg between a point and its node: fixed seconds plus seconds per
        straight km. Fitted.
    buffer_km
        Extent of the network around the communes (border communes route outside).
    exit_join_m, interchange_m
        Motorway exits joined to a road within ``exit_join_m`` only where a ROUTE 500
        interchange lies within ``interchange_m``.
    max_snap_m
        Points farther than this from every node are flagged (sites) or refused (origins).
    """

    s_per_km: tuple[float, ...] = FITTED_S_PER_KM
    urban_extra_s_per_km: float = FITTED_URBAN_EXTRA_S_PER_KM
    leg_fixed_s: float = FITTED_LEG_FIXED_S
    leg_s_per_km: float = FITTED_LEG_S_PER_KM
    buffer_km: float = 30.0
    exit_join_m: float = 1_500.0
    interchange_m: float = 1_000.0
    max_snap_m: float = 10_000.0

    def __post_init__(self) -> None:
        if len(self.s_per_km) != len(EDGE_CLASSES):
            raise ValidationError(
                f"s_per_km needs one value per class ({', '.join(EDGE_CLASSES)}), "
                f"not {len(self.s_per_km)}"
            )
        values = [*self.s_per_km, self.leg_fixed_s, self.leg_s_per_km]
        if not all(np.isfinite(v) and v >= 0 for v in values):
            raise ValidationError("main-road speeds and legs must be finite, non-negative numbers")
        if (
            not np.isfinite(self.urban_extra_s_per_km)
            or min(self.s_per_km) + min(self.urban_extra_s_per_km, 0) <= 0
        ):
            raise ValidationError("urban_extra_s_per_km must keep every urban edge time positive")

    @property
    def is_calibrated(self) -> bool:
        """Whether the timing parameters are the fitted defaults."""
        d = MainRoadParams()
        timing = ("s_per_km", "urban_extra_s_per_km", "leg_fixed_s", "leg_s_per_km")
        return all(getattr(self, k) == getattr(d, k) for k in timing)

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a plain dictionary (for metadata and cache keys)."""
        return dataclasses.asdict(self)

    def leg_s(self, dist_m: np.ndarray) -> np.ndarray:
        """Return the time from a point to its node, seconds: the one first/last-mile rule."""
        return self.leg_fixed_s + np.asarray(dist_m, dtype=float) / 1e3 * self.leg_s_per_km

    def speeds_kmh(self) -> dict[str, float]:
        """Effective speed of each class on the straight edge length, km/h."""
        return {c: round(3600.0 / s, 1) for c, s in zip(EDGE_CLASSES, self.s_per_km, strict=True)}


def edge_times(net: MainRoadNetwork, params: MainRoadParams) -> np.ndarray:
    """Travel time of each undirected edge, seconds (class rate, plus the urban extra)."""
    rate = np.asarray(params.s_per_km, dtype=float)[net.klass]
    rate = rate + params.urban_extra_s_per_km * net.is_urban
    return net.length_m / 1e3 * rate


def timed_graph(net: MainRoadNetwork, params: MainRoadParams) -> RoadGraph:
    """Time the network with ``params`` as a symmetric :class:`RoadGraph`."""
    w = edge_times(net, params)
    label = LABEL if params.is_calibrated else LABEL_CUSTOM
    return RoadGraph.from_edges(
        np.concatenate([net.u, net.v]),
        np.concatenate([net.v, net.u]),
        np.concatenate([w, w]),
        net.x,
        net.y,
        model="mainroads",
        label=label,
        meta={"network": net.report},
    )


class SiteLegRule(TypedDict):
    """:class:`RoadModel`'s site-snap arguments (see :func:`site_leg_rule`)."""

    snap_speed_kmh: float
    snap_circuity: float
    snap_fixed_s: float
    max_snap_m: float


def site_leg_rule(params: MainRoadParams) -> SiteLegRule:
    """Return :meth:`MainRoadParams.leg_s` as :class:`RoadModel`'s site-snap arguments.

    Sites join the network by the same rule as the origins: ``leg_fixed_s`` plus the
    straight distance at ``leg_s_per_km`` (no circuity: it is in the fitted rate).
    """
    speed = 3600.0 / params.leg_s_per_km if params.leg_s_per_km > 0 else 1e9
    return {
        "snap_speed_kmh": speed,
        "snap_circuity": 1.0,
        "snap_fixed_s": params.leg_fixed_s,
        "max_snap_m": params.max_snap_m,
    }


def default_sources(shared_dir: Path | None = None) -> tuple[Path, Path]:
    """Return the tarball and interchange file in the mirror (``settings.shared_data_dir``)."""
    root = Path(shared_dir) if shared_dir is not None else settings.shared_data_dir
    tar = settings.travelmapping_source if shared_dir is None else None
    return (tar or root / TARBALL), root / INTERCHANGES


def mainroads_available(shared_dir: Path | None = None) -> bool:
    """Whether the Travel Mapping tarball is in the mirror (the default model's condition)."""
    return default_sources(shared_dir)[0].exists()


def model_from_network(
    net: MainRoadNetwork, communes: gpd.GeoDataFrame, params: MainRoadParams
) -> RoadModel:
    """Put the communes on a built network and wrap it as a :class:`RoadModel`.

    Raises
    ------
    ValidationError
        If a commune's origin point lies farther than ``max_snap_m`` from every road.
    """
    graph = timed_graph(net, params)
    ox = communes["x_l93"].to_numpy(float)
    oy = communes["y_l93"].to_numpy(float)
    nodes, dist = nearest_nodes(graph, ox, oy)
    far = np.flatnonzero(dist > params.max_snap_m)
    if len(far):
        names = ", ".join(communes["insee"].astype(str).iloc[far[:5]])
        raise ValidationError(
            f"{len(far)} commune(s) lie farther than {params.max_snap_m / 1e3:.0f} km from "
            f"every main road ({names}); widen buffer_km or check the commune layer"
        )
    meta = {
        "road_model": "mainroads",
        "params": params.to_dict(),
        "speeds_kmh": params.speeds_kmh(),
        "calibrated": params.is_calibrated,
        "calibration": dict(CALIBRATION_SUMMARY),
        "network": net.report,
        "origin_snap_m": {
            "median": round(float(np.median(dist)), 0),
            "max": round(float(dist.max()), 0),
        },
        "licence": "Travel Mapping HighwayData: no licence stated; read from the local "
        "mirror, never redistributed",
        "build_version": BUILD_VERSION,
    }
    return RoadModel(
        graph=graph,
        origin_ids=communes["insee"].astype(str).to_numpy(dtype=object),
        origin_nodes=nodes,
        origin_offsets_s=params.leg_s(dist),
        meta=meta,
        **site_leg_rule(params),
    )


def build_mainroad_network(
    communes: gpd.GeoDataFrame,
    *,
    params: MainRoadParams | None = None,
    source: str | Path | None = None,
    interchanges: str | Path | None = None,
) -> MainRoadNetwork:
    """Build the untimed main-road network around the communes.

    Parameters
    ----------
    communes
        Commune table (origins: ``x_l93``, ``y_l93``).
    params
        Extent and exit rules; defaults if not given.
    source, interchanges
        Travel Mapping tarball/folder and ROUTE 500 interchanges; the mirror's if not given.

    Returns
    -------
    MainRoadNetwork
    """
    params = params or MainRoadParams()
    tar, ich = default_sources()
    source = Path(source) if source is not None else tar
    if not source.exists():
        raise DataMissingError(
            f"{source}: the Travel Mapping road data is not there; put the HighwayData "
            "hwy_data tarball or folder there (https://github.com/TravelMapping/HighwayData) "
            "or use --road estimated"
        )
    net = graph_from_travelmapping(
        source,
        origins_xy=(communes["x_l93"].to_numpy(float), communes["y_l93"].to_numpy(float)),
        buffer_km=params.buffer_km,
        interchanges=interchanges if interchanges is not None else ich,
        exit_join_m=params.exit_join_m,
        interchange_m=params.interchange_m,
    )
    return mark_urban(net, communes)


def build_mainroad_model(
    communes: gpd.GeoDataFrame,
    *,
    params: MainRoadParams | None = None,
    source: str | Path | None = None,
    interchanges: str | Path | None = None,
) -> RoadModel:
    """Build the main-road model of the communes (no cache).

    Parameters
    ----------
    communes
        Commune table (see :func:`analysis.communes.load_communes`).
    params
        Model parameters; the calibrated defaults if not given.
    source, interchanges
        See :func:`build_mainroad_network`.

    Returns
    -------
    RoadModel
        ``graph.model == "mainroads"``; origins in the commune table's order.
    """
    params = params or MainRoadParams()
    net = build_mainroad_network(communes, params=params, source=source, interchanges=interchanges)
    return model_from_network(net, communes, params)


# ---------------------------------------------------------------------- cache
def _file_stamp(path: Path) -> str:
    """Size and modification time of an input (cheap change detection for the cache key)."""
    if not path.exists():
        return f"{path.name}:missing"
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def inputs_key(
    communes: gpd.GeoDataFrame, params: MainRoadParams, source: Path, interchanges: Path
) -> str:
    """Hash of everything the model depends on (communes' points, parameters, input files)."""
    recipe = {
        "v": BUILD_VERSION,
        "params": params.to_dict(),
        "src": _file_stamp(source),
        "ich": _file_stamp(interchanges),
    }
    return cache_key(
        json.dumps(recipe, sort_keys=True),
        "\x1f".join(communes["insee"].astype(str)),
        *(
            np.ascontiguousarray(communes[col].to_numpy(dtype=float)).tobytes()
            for col in ("x_l93", "y_l93")
        ),
        size=12,
    )


def _read(path: Path, params: MainRoadParams) -> RoadModel:
    """Read a main-road model cached by :func:`analysis.cache.save_road_model`."""
    z, meta = load_road_arrays(path)
    graph = RoadGraph(
        x=z["x"], y=z["y"], indptr=z["indptr"], indices=z["indices"], weights=z["weights"],
        model="mainroads", label=str(z["label"]), meta={"network": meta.get("network", {})},
    )  # fmt: skip
    return RoadModel(
        graph=graph,
        origin_ids=z["origin_ids"].astype(object),
        origin_nodes=z["origin_nodes"],
        origin_offsets_s=z["origin_offsets_s"],
        meta=meta,
        **site_leg_rule(params),
    )


def load_or_build_mainroad_model(
    communes: gpd.GeoDataFrame,
    *,
    params: MainRoadParams | None = None,
    source: str | Path | None = None,
    interchanges: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> RoadModel:
    """Return the main-road model from the cache, building and caching it if needed.

    The cache ``mainroads_<key>.npz`` (with a ``.sha256`` sidecar) is keyed by a hash of the
    communes' points, the parameters and the inputs' size and date; a missing, corrupt or
    stale file is rebuilt.

    Parameters
    ----------
    communes, params, source, interchanges
        See :func:`build_mainroad_model`.
    cache_dir
        Folder of the cache; :data:`analysis.settings.processed_data_dir` if not given.

    Returns
    -------
    RoadModel
    """
    params = params or MainRoadParams()
    tar, ich = default_sources()
    src = Path(source) if source is not None else tar
    ich_path = Path(interchanges) if interchanges is not None else ich
    folder = Path(cache_dir) if cache_dir is not None else settings.processed_data_dir
    path = folder / f"mainroads_{inputs_key(communes, params, src, ich_path)}.npz"
    return load_or_build(
        path,
        build=lambda: build_mainroad_model(
            communes, params=params, source=src, interchanges=ich_path
        ),
        read=lambda p: _read(p, params),
        write=save_road_model,
        what="main-road model",
        log=logger,
    )
