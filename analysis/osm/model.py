"""OSM road models: build (or read from the cache) a graph, put communes and sites on it.

Public entry points:

- :func:`build_osm_graph` — the cached :class:`~analysis.graph.RoadGraph` of an extract or
  a query;
- :func:`osm_road_model` — an :class:`OsmRoadModel` for a graph and the communes;
- :func:`prepare_osm_model` — both, and records the model as the active one
  (``spro-access prepare --osm FILE`` / ``--place NAME``);
- :func:`load_cached_osm_model` — the active model if its cache is valid (used by
  :func:`analysis.models.active_road_model`).

Communes outside the extract
----------------------------
A commune whose origin point lies outside the area the OSM data covers (see
:class:`~analysis.osm.extent.NetworkExtent`), or farther than ``max_origin_snap_m`` from
any node, gets the status ``"outside_network"`` and no time. Its access time
(``origin_offsets_s``) is ``inf``, so that any analysis working on ``origin_nodes`` /
``origin_offsets_s`` directly (what-if, siting) also finds it never covered instead of a
wrong number; :meth:`OsmRoadModel.nearest` reports the status.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import settings
from ..engine import times_for_origins
from ..errors import EmptyProfileError, ValidationError
from ..graph import RoadGraph, nearest_nodes
from ..road_model import OriginTimes, RoadModel, SiteSnap
from . import cache
from .convert import (
    DEFAULT_EDGE_ATTRS,
    check_network,
    edge_table,
    filter_tags,
    network_mask,
    roadgraph_from_table,
)
from .extent import DEFAULT_CELL_M, NetworkExtent
from .load import (
    EXTRACT_HINT,
    OsmSource,
    _iso,
    download_graph,
    file_source,
    query_identity,
    read_pbf_graph,
    read_xml_graph,
)
from .speeds import FALLBACK_SPEED_KMH, FRENCH_SPEEDS_KMH, WALK_SPEED_KMH
from .stream import READER_NAME, STREAM_VERSION, describe_estimate, read_pbf_roadgraph

logger = logging.getLogger(__name__)

#: Status of a commune whose origin point lies outside the OSM data.
OUTSIDE = "outside_network"

#: Sites farther than this from any node are flagged ``too_far`` and left out (metres).
DEFAULT_MAX_SITE_SNAP_M = 2_000.0

#: Communes farther than this from any node are ``outside_network`` (metres), whatever
#: the extent says.
DEFAULT_MAX_ORIGIN_SNAP_M = 10_000.0

#: Speed (km/h) and detour factor of the leg between a point and its node, per network.
SNAP_SPEED_KMH = {"drive": 30.0, "walk": WALK_SPEED_KMH}
SNAP_CIRCUITY = 1.3


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:  # pragma: no cover
        return "absent"


@dataclass(eq=False)
class OsmRoadModel(RoadModel):
    """A :class:`~analysis.road_model.RoadModel` on OSM roads, aware of its extract's edge.

    Parameters
    ----------
    origin_snap_m
        Straight-line distance from each commune's origin point to its node, metres.
    origin_status
        ``"ok"`` or ``"outside_network"`` per commune.

    Notes
    -----
    Other parameters as :class:`~analysis.road_model.RoadModel`. For communes outside the
    network, ``origin_offsets_s`` is ``inf``.
    """

    origin_snap_m: np.ndarray | None = None
    origin_status: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = len(self.origin_ids)
        if self.origin_status is None:
            self.origin_status = np.full(n, "ok", dtype=object)
        if self.origin_snap_m is None:
            self.origin_snap_m = np.zeros(n)
        if len(self.origin_status) != n or len(self.origin_snap_m) != n:
            raise ValidationError("origin status and snap distances need one value per origin")

    @property
    def outside(self) -> np.ndarray:
        """Communes outside the network (boolean, one per origin)."""
        return np.asarray(self.origin_status) != "ok"

    def nearest(self, x_l93: np.ndarray, y_l93: np.ndarray, *, host_ids: Any = None) -> OriginTimes:
        """Time from every origin commune to the nearest of the given sites.

        As :meth:`RoadModel.nearest`, with ``status == "outside_network"`` (time ``inf``,
        site ``-1``) for communes the OSM data does not cover.

        Raises
        ------
        EmptyProfileError
            If there is no site, or no site lies on the OSM network (the extract does not
            cover them).
        """
        if len(x_l93) == 0:
            raise EmptyProfileError("no eligible site: the profile's networks have no site")
        snap = self.snap_sites(x_l93, y_l93)
        self._check_sites_covered(snap)
        res = self.pass_from_snap(snap)
        t, s = times_for_origins(res, self.origin_nodes, self.origin_offsets_s)
        if host_ids is not None:
            t, s = self.apply_host_rule(t, s, host_ids)
        status = np.where(np.isfinite(t), "ok", "unreachable").astype(object)
        out = self.outside
        t = np.where(out, np.inf, t)
        s = np.where(out, -1, s)
        status[out] = np.asarray(self.origin_status)[out]
        return OriginTimes(time_s=t, site=s, status=status)

    def _check_sites_covered(self, snap: SiteSnap) -> None:
        """Raise a clear error when no site lies on the network."""
        if len(snap.too_far) and snap.too_far.all():
            raise EmptyProfileError(
                f"none of the {len(snap.too_far)} eligible site(s) lies within "
                f"{self.max_snap_m:,.0f} m of the road network of {self.label}: the OSM "
                f"data does not cover the sites; {EXTRACT_HINT}"
            )


def _graph_params(
    network: str,
    hwy_speeds: Mapping[str, float] | None,
    fallback_kmh: float,
    walk_speed_kmh: float,
    cell_m: float,
) -> dict[str, Any]:
    """Every parameter a cached graph depends on (part of its key)."""
    p: dict[str, Any] = {"network": network, "largest_scc": True, "extent_cell_m": cell_m}
    if network == "drive":
        p["hwy_speeds"] = dict(sorted((hwy_speeds or FRENCH_SPEEDS_KMH).items()))
        p["fallback_kmh"] = float(fallback_kmh)
        from .speeds import IMPLICIT_MAXSPEEDS_KMH

        p["implicit_maxspeeds"] = dict(sorted(IMPLICIT_MAXSPEEDS_KMH.items()))
    else:
        p["walk_speed_kmh"] = float(walk_speed_kmh)
    return p


def _label(network: str, source: OsmSource) -> str:
    return f"OpenStreetMap {network} network ({source.describe()})"


def build_osm_graph(
    *,
    osm_file: str | Path | None = None,
    place: str | None = None,
    polygon: Any | None = None,
    network: str = "drive",
    hwy_speeds: Mapping[str, float] | None = None,
    fallback_kmh: float = FALLBACK_SPEED_KMH,
    walk_speed_kmh: float = WALK_SPEED_KMH,
    cell_m: float = DEFAULT_CELL_M,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    verbose: bool = False,
    reader: str | None = None,
) -> tuple[cache.CachedGraph, Path]:
    """Return the road graph of an OSM extract or query, from the cache or built and cached.

    Parameters
    ----------
    osm_file
        An ``.osm.pbf`` / ``.osm`` extract (offline).
    place
        Or a place name to download (online).
    polygon
        Or a shapely polygon (EPSG:4326) to download (online).
    network
        ``"drive"`` or ``"walk"``.
    hwy_speeds
        Default speed per highway class (:data:`~analysis.osm.speeds.FRENCH_SPEEDS_KMH`).
    fallback_kmh
        Speed of unknown untagged classes.
    walk_speed_kmh
        Walking speed.
    cell_m
        Cell side of the network's footprint grid.
    cache_dir
        Cache folder (``data/processed`` by default).
    refresh
        Rebuild even if a valid cache exists (e.g. to download fresh data for a place).
    verbose
        Show progress bars.
    reader
        How an ``.osm.pbf`` file is read: ``"stream"`` (default: pyosmium straight into
        arrays, :mod:`analysis.osm.stream`) or ``"osmnx"`` (pyrosm's networkx graph, the
        reference; several times the memory). ``None`` takes the environment variable
        ``SPRO_OSM_READER``, else ``"stream"``. XML files and downloads always go
        through osmnx.

    Returns
    -------
    cached : CachedGraph
        The graph (``model == "osm"``, label naming the source and its date) and extent.
    path : pathlib.Path
        The cache file.

    Raises
    ------
    ValidationError
        For a file that is not OSM data, data without roads, a place that cannot be
        geocoded, or downloads while offline.
    DataMissingError
        If the file does not exist.
    """
    check_network(network)
    if sum(a is not None for a in (osm_file, place, polygon)) != 1:
        raise ValidationError("give exactly one of an OSM file, a place name or a polygon")
    source = file_source(osm_file) if osm_file is not None else None
    if source is None:
        source = query_identity(place=place, polygon=polygon)
    params = _graph_params(network, hwy_speeds, fallback_kmh, walk_speed_kmh, cell_m)
    pbf_reader = resolve_reader(reader)
    streaming = source.file_format == "pbf" and pbf_reader == "stream"
    if source.file_format != "pbf":
        reader_id = ""
    elif streaming:
        reader_id = f"{READER_NAME} osmium {_version('osmium')} v{STREAM_VERSION}"
    else:
        reader_id = f"pyrosm {_version('pyrosm')}"
    key = cache.cache_key(
        source.cache_identity(), {**params, "reader": reader_id, "osmnx": _version("osmnx")}
    )
    path = cache.graph_path(cache_dir, network, key)
    if not refresh:
        hit = cache.load_graph(path)
        if hit is not None:
            logger.info("OSM %s graph read from cache %s", network, path)
            return hit, path

    if streaming:
        return _build_streamed(
            source, network=network, params=params, key=key, path=path,
            hwy_speeds=hwy_speeds, fallback_kmh=fallback_kmh,
            walk_speed_kmh=walk_speed_kmh, cell_m=cell_m, verbose=verbose,
        )  # fmt: skip

    steps = ["read", "convert", "cache"]
    bar = tqdm(total=len(steps), desc=f"OSM {network} graph", disable=not verbose, unit="step")
    t0 = time.perf_counter()
    bar.set_postfix_str("read")
    if source.kind == "file":
        if source.file_format == "pbf":
            G = read_pbf_graph(source.file_path(), network=network, verbose=verbose)
            needs_filter = False
        else:
            G = read_xml_graph(source.file_path(), network=network)
            needs_filter = True
    else:
        G, source = download_graph(
            place=place, polygon=polygon, network=network, cache_dir=cache_dir
        )
        needs_filter = False
    bar.update()
    bar.set_postfix_str("convert")
    attrs = [*DEFAULT_EDGE_ATTRS, "timestamp"]
    if needs_filter:
        attrs += [t for t in filter_tags(network) if t not in attrs]
    table = edge_table(G, attrs=attrs)
    del G
    if needs_filter:
        table = table.subset(network_mask(table, network))
        if table.n_edges == 0:
            raise ValidationError(
                f"this OSM file holds no {'drivable' if network == 'drive' else 'walkable'} "
                f"road; {EXTRACT_HINT}",
                source=str(source.path),
            )
    if source.timestamp_kind == "file modified":
        stamps = pd.to_numeric(pd.Series(table.attrs["timestamp"]), errors="coerce")
        latest = stamps.max()
        if pd.notna(latest) and latest > 0:
            source.timestamp, source.timestamp_kind = _iso(latest), "latest edit"
    label = _label(network, source)
    meta = {
        "label": label,
        "source": source.to_meta(),
        "params": params,
        "build_version": cache.BUILD_VERSION,
        "cache_key": key,
        "osmnx_version": _version("osmnx"),
        "pyrosm_version": _version("pyrosm") if source.file_format == "pbf" else None,
        "built_at": dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    graph = roadgraph_from_table(
        table, network=network, hwy_speeds=hwy_speeds, fallback_kmh=fallback_kmh,
        walk_speed_kmh=walk_speed_kmh, label=label, meta=meta,
    )  # fmt: skip
    del table
    extent = NetworkExtent.from_nodes(
        graph.x, graph.y, area_lonlat_wkb=source.coverage_wkb, cell_m=cell_m
    )
    bar.update()
    bar.set_postfix_str("cache")
    cached = cache.CachedGraph(graph=graph, extent=extent)
    cache.save_graph(cached, path)
    bar.update()
    bar.close()
    logger.info(
        "built %s: %d nodes, %d edges in %.1f s",
        label, graph.n_nodes, graph.n_edges, time.perf_counter() - t0,
    )  # fmt: skip
    return cached, path


#: Readers of ``.osm.pbf`` files (``build_osm_graph(reader=...)``).
PBF_READERS = ("stream", "osmnx")


def resolve_reader(reader: str | None) -> str:
    """Return the PBF reader to use: ``reader``, else ``$SPRO_OSM_READER``, else stream."""
    import os

    name = reader if reader is not None else os.environ.get("SPRO_OSM_READER", "stream")
    name = str(name).strip().lower() or "stream"
    if name == "pyrosm":
        name = "osmnx"
    if name not in PBF_READERS:
        raise ValidationError(
            f"unknown OSM reader {name!r}; valid readers are: {', '.join(PBF_READERS)} "
            "(or pyrosm, the same as osmnx)"
        )
    return name


def _build_streamed(
    source: OsmSource,
    *,
    network: str,
    params: dict[str, Any],
    key: str,
    path: Path,
    hwy_speeds: Mapping[str, float] | None,
    fallback_kmh: float,
    walk_speed_kmh: float,
    cell_m: float,
    verbose: bool,
) -> tuple[cache.CachedGraph, Path]:
    """Build a PBF file's graph with the streaming reader (no networkx) and cache it."""
    assert source.path is not None
    t0 = time.perf_counter()
    estimate = describe_estimate(source.path)
    logger.info("%s", estimate)
    if verbose:
        print(estimate, flush=True)
    meta = {
        "source": source.to_meta(),
        "params": params,
        "build_version": cache.BUILD_VERSION,
        "cache_key": key,
        "reader": READER_NAME,
        "osmium_version": _version("osmium"),
        "osmnx_version": _version("osmnx"),
        "pyrosm_version": None,
        "built_at": dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    result = read_pbf_roadgraph(
        source.path, network=network, hwy_speeds=hwy_speeds, fallback_kmh=fallback_kmh,
        walk_speed_kmh=walk_speed_kmh, meta=meta, verbose=verbose,
    )  # fmt: skip
    graph = result.graph
    if source.timestamp_kind == "file modified" and result.latest_edit > 0:
        source.timestamp, source.timestamp_kind = _iso(result.latest_edit), "latest edit"
    label = _label(network, source)
    graph = dataclasses.replace(
        graph, label=label, meta={**graph.meta, "label": label, "source": source.to_meta()}
    )
    extent = NetworkExtent.from_nodes(
        graph.x, graph.y, area_lonlat_wkb=source.coverage_wkb, cell_m=cell_m
    )
    cached = cache.CachedGraph(graph=graph, extent=extent)
    cache.save_graph(cached, path)
    logger.info(
        "built %s: %d nodes, %d edges in %.1f s (streaming reader)",
        label, graph.n_nodes, graph.n_edges, time.perf_counter() - t0,
    )  # fmt: skip
    return cached, path


def _check_communes(communes: gpd.GeoDataFrame) -> None:
    missing = [c for c in ("insee", "x_l93", "y_l93") if c not in communes.columns]
    if missing:
        raise ValidationError(
            f"the commune table lacks column(s) {', '.join(missing)}; load it with "
            "analysis.communes.load_communes()"
        )


def osm_road_model(
    cached: cache.CachedGraph,
    communes: gpd.GeoDataFrame,
    *,
    max_snap_m: float = DEFAULT_MAX_SITE_SNAP_M,
    max_origin_snap_m: float = DEFAULT_MAX_ORIGIN_SNAP_M,
    snap_speed_kmh: float | None = None,
    snap_circuity: float = SNAP_CIRCUITY,
) -> OsmRoadModel:
    """Put the communes on an OSM graph.

    Each commune's origin point (``x_l93``, ``y_l93``) joins its nearest node; the
    straight-line distance × ``snap_circuity`` at ``snap_speed_kmh`` is its access time.
    Communes outside the graph's extent, or farther than ``max_origin_snap_m`` from any
    node, are ``outside_network`` (access time ``inf``).

    Parameters
    ----------
    cached
        The graph and its extent (see :func:`build_osm_graph`).
    communes
        The commune table (``insee``, ``x_l93``, ``y_l93``).
    max_snap_m
        Sites farther than this from any node are flagged ``too_far`` and left out.
    max_origin_snap_m
        Communes farther than this from any node are outside the network.
    snap_speed_kmh
        Speed of the snap legs; 30 km/h driving, the walking speed on foot.
    snap_circuity
        Detour factor of the snap legs.

    Returns
    -------
    OsmRoadModel
        ``mode`` is ``"road"`` for the drive network, ``"walk"`` for the walk network.
    """
    _check_communes(communes)
    graph: RoadGraph = cached.graph
    network = str(graph.meta.get("network", "drive"))
    speed = float(snap_speed_kmh if snap_speed_kmh is not None else SNAP_SPEED_KMH[network])
    x = communes["x_l93"].to_numpy(dtype=float)
    y = communes["y_l93"].to_numpy(dtype=float)
    if not np.all(np.isfinite(x) & np.isfinite(y)):
        bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y))) + 1
        raise ValidationError("communes without an origin point", source="communes", rows=bad)
    nodes, dist = nearest_nodes(graph, x, y)
    inside = cached.extent.contains(x, y) & (dist <= max_origin_snap_m)
    offsets = np.where(inside, dist * snap_circuity / (speed / 3.6), np.inf)
    status = np.where(inside, "ok", OUTSIDE).astype(object)
    n_out = int((~inside).sum())
    if n_out:
        logger.warning(
            "%d of %d communes lie outside %s and get the status %r",
            n_out, len(inside), graph.label, OUTSIDE,
        )  # fmt: skip
    meta = dict(graph.meta)
    meta.update(
        n_communes=len(inside),
        n_communes_outside=n_out,
        max_snap_m=float(max_snap_m),
        max_origin_snap_m=float(max_origin_snap_m),
        snap_speed_kmh=speed,
        snap_circuity=float(snap_circuity),
    )
    return OsmRoadModel(
        graph=graph,
        origin_ids=communes["insee"].to_numpy(dtype=object),
        origin_nodes=nodes,
        origin_offsets_s=offsets,
        snap_speed_kmh=speed,
        snap_circuity=float(snap_circuity),
        max_snap_m=float(max_snap_m),
        meta=meta,
        mode="road" if network == "drive" else "walk",
        origin_snap_m=dist,
        origin_status=status,
    )


