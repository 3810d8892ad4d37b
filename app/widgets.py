"""Sidebar widgets shared by the app's pages."""

from __future__ import annotations

import streamlit as st

from analysis import mapping
from app import page


def basemap_select(key: str, **kwargs) -> str:
    """Base-map choice (the tile-less option works offline)."""
    return st.selectbox(
        "Base map",
        list(mapping.BASEMAPS),
        format_func=lambda k: mapping.BASEMAPS[k][0],
        key=key,
        **kwargs,
    )


def road_model_caption(road_model) -> None:
    """Say which road model produces the numbers, and whether they are estimated."""
    st.markdown("**Road model in force**")
    page.caption(
        road_model.label
        + (" — times are *estimated*" if road_model.estimated else " — measured road graph")
    )


def gpkg_download(col, layers_factory, *, file_name: str, key: str) -> None:
    """GeoPackage download of the view's layers (built on click)."""
    col.download_button(
        "GeoPackage",
        lambda: mapping.gpkg_bytes(layers_factory()),
        file_name=file_name,
        mime="application/geopackage+sqlite3",
        key=key,
        on_click="ignore",
    )


def map_download(col, map_factory, *, file_name: str, key: str) -> None:
    """Standalone HTML map download (opens offline; built on click)."""
    col.download_button(
        "Map (HTML)",
        lambda: mapping.map_html(map_factory()).encode("utf-8"),
        file_name=file_name,
        mime="text/html",
        key=key,
        on_click="ignore",
    )


def csv_download(col, label: str, table, *, provenance: str, file_name: str, key: str) -> None:
    """CSV download of a table, formulas neutralised, with the provenance line as a column."""
    col.download_button(
        label,
        mapping.csv_bytes(table, provenance=provenance),
        file_name=file_name,
        mime="text/csv",
        key=key,
    )
