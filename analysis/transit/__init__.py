"""Public transport: GTFS feeds, a timetable router, and transit access models.

- :mod:`~analysis.transit.gtfs`: read and validate GTFS feeds (zip or folder).
- :mod:`~analysis.transit.timetable`: compile one service day into connection arrays,
  cached in ``data/processed/transit``; transfers between nearby stops.
- :mod:`~analysis.transit.access`: walking (and park-and-ride) legs.
- :mod:`~analysis.transit.router`: backward multi-target profile Connection Scan.
- :mod:`~analysis.transit.reference`: brute-force earliest arrival, to check the router.
- :mod:`~analysis.transit.model`: :class:`TransitModel`, :class:`BestOfModel` and the
  factory :func:`build_transit_model`, with the ``.nearest(x, y) -> OriginTimes``
  interface of every access model.

See ``docs/transit.md``.
"""

from .access import AccessOptions, Legs
from .gtfs import GtfsFeed, check_date, read_gtfs
from .model import (
    TRANSIT_STATUSES,
    BestOfModel,
    BestOfTimes,
    TransitModel,
    TransitTimes,
    build_transit_model,
    default_date,
    departure_times,
    window_percentile,
)
from .router import INF, Profiles, build_profiles, earliest_arrivals
from .timetable import (
    Footpaths,
    Timetable,
    build_footpaths,
    compile_timetable,
    default_gtfs_paths,
    load_timetable,
)

__all__ = [
    "INF",
    "TRANSIT_STATUSES",
    "AccessOptions",
    "BestOfModel",
    "BestOfTimes",
    "Footpaths",
    "GtfsFeed",
    "Legs",
    "Profiles",
    "Timetable",
    "TransitModel",
    "TransitTimes",
    "build_footpaths",
    "build_profiles",
    "build_transit_model",
    "check_date",
    "compile_timetable",
    "default_date",
    "default_gtfs_paths",
    "departure_times",
    "earliest_arrivals",
    "load_timetable",
    "read_gtfs",
    "window_percentile",
]
