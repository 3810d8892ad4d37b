"""Write a planner result: CSV + GeoPackage of every table, the map as HTML, metadata."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import __version__
from ..io import atomic_path, check_can_write, write_csv, write_gpkg, write_json

logger = logging.getLogger(__name__)


def save_map(fmap: Any, path: str | Path, *, overwrite: bool = True) -> Path:
    """Save a folium map as a standalone HTML file (Leaflet inlined: opens offline), atomically.

    Parameters
    ----------
    fmap
        A :class:`folium.Map`.
    path
        Target ``.html`` file.
    overwrite
        Whether an existing file may be replaced.

    Returns
    -------
    pathlib.Path
    """
    from ..mapping import map_html

    p = check_can_write(path, overwrite=overwrite)
    with atomic_path(p) as tmp:
        tmp.write_text(map_html(fmap), encoding="utf-8")
    return p


def _stamp(df: pd.DataFrame, provenance: str, times_are: str) -> pd.DataFrame:
    out = df.copy()
    if "times_are" not in out.columns:
        out["times_are"] = times_are
    out["run_provenance"] = provenance
    return out


def export_tables(
    out_dir: str | Path,
    *,
    tables: Mapping[str, pd.DataFrame],
    layers: Mapping[str, gpd.GeoDataFrame],
    gpkg_name: str,
    map_builder: Callable[[], Any] | None,
    metadata: Mapping[str, Any],
    provenance: str,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write every table as CSV, the spatial ones as GeoPackages, the map and metadata.

    Every table gets a ``times_are`` column (if absent) and a ``run_provenance`` column
    saying which road/transit model produced the times and which sites are real or modelled.

    Parameters
    ----------
    out_dir
        Output folder.
    tables
        Name → table, each written to ``<name>.csv``.
    layers
        Name → GeoDataFrame, each written to ``<stem of gpkg_name>_<name>.gpkg``.
    gpkg_name
        Base name of the GeoPackages.
    map_builder
        Returns the folium map written to ``map.html`` (``None``: no map).
    metadata
        Written to ``metadata.json`` (with the tool version).
    provenance
        The provenance line stamped on every table.
    overwrite
        Replace existing files; otherwise refuse before writing anything.

    Returns
    -------
    dict of str to pathlib.Path
        Every file written, by name.
    """
    out = Path(out_dir)
    stem = Path(gpkg_name).stem
    times_are = str(metadata.get("times_are", ""))
    files: dict[str, Path] = {f"{k}_csv": out / f"{k}.csv" for k in tables}
    files.update({f"{k}_gpkg": out / f"{stem}_{k}.gpkg" for k in layers})
    if map_builder is not None:
        files["map_html"] = out / "map.html"
    files["metadata"] = out / "metadata.json"
    for p in files.values():  # refuse up front: nothing half-written
        check_can_write(p, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    for k, df in tables.items():
        write_csv(_stamp(pd.DataFrame(df), provenance, times_are), files[f"{k}_csv"])
    for k, gdf in layers.items():
        g = _stamp(gdf, provenance, times_are)
        g = gpd.GeoDataFrame(g, geometry=gdf.geometry.name, crs=gdf.crs)
        # GeoPackage columns must be plain types.
        for col in g.columns:
            if col != g.geometry.name and g[col].dtype == object:
                g[col] = g[col].map(lambda v: v if v is None else str(v))
        write_gpkg(g, files[f"{k}_gpkg"], layer=k)
    if map_builder is not None:
        save_map(map_builder(), files["map_html"])
    write_json({"tool": f"spro-access {__version__}", **dict(metadata)}, files["metadata"])
    logger.info("planner result written to %s", out)
    return files
