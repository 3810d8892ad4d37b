"""Map building and view helpers (analysis.mapping) on the real communes, synthetic sites."""

from __future__ import annotations

import html
import io
import json
import re
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from analysis import present
from analysis.communes import load_communes
from analysis.coverage import compute_coverage
from analysis.profiles import Profile
from analysis.road_model import OriginTimes

EVIL = '<script>alert("x")</script> & =HYPERLINK("http://evil")'


class CrowFlyModel:
    """A tiny access model: straight-line distance at 40 km/h (test double)."""

    mode = "road"
    estimated = True
    label = "crow-fly test model"

    def __init__(self, communes: gpd.GeoDataFrame) -> None:
        self.xy = np.c_[communes["x_l93"], communes["y_l93"]]
        self.origin_ids = communes["insee"].to_numpy()

    def nearest(self, x: np.ndarray, y: np.ndarray, host_ids=None) -> OriginTimes:
        d, i = cKDTree(np.c_[x, y]).query(self.xy)
        return OriginTimes(
            time_s=d / (40 / 3.6) + 120.0, site=i, status=np.full(len(d), "ok", dtype=object)
        )


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return load_communes()


@pytest.fixture(scope="module")
def sites(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    pick = communes.sample(60, random_state=3)
    n = len(pick)
    df = pd.DataFrame(
        {
            "site_id": [f"T{i}" for i in range(n)],
            "name": [EVIL if i == 0 else f"Site {i}" for i in range(n)],
            "network": rng.choice(["Mission Locale", "Info Jeunes"], n),
            "circle": 2,
            "kind": "main site",
            "insee": pick["insee"].to_numpy(),
            "commune_name": pick["nom"].to_numpy(),
            "dep": pick["dep"].to_numpy(),
            "address": ["1 <b>rue</b>"] * n,
            "postcode": "00000",
            "lon": pick["lon"].to_numpy(),
            "lat": pick["lat"].to_numpy(),
            "x_l93": pick["x_l93"].to_numpy(),
            "y_l93": pick["y_l93"].to_numpy(),
            "position": "commune",
            "provenance": np.where(np.arange(n) % 3 == 0, "modelled", "open-data:test.csv"),
            "vintage": "2024",
            "source": "test",
            "flags": "",
        }
    )
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs="EPSG:4326")


@pytest.fixture(scope="module")
def profile() -> Profile:
    return Profile(
        key="young",
        label="Young <people>",
        networks=("Mission Locale", "Info Jeunes"),
        thresholds_min={"road": 20.0},
    )


@pytest.fixture(scope="module")
def result(communes, sites, profile):
    return compute_coverage(CrowFlyModel(communes), sites, communes, profile)


@pytest.fixture(scope="module")
def base(communes):
    return present.web_base(communes)


def test_web_base_is_light_and_complete(base, communes):
    assert len(base.geometries) == len(communes) == 4025
    assert list(base.insee) == list(communes["insee"])
    assert base.geojson_bytes() < 2_500_000  # "under a few MB"
    # coordinates rounded to 4 decimals
    coords = json.dumps(base.geometries[0])
    assert not re.search(r"\d\.\d{5,}", coords)
    assert len(base.departments["features"]) == 12
    (lat0, lon0), (lat1, lon1) = base.bounds
    assert 44 < lat0 < lat1 < 47 and 2 < lon0 < lon1 < 8


def test_commune_at_finds_lyon(base):
    assert present.commune_at(base, 4.8357, 45.7640) == "69123"
    assert present.commune_at(base, 0.0, 0.0) is None


@pytest.mark.parametrize("thr", [5, 10, 15, 20, 25, 30, 45, 60, 90, 150])
def test_time_bands_put_the_threshold_on_an_edge(thr):
    b = present.time_bands(thr)
    assert thr in b.edges and b.edges[0] == 0 and np.isinf(b.edges[-1])
    assert len(b.colours) == len(b.labels) == len(b.edges) - 1
    # a time equal to the threshold is covered (time <= threshold): not in a beyond band
    assert not b.beyond()[b.band(np.array([thr]))[0]]
    assert b.beyond()[b.band(np.array([thr + 0.01]))[0]]
    assert b.band(np.array([np.inf, np.nan])).tolist() == [-1, -1]


def test_band_table_adds_up(result):
    t = present.band_table(result)
    assert t["communes"].sum() == len(result.communes)
    assert t["demand"].sum() == pytest.approx(result.communes["demand"].sum())
    beyond = t.loc[t["beyond"], "communes"].sum()
    assert beyond == (~result.communes["covered"]).sum()


def test_map_layers_legend_and_escaping(result, base):
    m = present.coverage_map(result, base)
    page = present.map_html(m)
    # layers
    for name in ("Travel time", "Under-served clusters", "Department borders", "Sites"):
        assert name in page
    assert "(estimated)" in page  # legend says the times are estimated
    assert "modelled" in page
    # offline: Leaflet inlined, no CDN, no tiles by default
    assert "cdn.jsdelivr" not in page and "code.jquery" not in page
    assert "tile.openstreetmap.org" not in page
    assert "data:text/javascript;base64," in page
    # user-supplied names never reach the page as markup
    assert "<script>alert" not in page
    assert "<b>rue</b>" not in page
    assert html.escape(html.escape("<b>rue</b>")) not in page.replace("\\u0026", "&")
    # one feature per commune in the travel-time layer
    assert page.count('"insee"') >= len(result.communes)


