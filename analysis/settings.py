"""Typed, module-level settings (in the manner of ``osmnx.settings``).

Change them by assignment, e.g. ``analysis.settings.shared_data_dir = Path("/data")``,
or through the environment variables named below at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the repository (the folder holding ``pyproject.toml``).
project_dir: Path = Path(__file__).resolve().parent.parent

#: Local mirror of the official open data (``../shared/data`` beside the repository).
shared_data_dir: Path = Path(
    os.environ.get("SPRO_SHARED_DATA", project_dir.parent / "shared" / "data")
).resolve()

#: Inputs committed with the project (the commune layer, the profiles file).
raw_data_dir: Path = Path(os.environ.get("SPRO_RAW_DATA", project_dir / "data" / "raw")).resolve()

#: Derived artefacts (graphs, travel-time tables); rebuilt on demand, never committed.
processed_data_dir: Path = Path(
    os.environ.get("SPRO_PROCESSED_DATA", project_dir / "data" / "processed")
).resolve()

#: The Travel Mapping ``hwy_data`` tarball or folder of the main-road model; the mirror's
#: ``roads/travelmapping/hwy_data_FRA_3d7993c.tar.gz`` if unset (``SPRO_TRAVELMAPPING``).
travelmapping_source: Path | None = (
    Path(os.environ["SPRO_TRAVELMAPPING"]).resolve()
    if os.environ.get("SPRO_TRAVELMAPPING")
    else None
)

#: Where the command line writes exports unless told otherwise.
output_dir: Path = Path(os.environ.get("SPRO_OUTPUT_DIR", project_dir / "outputs")).resolve()

#: A user's directory may replace at most this share of a network's bundled sites unless
#: told to (``--replace``; see :mod:`analysis.sites.merge`).
replace_max_drop_share: float = 0.5

#: Projected CRS for distances and snapping (Lambert-93).
projected_crs: str = "EPSG:2154"

#: Geographic CRS of inputs and outputs.
geographic_crs: str = "EPSG:4326"

#: INSEE code of the region (Auvergne-Rhône-Alpes).
region_code: str = "84"

#: Departments of the region.
region_departments: tuple[str, ...] = (
    "01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74",
)  # fmt: skip

#: Bounding box of the region in degrees (lon_min, lat_min, lon_max, lat_max), with a margin.
region_bbox_lonlat: tuple[float, float, float, float] = (2.0, 44.0, 7.3, 46.9)

#: Largest file the app accepts as an upload, in megabytes (a candidates CSV is a few kB).
#: The app checks it in code, and ``spro-access app`` passes it to Streamlit as
#: ``--server.maxUploadSize``.
max_upload_mb: int = 10

#: Most candidates the app's what-if page evaluates at once (2,000 took 179 s and drew
#: 219,000 page elements); a whole call goes through ``spro-access label-reports``.
whatif_page_max_candidates: int = 200

#: Show progress bars on long steps.
verbose: bool = False

#: Allow network access (osmnx downloads, official portals). Tests run with it off.
use_network: bool = os.environ.get("SPRO_OFFLINE", "0") not in ("1", "true", "yes")
