"""Real OpenStreetMap road networks (osmnx / pyrosm) as road models.

- :func:`prepare_osm_model` — build (or read from ``data/processed``) the road model of an
  ``.osm.pbf``/``.osm`` extract or of a place, and make it the active road model;
- :func:`load_cached_osm_model` — the active OSM model if its cache is valid;
- :func:`build_osm_graph`, :func:`osm_road_model` — the two steps of the above;
- :func:`graph_to_roadgraph` — any osmnx ``MultiDiGraph`` to the engine's graph;
- :func:`compare_models` — estimated vs OSM travel times.

See ``docs/osm.md``.
"""

from .compare import ModelComparison, compare_models
from .convert import graph_to_roadgraph, largest_strong_component
from .model import (
    OUTSIDE,
    OsmRoadModel,
    build_osm_graph,
    load_cached_osm_model,
    osm_road_model,
    prepare_osm_model,
)
from .speeds import FRENCH_SPEEDS_KMH, WALK_SPEED_KMH, add_french_speeds, edge_speeds_kmh

__all__ = [
    "FRENCH_SPEEDS_KMH",
    "OUTSIDE",
    "WALK_SPEED_KMH",
    "ModelComparison",
    "OsmRoadModel",
    "add_french_speeds",
    "build_osm_graph",
    "compare_models",
    "edge_speeds_kmh",
    "graph_to_roadgraph",
    "largest_strong_component",
    "load_cached_osm_model",
    "osm_road_model",
    "prepare_osm_model",
]
