"""Presentation: maps, page views and the one export writer, without any Streamlit.

- :mod:`.leaflet`: Leaflet inlined (maps open offline), styled GeoJSON layers, base maps;
- :mod:`.styles`: time bands around the threshold, colours of times and networks, labels;
- :mod:`.webbase`: light commune and department geometries for web maps;
- :mod:`.coverage_map`: the coverage map of a result;
- :mod:`.planner_maps`: the maps of the what-if, siting and caravane results;
- :mod:`.views`: what the coverage page shows beside the map (headline, bands, card);
- :mod:`.outputs`: the one writer of a result's output set, written as a whole;
- :mod:`.sets`: the output set of a coverage result.

Every name placed in a tooltip, popup or legend is HTML-escaped: site names come from files
users upload.
"""

from .coverage_map import coverage_map, legend_html
from .leaflet import BASEMAPS, LEAFLET_DIR, esc, fill_data, inline_leaflet, leaflet_assets, map_html
from .outputs import (
    OutputSet,
    csv_bytes,
    gpkg_bytes,
    table_csv_bytes,
    verify_output_set,
    write_output_set,
)
from .sets import check_coverage_outputs, coverage_files, coverage_output_set
from .styles import NETWORK_COLOURS, TIME_EDGES_MIN, TimeBands, network_colours, time_bands
from .views import (
    ProvenanceFacts,
    band_table,
    commune_card,
    commune_options,
    default_commune,
    headline_figures,
    provenance_facts,
    summary_table,
)
from .webbase import WebBase, commune_at, web_base

__all__ = [
    "BASEMAPS", "LEAFLET_DIR", "NETWORK_COLOURS", "TIME_EDGES_MIN", "OutputSet",
    "ProvenanceFacts", "TimeBands", "WebBase", "band_table", "check_coverage_outputs",
    "commune_at", "commune_card", "commune_options", "coverage_files", "coverage_map",
    "coverage_output_set", "csv_bytes", "default_commune", "esc", "fill_data", "gpkg_bytes",
    "headline_figures", "inline_leaflet", "leaflet_assets", "legend_html", "map_html",
    "network_colours", "provenance_facts", "summary_table", "table_csv_bytes", "time_bands",
    "verify_output_set", "web_base", "write_output_set",
]  # fmt: skip
