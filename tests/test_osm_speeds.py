"""French default speeds, maxspeed parsing, and agreement with osmnx's own speeds."""

import numpy as np
import pyrosm
import pytest

from analysis.osm.convert import edge_table
from analysis.osm.load import read_pbf_graph
from analysis.osm.speeds import (
    FALLBACK_SPEED_KMH,
    FRENCH_SPEEDS_KMH,
    add_french_speeds,
    edge_speeds_kmh,
    maxspeed_kmh,
    parse_maxspeed,
    travel_times_s,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("50kmh", 50.0),
        ("30 mph", 30 * 1.60934),
        ("50|70", 60.0),
        (["50", "70"], 60.0),
        (["50", None], 50.0),
        ("FR:urban", 50.0),
        ("FR:rural", 80.0),
        ("FR:zone30", 30.0),
        ("FR:motorway", 130.0),
        ("walk", 6.0),
        ("7,5", 7.5),
    ],
)
def test_parse_maxspeed(value, expected):
    assert parse_maxspeed(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, float("nan"), "none", "signals", "50;70", "", []])
def test_unreadable_maxspeed_is_nan(value):
    assert np.isnan(parse_maxspeed(value))


def test_column_parsing_handles_lists_and_missing():
    vals = np.array(
        ["50", None, ["30", "50"], "FR:urban", float("nan"), ["30", "50"]], dtype=object
    )
    np.testing.assert_allclose(maxspeed_kmh(vals), [50, np.nan, 40, 50, np.nan, 40], equal_nan=True)


def test_defaults_per_class_and_osmnx_imputation_rule():
    hw = np.array(
        ["motorway", "residential", ["primary", "secondary"], "weird", "weird", "alien", None],
        dtype=object,
    )
    ms = np.array([None, None, None, "40", None, None, None], dtype=object)
    sp = edge_speeds_kmh(hw, ms)
    assert sp[0] == FRENCH_SPEEDS_KMH["motorway"] == 130
    assert sp[1] == FRENCH_SPEEDS_KMH["residential"]
    assert sp[2] == FRENCH_SPEEDS_KMH["primary"]  # first class of a merged edge
    assert sp[3] == 40  # tagged
    assert sp[4] == 40  # untagged edge of a class without default: mean tagged speed of class
    assert sp[5] == FALLBACK_SPEED_KMH  # class never tagged: fallback
    assert sp[6] == FALLBACK_SPEED_KMH
    # invalid tags are ignored
    assert edge_speeds_kmh(np.array(["primary"], dtype=object), np.array(["0"], dtype=object))[
        0
    ] == pytest.approx(80)


def test_travel_time():
    assert travel_times_s(np.array([1000.0]), np.array([36.0]))[0] == pytest.approx(100.0)


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
def test_same_speeds_and_times_as_osmnx(name):
    """Column-wise speeds equal osmnx.add_edge_speeds with the French table, edge by edge."""
    G = read_pbf_graph(pyrosm.get_data(name))
    table = edge_table(G, attrs=["length", "highway", "maxspeed"])
    mine = edge_speeds_kmh(table.attrs["highway"], table.attrs["maxspeed"])
    add_french_speeds(G)
    ref_speed = np.array([d["speed_kph"] for _, _, d in G.edges(data=True)])
    ref_time = np.array([d["travel_time"] for _, _, d in G.edges(data=True)])
    np.testing.assert_allclose(mine, ref_speed, rtol=1e-12)
    length = table.attrs["length"].astype(float)
    np.testing.assert_allclose(travel_times_s(length, mine), ref_time, rtol=1e-12)
