"""The commune layer: known answers on the committed file, validation, manifest."""

from __future__ import annotations

import hashlib
import importlib.util
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from analysis import settings
from analysis.communes import (
    COLUMNS,
    communes_path,
    load_arrondissements,
    load_communes,
    to_l93,
)
from analysis.errors import DataMissingError, ValidationError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return load_communes()


def test_known_answers(communes):
    assert len(communes) == 4025
    assert communes["insee"].is_unique
    assert int(communes["pop_mun"].sum()) == 8_205_557
    assert list(communes.columns) == COLUMNS
    assert communes.crs.to_epsg() == 4326
    assert communes.index.equals(__import__("pandas").RangeIndex(4025))
    assert list(communes["insee"]) == sorted(communes["insee"])
    assert set(communes["dep"]) == set(settings.region_departments)
    lyon = communes.set_index("insee").loc["69123"]
    assert lyon["nom"] == "Lyon" and lyon["pop_mun"] == 519_127


def test_urban_classes(communes):
    counts = communes["deg3"].value_counts().to_dict()
    assert counts == {3: 3447, 2: 514, 1: 64}
    pops = communes.groupby("deg3")["pop_mun"].sum().to_dict()
    assert pops == {1: 2_386_513, 2: 2_748_524, 3: 3_070_520}
    # urban_class is INSEE's official degree of urbanisation (DEGURBA, from the density
    # grid), read here with plain pandas; the GHS deg3 above stays for the estimated network
    grid = pd.read_csv(
        settings.shared_data_dir
        / "territory"
        / "grille_densite_7niv_insee_communes_france_2025_aura.csv",
        dtype=str,
    ).set_index("insee")
    official = grid["degurba_3"].astype(int).map({1: "urban centre", 2: "intermediate", 3: "rural"})
    assert (
        communes["urban_class"].to_numpy() == official.reindex(communes["insee"]).to_numpy()
    ).all()
    assert communes["urban_class"].value_counts().to_dict() == {
        "rural": 3411,
        "intermediate": 539,
        "urban centre": 75,
    }
    assert (communes["urban_class_source"] == "INSEE DEGURBA (grille de densité 2025)").all()


def test_origin_point_inside_polygon_and_projected(communes):
    lon, lat = communes["lon"].to_numpy(), communes["lat"].to_numpy()
    assert shapely.contains_xy(communes.geometry.to_numpy(), lon, lat).all()
    x, y = to_l93(lon, lat)
    np.testing.assert_allclose(communes["x_l93"], x)
    np.testing.assert_allclose(communes["y_l93"], y)
    # the origin point is not the centroid: the mirror's interior point
    row = communes.set_index("insee").loc["01001"]
    assert (row["lon"], row["lat"]) == (4.933679, 46.152472)


def test_postcodes_and_former_communes(communes):
    c = communes.set_index("insee")
    assert "69003" in c.loc["69123", "postcodes"].split()
    assert "Bellegarde-sur-Valserine" in c.loc["01033", "former_names"].split("|")
    assert "74182" in c.loc["74010", "former_codes"].split()  # Meythet, now Annecy


def test_arrondissements():
    arr = load_arrondissements()
    assert list(arr["insee"]) == [f"6938{i}" for i in range(1, 10)]
    assert set(arr["commune"]) == {"69123"}
    assert shapely.contains_xy(arr.geometry.to_numpy(), arr["lon"], arr["lat"]).all()


def test_missing_file_says_how_to_rebuild(tmp_path):
    with pytest.raises(DataMissingError, match=r"build_communes\.py"):
        load_communes(tmp_path / "nope.gpkg")


def test_invalid_layer_duplicate_codes(tmp_path, communes):
    raw = gpd.read_file(communes_path(), layer="communes").iloc[:5]
    bad = gpd.GeoDataFrame(
        __import__("pandas").concat([raw, raw.iloc[:1]]), geometry="geometry", crs=raw.crs
    )
    path = tmp_path / "dup.gpkg"
    bad.to_file(path, layer="communes", driver="GPKG")
    with pytest.raises(ValidationError, match="duplicate INSEE") as err:
        load_communes(path)
    assert err.value.rows == [1, 6]


def test_invalid_layer_missing_column(tmp_path):
    raw = gpd.read_file(communes_path(), layer="communes").iloc[:3].drop(columns="pop_mun")
    path = tmp_path / "nopop.gpkg"
    raw.to_file(path, layer="communes", driver="GPKG")
    with pytest.raises(ValidationError, match="pop_mun"):
        load_communes(path)


def test_subset_file_loads(tmp_path):
    raw = gpd.read_file(communes_path(), layer="communes").iloc[:10]
    path = tmp_path / "subset.gpkg"
    raw.to_file(path, layer="communes", driver="GPKG")
    assert len(load_communes(path)) == 10


def test_manifest_lists_inputs_with_checksums():
    manifest = tomllib.loads((ROOT / "data" / "raw" / "MANIFEST.toml").read_text("utf-8"))
    entry = manifest["communes_84"]
    digest = hashlib.sha256(communes_path().read_bytes()).hexdigest()
    assert entry["sha256"] == digest
    for section in ("packages", "shared"):
        for item in manifest[section].values():
            assert {"file", "source", "licence", "vintage", "sha256"} <= set(item)
            assert len(item["sha256"]) == 64
    shared = Path(settings.shared_data_dir)
    for item in manifest["shared"].values():
        f = shared / item["file"]
        if f.exists():
            assert hashlib.sha256(f.read_bytes()).hexdigest() == item["sha256"], item["file"]


def _build_script():
    spec = importlib.util.spec_from_file_location(
        "build_communes", ROOT / "scripts" / "build_communes.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not (Path(settings.shared_data_dir) / "communes").is_dir(), reason="no local mirror"
)
def test_mirror_build_matches_committed_layer(communes):
    build = _build_script()
    gdf, arr = build.build_from_mirror(Path(settings.shared_data_dir))
    assert len(gdf) == 4025 and len(arr) == 9
    committed = gpd.read_file(communes_path(), layer="communes")
    for col in ("insee", "nom", "epci", "pop_mun", "deg3", "lon_pos", "lat_pos", "surface_km2"):
        assert list(gdf[col]) == list(committed[col]), col
    assert gdf.geometry.geom_equals_exact(committed.geometry, 1e-9).all()
