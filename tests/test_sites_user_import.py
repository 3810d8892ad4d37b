"""A user's directory export: good files load, each bad input gets a clear error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from analysis import settings
from analysis.communes import load_communes
from analysis.errors import DataMissingError, UnknownNameError, ValidationError
from analysis.sites.directory import load_bundled_directory
from analysis.sites.merge import merge_user_directory
from analysis.sites.normalise import CommuneIndex
from analysis.sites.user_import import load_user_directory, read_user_directory

HEADER = "id,name,network,commune,address,lon,lat\n"
GOOD = [
    "a1,ML Ambert permanence,Mission Locale,63003,Mairie,,",
    "a2,ML Issoire,mission locale,,,3.2483,45.5445",
    "a3,PIJ Aurillac,Info Jeunes (PIJ/BIJ/CRIJ),Aurillac,,,",
    "a4,ML Lyon 3,Mission Locale,,12 rue X 69003 Lyon,,",
]


@pytest.fixture(scope="module")
def index():
    return CommuneIndex(load_communes())


def write(tmp_path: Path, text: str, name: str = "dir.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def read(path, index):
    return read_user_directory(path, index=index)


def test_good_csv_loads_every_way_of_placing(tmp_path, index):
    ud = read(write(tmp_path, HEADER + "\n".join(GOOD) + "\n"), index)
    s = ud.sites.set_index("site_id")
    assert list(s.index) == ["user:a1", "user:a2", "user:a3", "user:a4"]
    assert set(s["provenance"]) == {"user"}
    assert s.loc["user:a1", "insee"] == "63003" and s.loc["user:a1", "position"] == "commune"
    assert s.loc["user:a2", "insee"] == "63178" and s.loc["user:a2", "position"] == "exact"
    assert s.loc["user:a3", "insee"] == "15014"  # a commune name
    assert s.loc["user:a4", "insee"] == "69123"  # the postcode in the address
    assert s.loc["user:a3", "network"] == "Info Jeunes"
    communes = load_communes().set_index("insee")
    polys = communes.loc[s["insee"], "geometry"].to_numpy()
    assert shapely.contains_xy(polys, s["lon"], s["lat"]).all()
    assert ud.dropped.empty


def test_semicolon_and_windows_encoding(tmp_path, index):
    text = "name;network;commune\nCIO Privas é;CIO;07186\n"
    ud = read(write(tmp_path, text, encoding="cp1252"), index)
    assert ud.sites["name"].iloc[0] == "CIO Privas é"


def test_user_file_never_written(tmp_path, index):
    p = write(tmp_path, HEADER + "\n".join(GOOD) + "\n")
    before = hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns
    load_user_directory(p)
    assert (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["dir.csv"]


def test_misnamed_columns_suggest_renames(tmp_path, index):
    p = write(tmp_path, "nom,reseau,commune\nML,Mission Locale,63003\n")
    with pytest.raises(ValidationError) as err:
        read(p, index)
    msg = str(err.value)
    assert str(p) in msg
    assert "rename 'nom' to 'name'" in msg and "rename 'reseau' to 'network'" in msg


def test_missing_place_column(tmp_path, index):
    with pytest.raises(ValidationError, match="'commune'"):
        read(write(tmp_path, "name,network\nML,Mission Locale\n"), index)


def test_empty_file_and_header_only(tmp_path, index):
    with pytest.raises(ValidationError, match="empty"):
        read(write(tmp_path, ""), index)
    with pytest.raises(ValidationError, match="no data row"):
        read(write(tmp_path, HEADER, name="h.csv"), index)


def test_unknown_network_lists_known(tmp_path, index):
    p = write(tmp_path, HEADER + GOOD[0] + "\nb1,X,Pole emplois,63003,,,\n")
    with pytest.raises(UnknownNameError) as err:
        read(p, index)
    assert err.value.rows == [2]
    assert "Pole emplois" in str(err.value) and "France Travail" in str(err.value)


def test_france_services_is_not_spro(tmp_path, index):
    with pytest.raises(ValidationError, match="not an SPRO network"):
        read(write(tmp_path, HEADER + "b1,FS,France Services,63003,,,\n"), index)


def test_duplicate_ids(tmp_path, index):
    p = write(tmp_path, HEADER + GOOD[0] + "\n" + GOOD[0] + "\n")
    with pytest.raises(ValidationError, match="duplicate id") as err:
        read(p, index)
    assert err.value.rows == [1, 2]


def test_swapped_lon_lat(tmp_path, index):
    p = write(tmp_path, HEADER + GOOD[0] + "\nb1,ML,Mission Locale,,,45.5445,3.2483\n")
    with pytest.raises(ValidationError, match="swapped") as err:
        read(p, index)
    assert err.value.rows == [2]


def test_lambert93_given_as_degrees(tmp_path, index):
    p = write(tmp_path, HEADER + "b1,ML,Mission Locale,,,720000,6490000\n")
    with pytest.raises(ValidationError, match="Lambert-93"):
        read(p, index)


def test_lambert93_columns_are_converted(tmp_path, index):
    c = load_communes().set_index("insee").loc["63178"]
    text = f"name,network,x_l93,y_l93\nML,Mission Locale,{c['x_l93']},{c['y_l93']}\n"
    s = read(write(tmp_path, text), index).sites
    assert s["insee"].iloc[0] == "63178"
    assert abs(s["lon"].iloc[0] - c["lon"]) < 1e-5


def test_outside_region_row_dropped_good_rows_load(tmp_path, index):
    p = write(tmp_path, HEADER + GOOD[1] + "\nb1,ML Paris,Mission Locale,,,2.35,48.85\n")
    ud = read(p, index)
    assert list(ud.sites["site_id"]) == ["user:a2"]
    assert ud.dropped.to_dict("records") == [
        {"row": 2, "name": "ML Paris", "reason": "coordinates outside Auvergne-Rhône-Alpes"}
    ]
    assert any("row 2" in m for m in ud.messages)


def test_unknown_commune_code_row_dropped(tmp_path, index):
    ud = read(write(tmp_path, HEADER + GOOD[0] + "\nb1,ML,Mission Locale,75056,,,\n"), index)
    assert len(ud.sites) == 1
    assert "unknown commune code '75056'" in ud.dropped["reason"].iloc[0]


def test_ambiguous_commune_name_row_dropped(tmp_path, index):
    ud = read(write(tmp_path, HEADER + GOOD[0] + "\nb1,ML,Mission Locale,Saint-Martin,,,\n"), index)
    assert len(ud.sites) == 1
    assert "commune name" in ud.dropped["reason"].iloc[0]


def test_no_usable_row_is_an_error(tmp_path, index):
    with pytest.raises(ValidationError, match="no usable row"):
        read(write(tmp_path, HEADER + "b1,ML,Mission Locale,99999,,,\n"), index)


def test_missing_file(tmp_path):
    with pytest.raises(DataMissingError):
        load_user_directory(tmp_path / "none.csv")


def test_unsupported_type(tmp_path, index):
    with pytest.raises(ValidationError, match="unsupported"):
        read(write(tmp_path, "x", name="dir.xlsx"), index)


def test_geojson_and_geopackage(tmp_path, index):
    feats = [
        {
            "type": "Feature",
            "properties": {"name": "CIO Issoire", "network": "CIO", "id": "g1"},
            "geometry": {"type": "Point", "coordinates": [3.2483, 45.5445]},
        }
    ]
    p = tmp_path / "dir.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    s = read(p, index).sites
    assert s["insee"].iloc[0] == "63178" and s["position"].iloc[0] == "exact"
    gdf = gpd.GeoDataFrame(
        {"name": ["CIO Issoire"], "network": ["CIO"]},
        geometry=[shapely.Point(3.2483, 45.5445)],
        crs="EPSG:4326",
    ).to_crs("EPSG:2154")
    g = tmp_path / "dir.gpkg"
    gdf.to_file(g, driver="GPKG")
    s = read(g, index).sites
    assert s["insee"].iloc[0] == "63178"


@pytest.mark.skipif(
    not (Path(settings.shared_data_dir) / "access_points").is_dir(), reason="no local mirror"
)
def test_merge_replaces_covered_networks(tmp_path):
    bundled = load_bundled_directory()
    user = load_user_directory(write(tmp_path, HEADER + "\n".join(GOOD) + "\n"))
    merged = merge_user_directory(bundled, user, how="replace")
    ml = merged[merged["network"] == "Mission Locale"]
    assert set(ml["provenance"]) == {"user"} and len(ml) == 3
    assert (merged["network"] == "Info Jeunes").sum() == 1
    cio = bundled["network"] == "CIO"
    assert (merged["network"] == "CIO").sum() == cio.sum()
    assert merged["site_id"].is_unique
    assert any("Mission Locale" in line for line in merged.attrs["merge_report"])
    with pytest.raises(ValidationError):
        merge_user_directory(bundled, user.iloc[:0])
