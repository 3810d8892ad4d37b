"""Consecutive coach stops ("hops") of the TER timetable, placed in the communes.

The estimated road network (:mod:`analysis.estimated.network`) is calibrated on the
scheduled times of TER coaches between consecutive stops. This module reads them from the
SNCF TER GTFS zip (only the columns needed, straight from the zip) and maps each stop to
the commune whose polygon contains it.

What a hop measures
-------------------
The scheduled time from the departure at one stop to the arrival at the next: a coach's
driving time with the operator's slack, to the minute. It excludes the dwell at the stops
themselves but a coach is limited to 90-100 km/h, pulls in and out of stops and keeps a
timetable margin, so it is in general slower than a car on the same roads.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from .. import settings
from ..crs import locate_points
from ..errors import DataMissingError, ValidationError
from ..manifest import verify_input

logger = logging.getLogger(__name__)

#: The TER GTFS of the shared data mirror.
DEFAULT_GTFS = Path("gtfs") / "sncf_ter_2025-01.zip"

#: GTFS ``route_type`` of buses and coaches.
COACH_ROUTE_TYPE = "3"

#: Stop points of coach services in the SNCF feed start with this (``OCECar TER-``,
#: ``OCECar-``).
COACH_STOP_PREFIX = "StopPoint:OCECar"

#: Columns of the hop table returned by :func:`load_coach_hops`.
HOP_COLUMNS = (
    "trip_id", "route_id", "stop_a", "stop_b", "name_a", "name_b",
    "x_a", "y_a", "x_b", "y_b", "commune_a", "commune_b", "time_s", "dist_m",
)  # fmt: skip


def default_gtfs_path() -> Path:
    """Return the path of the TER GTFS zip in the shared data mirror."""
    return settings.shared_data_dir / DEFAULT_GTFS


def _seconds(hms: pd.Series) -> np.ndarray:
    """GTFS ``HH:MM:SS`` (hours may exceed 23) to seconds; missing → NaN."""
    parts = hms.str.split(":", expand=True)
    if parts.shape[1] != 3:
        return np.full(len(hms), np.nan)
    parts = parts.apply(pd.to_numeric, errors="coerce")
    return (parts[0] * 3600 + parts[1] * 60 + parts[2]).to_numpy(dtype=float)


def _read(z: zipfile.ZipFile, name: str, usecols: list[str], source: str) -> pd.DataFrame:
    """Read some columns of one GTFS table as strings."""
    try:
        with z.open(name) as f:
            return pd.read_csv(f, usecols=usecols, dtype=str, keep_default_na=False)
    except KeyError:
        raise ValidationError(f"the GTFS has no {name}", source=source) from None
    except ValueError as exc:  # a missing column
        raise ValidationError(f"{name}: {exc}", source=source) from None


def load_coach_hops(
    communes: gpd.GeoDataFrame,
    gtfs_path: str | Path | None = None,
    *,
    include_rail_route_coaches: bool = False,
) -> pd.DataFrame:
    """Consecutive coach stop pairs whose two stops lie in the communes.

    Parameters
    ----------
    communes
        Commune polygons (:func:`analysis.communes.load_communes`); only stops inside them
        are kept.
    gtfs_path
        The GTFS zip; the SNCF TER feed of the shared data mirror if not given.
    include_rail_route_coaches
        Also use trips of rail routes (``route_type`` 2) all of whose stops are coach
        stop points (``StopPoint:OCECar…``): replacement and complementary coaches
        published under a train line. Off by default (only ``route_type`` 3).

    Returns
    -------
    pandas.DataFrame
        One row per hop (:data:`HOP_COLUMNS`): ``stop_a``/``stop_b`` are stop areas
        (parent stations, else stop ids), coordinates in Lambert-93, ``commune_a``/
        ``commune_b`` row positions in ``communes``, ``time_s`` scheduled time from the
        departure at ``a`` to the arrival at ``b``, ``dist_m`` straight distance.

    Raises
    ------
    DataMissingError
        If the GTFS file does not exist.
    ValidationError
        If it lacks a needed table or column.
    """
    path = Path(gtfs_path) if gtfs_path is not None else default_gtfs_path()
    if not path.exists():
        raise DataMissingError(
            f"TER timetable not found at {path}; put the SNCF TER GTFS zip there or pass gtfs_path="
        )
    src = str(path)
    verify_input(path)
    with zipfile.ZipFile(path) as z:
        routes = _read(z, "routes.txt", ["route_id", "route_type"], src)
        trips = _read(z, "trips.txt", ["route_id", "trip_id"], src)
        stops = _read(
            z, "stops.txt", ["stop_id", "stop_name", "stop_lat", "stop_lon", "parent_station"],
            src,
        )  # fmt: skip
        st = _read(
            z, "stop_times.txt",
            ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"], src,
        )  # fmt: skip

    trips = trips.merge(routes, on="route_id", how="left")
    st = st.merge(trips, on="trip_id", how="inner")
    coach = st["route_type"].to_numpy() == COACH_ROUTE_TYPE
    if include_rail_route_coaches:
        is_car = st["stop_id"].str.startswith(COACH_STOP_PREFIX)
        all_car = is_car.groupby(st["trip_id"]).transform("all").to_numpy()
        coach |= all_car
    st = st.loc[coach].copy()
    st["seq"] = pd.to_numeric(st["stop_sequence"], errors="coerce")
    st = st.sort_values(["trip_id", "seq"], kind="stable")
    dep = _seconds(st["departure_time"])
    arr = _seconds(st["arrival_time"])
    tid = st["trip_id"].to_numpy()
    same_trip = tid[1:] == tid[:-1]
    a_idx = np.flatnonzero(same_trip)
    b_idx = a_idx + 1

    # Stops: stop areas (parent stations) with their coordinates when known.
    stops["lat"] = pd.to_numeric(stops["stop_lat"], errors="coerce")
    stops["lon"] = pd.to_numeric(stops["stop_lon"], errors="coerce")
    by_id = stops.set_index("stop_id")
    parent = by_id["parent_station"].where(by_id["parent_station"] != "", by_id.index.to_series())
    parent = parent.where(parent.isin(by_id.index), by_id.index.to_series())
    area_of = parent.to_dict()
    tr = Transformer.from_crs(settings.geographic_crs, settings.projected_crs, always_xy=True)
    sx, sy = tr.transform(by_id["lon"].to_numpy(), by_id["lat"].to_numpy())
    sx = pd.Series(sx, index=by_id.index)
    sy = pd.Series(sy, index=by_id.index)
    names = by_id["stop_name"]

    stop_ids = st["stop_id"].to_numpy()
    area = pd.Series(stop_ids).map(area_of).fillna(pd.Series(stop_ids)).to_numpy()
    hops = pd.DataFrame(
        {
            "trip_id": tid[a_idx],
            "route_id": st["route_id"].to_numpy()[a_idx],
            "stop_a": area[a_idx],
            "stop_b": area[b_idx],
            "time_s": arr[b_idx] - dep[a_idx],
        }
    )
    hops["name_a"] = names.reindex(hops["stop_a"]).to_numpy()
    hops["name_b"] = names.reindex(hops["stop_b"]).to_numpy()
    for end in ("a", "b"):
        hops[f"x_{end}"] = sx.reindex(hops[f"stop_{end}"]).to_numpy()
        hops[f"y_{end}"] = sy.reindex(hops[f"stop_{end}"]).to_numpy()
    n_all = len(hops)
    hops = hops[
        np.isfinite(hops[["x_a", "y_a", "x_b", "y_b", "time_s"]].to_numpy(float)).all(axis=1)
    ]
    hops = hops.reset_index(drop=True)
    hops["commune_a"] = locate_points(communes, hops["x_a"], hops["y_a"])
    hops["commune_b"] = locate_points(communes, hops["x_b"], hops["y_b"])
    hops["dist_m"] = np.hypot(hops["x_a"] - hops["x_b"], hops["y_a"] - hops["y_b"])
    inside = (hops["commune_a"] >= 0) & (hops["commune_b"] >= 0)
    out = hops.loc[inside, list(HOP_COLUMNS)].reset_index(drop=True)
    logger.info("%d coach hops in the feed, %d with both stops in the communes", n_all, len(out))
    out.attrs["n_hops_feed"] = n_all
    return out