def _record(path: Path, cached: cache.CachedGraph) -> dict[str, Any]:
    g = cached.graph
    return {
        "build_version": cache.BUILD_VERSION,
        "graph_file": path.name,
        "label": g.label,
        "network": g.meta.get("network"),
        "source": g.meta.get("source"),
        "cache_key": g.meta.get("cache_key"),
        "n_nodes": g.n_nodes,
        "n_edges": g.n_edges,
        "prepared_at": dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def prepare_osm_model(
    *,
    osm_file: str | Path | None = None,
    place: str | None = None,
    communes: gpd.GeoDataFrame,
    cache_dir: str | Path | None = None,
    verbose: bool = False,
    polygon: Any | None = None,
    walk: bool = False,
    refresh: bool = False,
    reader: str | None = None,
) -> OsmRoadModel:
    """Build (or read) the OSM road model and make it the active road model.

    Parameters
    ----------
    osm_file
        An ``.osm.pbf`` / ``.osm`` extract (offline).
    place
        Or a place name to download (online), e.g. ``"Rhône, France"``.
    communes
        The communes (origins), see :func:`analysis.communes.load_communes`.
    cache_dir
        Cache folder (``data/processed`` by default).
    verbose
        Show progress bars.
    polygon
        Or a shapely polygon (EPSG:4326) to download.
    walk
        Also build the walk network (:func:`load_cached_osm_model` with ``network="walk"``).
    refresh
        Rebuild even when the cache is valid.
    reader
        PBF reader, ``"stream"`` (default) or ``"osmnx"`` (see :func:`build_osm_graph`).

    Returns
    -------
    OsmRoadModel
        The drive model; its ``label`` names the extract and its date.

    Raises
    ------
    ValidationError
        For bad inputs (see :func:`build_osm_graph`), or when the OSM data covers none of
        the communes.
    """
    _check_communes(communes)
    networks = ["drive", "walk"] if walk else ["drive"]
    models: dict[str, OsmRoadModel] = {}
    for network in networks:
        cached, path = build_osm_graph(
            osm_file=osm_file, place=place, polygon=polygon, network=network,
            cache_dir=cache_dir, refresh=refresh, verbose=verbose, reader=reader,
        )  # fmt: skip
        model = osm_road_model(cached, communes)
        if model.outside.all():
            raise ValidationError(
                f"the OSM data ({cached.graph.label}) covers none of the {len(communes):,} "
                f"communes; {EXTRACT_HINT}"
            )
        cache.write_active(cache_dir, network, _record(path, cached))
        models[network] = model
    return models["drive"]


def _source_unchanged(source: Mapping[str, Any]) -> bool | None:
    """Tell whether a file source is unchanged.

    Returns ``True`` if the file is unchanged, ``False`` if it changed, ``None`` if it is
    gone.
    """
    from ..io import sha256_file

    p = Path(source.get("path") or "")
    if not source.get("path") or not p.is_file():
        return None
    st = p.stat()
    if st.st_size == source.get("size") and st.st_mtime_ns == source.get("mtime_ns"):
        return True
    return sha256_file(p) == source.get("identity")


def load_cached_osm_model(
    communes: gpd.GeoDataFrame,
    *,
    cache_dir: str | Path | None = None,
    network: str = "drive",
) -> OsmRoadModel | None:
    """Return the last prepared OSM model if its cache is valid, else ``None``.

    A corrupt graph file is rebuilt from its source when the extract is still there (or,
    for a download, when the network is allowed). If the extract changed since it was
    prepared, the model is stale: ``None`` is returned with a warning (run ``prepare``
    again).

    Parameters
    ----------
    communes
        The communes (origins).
    cache_dir
        Cache folder (``data/processed`` by default).
    network
        ``"drive"`` (default) or ``"walk"``.

    Returns
    -------
    OsmRoadModel or None
    """
    check_network(network)
    record = cache.read_active(cache_dir, network)
    if record is None:
        return None
    if record.get("build_version") != cache.BUILD_VERSION:
        logger.warning(
            "the prepared OSM model was built by another version; run `spro-access prepare "
            "--osm FILE` (or --place NAME) again"
        )
        return None
    source = record.get("source") or {}
    if source.get("kind") == "file":
        same = _source_unchanged(source)
        if same is False:
            logger.warning(
                "the OSM extract %s changed since it was prepared; run `spro-access prepare "
                "--osm %s` again (using the estimated network meanwhile)",
                source.get("path"), source.get("path"),
            )  # fmt: skip
            return None
    path = cache.cache_dir_or_default(cache_dir) / str(record.get("graph_file"))
    cached = cache.load_graph(path)
    if cached is None:
        if source.get("kind") == "file" and _source_unchanged(source):
            cached, _ = build_osm_graph(osm_file=source["path"], network=network,
                                        cache_dir=cache_dir)  # fmt: skip
        elif source.get("kind") == "place" and settings.use_network:
            cached, _ = build_osm_graph(place=source["name"], network=network,
                                        cache_dir=cache_dir)  # fmt: skip
        else:
            logger.warning(
                "the cached OSM graph %s is missing or corrupt and its source is not at "
                "hand; run `spro-access prepare` again",
                path,
            )
            return None
    return osm_road_model(cached, communes)