def test_basemap_choice(result, base):
    page = present.map_html(present.coverage_map(result, base, basemap="osm"))
    assert "tile.openstreetmap.org" in page
    with pytest.raises(KeyError):
        present.coverage_map(result, base, basemap="nope")


def test_commune_card_and_options(result):
    opts = present.commune_options(result)
    assert len(opts) == len(result.communes)
    assert "Lyon (69) — 69123" in opts
    card = present.commune_card(result, "69123")
    assert card["Commune"] == "Lyon (69123)"
    assert card["Time to nearest site"].endswith("(estimated)")
    assert card["Covered"].startswith(("yes", "no"))
    with pytest.raises(KeyError):
        present.commune_card(result, "99999")


def test_provenance_facts(result, sites):
    f = present.provenance_facts(result, sites)
    assert f.n_modelled == int((result.sites["provenance"] == "modelled").sum()) > 0
    assert "modelled" in f.modelled and "estimated" in f.estimated
    assert "test.csv" in f.real


def test_headline_figures(result):
    h = present.headline_figures(result)
    df = result.communes
    assert h["communes_beyond"] == (~df["covered"]).sum()
    assert h["clusters"] == len(result.clusters())
    assert 0 <= h["share_beyond"] <= 1
    assert h["p50_min"] <= h["p90_min"]


def test_csv_bytes_neutralises_formulas(result):
    raw = present.csv_bytes(result.sites, provenance=result.provenance)
    back = pd.read_csv(io.BytesIO(raw))
    evil = back.loc[back["site_id"] == "T0", "name"].iloc[0]
    assert evil == EVIL  # does not start with a formula prefix: unchanged
    raw = present.csv_bytes(pd.DataFrame({"x": ["=1+1", "@SUM(A1)", "ok"]}))
    assert pd.read_csv(io.BytesIO(raw))["x"].tolist() == ["'=1+1", "'@SUM(A1)", "ok"]
    assert "run_provenance" in pd.read_csv(
        io.BytesIO(present.csv_bytes(result.communes, provenance="p"))
    )


def test_gpkg_bytes_leaves_nothing_behind(result):
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("spro-gpkg-*"))
    data = present.gpkg_bytes(present.coverage_output_set(result))
    assert data[:16] == b"SQLite format 3\x00"
    assert set(tmp.glob("spro-gpkg-*")) == before
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as f:
        f.write(data)
        f.flush()
        cov = gpd.read_file(f.name, layer="communes")
        assert len(cov) == len(result.communes)
        assert (cov["times_are"] == "estimated").all()
        assert len(gpd.read_file(f.name, layer="sites")) == len(result.sites)


def test_summary_table(result):
    s = present.summary_table(result, "dep")
    assert len(s) == 12
    assert s["share_beyond_pct"].between(0, 100).all()


def test_map_with_no_commune_beyond(communes, sites, profile, base):
    res = compute_coverage(CrowFlyModel(communes), sites, communes, profile, threshold_min=600)
    assert res.communes["covered"].all()
    page = present.map_html(present.coverage_map(res, base))
    assert "Under-served clusters (0)" in page  # the layer is there, empty
    assert present.headline_figures(res)["clusters"] == 0
    assert present.band_table(res)["beyond"].any()


def test_deferred_data_is_filled_back(result, base):
    plain = present.map_html(present.coverage_map(result, base))
    deferred_map = present.coverage_map(result, base, defer_data=True)
    raw = deferred_map.get_root().render()
    assert "__spro_data_" in raw and '"69123"' not in raw  # light templates
    page = present.map_html(deferred_map)
    assert "__spro_data_" not in page
    assert page.count('"insee"') == plain.count('"insee"') >= len(result.communes)
    assert "<script>alert" not in page  # still script-safe


def test_default_commune(result, communes, sites, profile):
    pick = present.default_commune(result)
    df = result.communes
    beyond = df[~df["covered"]]
    assert pick == beyond.loc[beyond["demand"].idxmax(), "insee"]
    res = compute_coverage(CrowFlyModel(communes), sites, communes, profile, threshold_min=600)
    far = present.default_commune(res)
    assert res.communes.set_index("insee").loc[far, "time_min"] == res.communes["time_min"].max()


def test_app_downloads_are_the_files_the_command_line_writes(result, tmp_path):
    """One writer: the same result writes the same tables, layers and columns everywhere."""
    s = present.coverage_output_set(result)
    files = present.write_output_set(tmp_path / "cli", s)
    for name in ("communes", "clusters", "summary", "sites"):
        assert present.table_csv_bytes(s, name) == files[f"{name}_csv"].read_bytes()
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as f:
        f.write(present.gpkg_bytes(s))
        f.flush()
        for layer in ("communes", "clusters", "sites"):
            a = gpd.read_file(f.name, layer=layer)
            b = gpd.read_file(files["gpkg"], layer=layer)
            assert list(a.columns) == list(b.columns) and len(a) == len(b)
            assert {"times_are", "run_provenance"} <= set(a.columns)
    assert present.verify_output_set(tmp_path / "cli")
