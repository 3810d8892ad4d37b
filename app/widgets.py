"""Sidebar widgets shared by the app's pages."""

from __future__ import annotations

import streamlit as st

from analysis import present
from app import page


def basemap_select(key: str, **kwargs) -> str:
    """Base-map choice (the tile-less option works offline)."""
    return st.selectbox(
        "Base map",
        list(present.BASEMAPS),
        format_func=lambda k: present.BASEMAPS[k][0],
        key=key,
        **kwargs,
    )


def road_model_caption(road_model) -> None:
    """Say which road model produces the numbers, and whether they are estimated."""
    st.markdown("**Road model in force**")
    page.caption(
        road_model.label
        + (
            f" — times are {road_model.times_are}"
            if road_model.estimated
            else " — measured road graph"
        )
    )


def gpkg_download(col, output_set_factory, *, file_name: str, key: str) -> None:
    """GeoPackage of a result's output set: the same layers as the command line (on click)."""
    col.download_button(
        "GeoPackage",
        lambda: present.gpkg_bytes(output_set_factory()),
        file_name=file_name,
        mime="application/geopackage+sqlite3",
        key=key,
        on_click="ignore",
    )


def map_download(col, map_factory, *, file_name: str, key: str) -> None:
    """Standalone HTML map download (opens offline; built on click)."""
    col.download_button(
        "Map (HTML)",
        lambda: present.map_html(map_factory()).encode("utf-8"),
        file_name=file_name,
        mime="text/html",
        key=key,
        on_click="ignore",
    )


def table_download(col, label: str, output_set, name: str, *, file_name: str, key: str) -> None:
    """CSV of one table of a result's output set: the same file as the command line writes."""
    col.download_button(
        label,
        present.table_csv_bytes(output_set, name),
        file_name=file_name,
        mime="text/csv",
        key=key,
    )


def csv_download(col, label: str, table, *, provenance: str, file_name: str, key: str) -> None:
    """CSV of a table shown on the page, formulas neutralised, with the run's provenance."""
    col.download_button(
        label,
        present.csv_bytes(table, provenance=provenance),
        file_name=file_name,
        mime="text/csv",
        key=key,
    )
