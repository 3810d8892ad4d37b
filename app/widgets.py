"""Sidebar widgets shared by the app's pages."""

from __future__ import annotations

import streamlit as st

from analysis import mapping


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
    st.caption(
        road_model.label
        + (" — times are *estimated*" if road_model.estimated else " — measured road graph")
    )
