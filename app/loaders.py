"""Cached loaders shared by the app's pages (the only place the app touches data)."""

from __future__ import annotations

import streamlit as st

from analysis import communes as _communes
from analysis import profiles as _profiles
from analysis.sites import directory as _directory


@st.cache_data(show_spinner="Loading communes…")
def load_communes():
    """Communes of the region (GeoDataFrame, EPSG:4326)."""
    return _communes.load_communes()


@st.cache_data(show_spinner="Loading the site directory…")
def load_sites():
    """Bundled site directory (real + modelled)."""
    return _directory.load_bundled_directory()


@st.cache_data
def load_profiles():
    """Profiles from the default profiles file."""
    return _profiles.load_profiles()


@st.cache_resource(show_spinner="Building the estimated road network…")
def load_road_model():
    """The active road model (estimated network unless an OSM model was prepared)."""
    from analysis.models import active_road_model

    return active_road_model(load_communes())
