"""An OSM road model through the coverage analysis: same schema, outside communes flagged."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pyrosm
import pytest
import shapely
from pyproj import Transformer

from analysis.coverage import compute_coverage
from analysis.osm import OUTSIDE, build_osm_graph, osm_road_model, prepare_osm_model
from analysis.osm.model import load_cached_osm_model
from analysis.profiles import get_profile


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("cov")
    cached, _ = build_osm_graph(osm_file=pyrosm.get_data("test_pbf"), cache_dir=cache_dir)
    g = cached.graph
    inside = np.flatnonzero(cached.extent.contains(g.x, g.y))
    rng = np.random.default_rng(5)
    idx = rng.choice(inside, 8, replace=False)
    x = np.r_[g.x[idx], g.x.mean() + 100_000.0]
    y = np.r_[g.y[idx], g.y.mean()]
    to_ll = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(x, y)
    n = len(x)
    communes = gpd.GeoDataFrame(
        {
            "insee": [f"99{i:03d}" for i in range(n)],
            "nom": [f"Commune {i}" for i in range(n)],
            "dep": ["99"] * n,
            "epci": ["E1"] * n,
            "epci_nom": ["EPCI"] * n,
            "pop_mun": np.full(n, 1000),
            "deg3": [3] * n,
            "urban_class": ["rural"] * n,
            "x_l93": x,
            "y_l93": y,
            "lon": lon,
            "lat": lat,
        },
        geometry=shapely.buffer(shapely.points(lon, lat), 0.002),
        crs="EPSG:4326",
    )
    sites = pd.DataFrame(
        {
            "site_id": ["s1", "s2"],
            "name": ["Site 1", "Site 2"],
            "network": ["Info Jeunes", "CIO"],
            "provenance": ["user", "user"],
            "x_l93": g.x[inside[[0, 40]]],
            "y_l93": g.y[inside[[0, 40]]],
        }
    )
    return cached, communes, sites, cache_dir


def test_coverage_on_osm_flags_outside_communes(setup):
    cached, communes, sites, _ = setup
    model = osm_road_model(cached, communes)
    res = compute_coverage(model, sites, communes, get_profile("everyone"))
    table = res.communes
    assert list(table["status"]) == ["ok"] * 8 + [OUTSIDE]
    assert np.all(np.isfinite(table["time_min"].iloc[:8]))
    assert not table["covered"].iloc[-1]
    assert set(table["times_are"]) == {"measured"}
    assert set(table["model"]) == {model.label}
    assert model.label.startswith("OpenStreetMap drive network (file test.osm.pbf")


def test_prepare_then_active_walk_model(setup):
    _, communes, sites, base = setup
    cache_dir = base / "active"
    prepare_osm_model(
        osm_file=pyrosm.get_data("test_pbf"), communes=communes, cache_dir=cache_dir, walk=True
    )
    walk = load_cached_osm_model(communes, cache_dir=cache_dir, network="walk")
    assert walk is not None and walk.mode == "walk"
    res = compute_coverage(walk, sites, communes, get_profile("everyone"))
    assert res.mode == "walk" and res.threshold_min == 20
    drive = load_cached_osm_model(communes, cache_dir=cache_dir)
    ok = res.communes["status"] == "ok"
    drive_t = drive.nearest(sites["x_l93"].to_numpy(), sites["y_l93"].to_numpy()).time_s
    assert np.all(res.communes["time_min"][ok].to_numpy() * 60 >= drive_t[ok.to_numpy()] - 1e-6)
