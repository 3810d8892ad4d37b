"""Bad-input catalogue: the classes of issue 14's last "misleading" item.

Rows ENC-NN (text encodings), CRS-NN (projections, GeoJSON in metres), GEOM-NN (geometry
types close to points), PVAL-NN (degenerate profile values, profile keys) and OUT-NN (the
output folder) of docs/bad_inputs.md. Every file is written in ``tmp_path``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli, user_error

from analysis.errors import ValidationError

NAMES = ["Mission Locale Cœur Été", "CIO Évian"]
DIRECTORY = (
    f"name,network,commune,lon,lat\n{NAMES[0]},Mission Locale,43157,,\n{NAMES[1]},CIO,,4.88,45.76\n"
)


@pytest.fixture(scope="module")
def communes():
    from analysis.communes import load_communes

    return load_communes()


@pytest.fixture(scope="module")
def index(communes):
    from analysis.sites.normalise import CommuneIndex

    return CommuneIndex(communes)


@pytest.fixture(autouse=True)
def quiet_logs():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read_dir(path: Path, index):
    from analysis.sites.user_import import read_user_directory

    return read_user_directory(path, index=index)


BOMS = {
    "utf-8-bom": b"\xef\xbb\xbf" + DIRECTORY.encode("utf-8"),
    "utf-16-le-bom": b"\xff\xfe" + DIRECTORY.encode("utf-16-le"),
    "utf-16-be-bom": b"\xfe\xff" + DIRECTORY.encode("utf-16-be"),
    "utf-32-le-bom": b"\xff\xfe\x00\x00" + DIRECTORY.encode("utf-32-le"),
    "utf-32-be-bom": b"\x00\x00\xfe\xff" + DIRECTORY.encode("utf-32-be"),
}


# =========================================================================== ENC
# Text encodings other than UTF-8 and Windows-1252 (analysis.io.decode_text).
@pytest.mark.parametrize("kind", sorted(BOMS))
def test_enc_01_directory_with_a_byte_order_mark(tmp_path, index, kind):
    """UTF-16 and UTF-32 exports (Excel's "Unicode text") were read as garbled headers."""
    plain = read_dir(write(tmp_path / "plain.csv", DIRECTORY), index).sites
    got = read_dir(write(tmp_path / f"{kind}.csv", BOMS[kind]), index).sites
    assert got["name"].tolist() == NAMES
    assert got[["insee", "x_l93", "y_l93"]].equals(plain[["insee", "x_l93", "y_l93"]])


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_enc_02_utf16_or_32_without_a_byte_order_mark(tmp_path, index, codec):
    p = write(tmp_path / "a.csv", DIRECTORY.encode(codec))
    kind = "UTF-32" if "32" in codec else "UTF-16"
    with pytest.raises(ValidationError, match=f"looks like {kind} text without a byte-order mark"):
        read_dir(p, index)
    with pytest.raises(ValidationError, match="save it as UTF-8"):
        read_dir(p, index)


def test_enc_03_latin9_directory(tmp_path, index):
    """ISO-8859-15 writes œ as 0xBD, which Windows-1252 reads as '½' (was loaded so)."""
    p = write(tmp_path / "a.csv", DIRECTORY.encode("iso8859-15"))
    with pytest.raises(ValidationError, match=r"line 2 holds '½'.*probably ISO-8859-15") as exc:
        read_dir(p, index)
    assert "save it as CSV (UTF-8)" in str(exc.value) and "a.csv" in str(exc.value)
    # Latin-9 text whose letters are those of Windows-1252 (é, è, à) loads as written
    same = "name,network,commune\nCIO Évian-les-Bains à côté,CIO,43157\n"
    ud = read_dir(write(tmp_path / "b.csv", same.encode("iso8859-15")), index)
    assert ud.sites["name"].tolist() == ["CIO Évian-les-Bains à côté"]
    # a real Windows-1252 file with ´ for an apostrophe is not taken for Latin-9
    cp = "name,network,commune\nCIO L´Arbresle – Cœur,CIO,43157\n"
    ud = read_dir(write(tmp_path / "c.csv", cp.encode("cp1252")), index)
    assert ud.sites["name"].tolist() == ["CIO L´Arbresle – Cœur"]


def test_enc_04_mac_roman_directory(tmp_path, index):
    """Mac Roman: é is 0x8E ('Ž' in Windows-1252, was loaded so); è is 0x8F (undefined)."""
    p = write(tmp_path / "a.csv", DIRECTORY.encode("mac-roman"))
    with pytest.raises(ValidationError, match=r"line 2 holds 'ƒ'.*probably Mac Roman"):
        read_dir(p, index)
    text = "name,network,commune\nCIO Crèches,CIO,43157\n"
    p = write(tmp_path / "b.csv", text.encode("mac-roman"))
    with pytest.raises(ValidationError, match=r"other than UTF-8 and Windows-1252 \(line 2 has "
                       r"the byte 0x8F.*Mac Roman") as exc:  # fmt: skip
        read_dir(p, index)
    assert "is it really" not in str(exc.value)  # text, not a binary file


def read_cands(data: bytes, communes):
    from analysis.planning.candidates import read_candidates_csv

    return read_candidates_csv(data, communes)


CANDS = "name,network,commune\nPermanence Tence Été,Mission Locale,43244\n"


def test_enc_05_candidates_in_utf16(communes):
    for data in (b"\xff\xfe" + CANDS.encode("utf-16-le"), b"\xef\xbb\xbf" + CANDS.encode()):
        load = read_cands(data, communes)
        assert load.candidates[["name", "insee"]].values.tolist() == [
            ["Permanence Tence Été", "43244"]
        ]
    with pytest.raises(ValidationError, match=r"UTF-8 CSV expected.*without a byte-order mark"):
        read_cands(CANDS.encode("utf-16-le"), communes)
    with pytest.raises(ValidationError, match=r"UTF-8 CSV expected.*line 2 has the byte 0xC9"):
        read_cands(CANDS.encode("latin-1"), communes)


PROFILE = (
    '[profiles.pupils]\nlabel = "Élèves"\nnetworks = ["CIO"]\n'
    "thresholds_min = { road = 30, transit = 45, walk = 20 }\n"
)


def test_enc_06_profiles_file_with_a_byte_order_mark(tmp_path, capsys):
    """A UTF-8 BOM (Notepad) was "Invalid statement (at line 1, column 1)"; UTF-16 a codec error."""
    from analysis.profiles import load_profiles

    for name, data in (
        ("bom8.toml", b"\xef\xbb\xbf" + PROFILE.encode()),
        ("bom16.toml", b"\xff\xfe" + PROFILE.encode("utf-16-le")),
    ):
        p = write(tmp_path / name, data)
        assert load_profiles(p)["pupils"].label == "Élèves"
    p = write(tmp_path / "nobom16.toml", PROFILE.encode("utf-16-le"))
    rc, _, err = cli(capsys, "profiles", "--profiles-file", p)
    user_error(rc, err, "nobom16.toml", "not a valid TOML file", "UTF-16", "save it as UTF-8")


def test_enc_07_demand_file_in_utf16(tmp_path, communes):
    """A demand CSV saved as UTF-16 was a UnicodeDecodeError traceback."""
    from analysis.profiles import Profile, profile_demand

    n = np.arange(len(communes)) % 7
    table = pd.DataFrame({"insee": communes["insee"], "jeunes": n})
    text = table.to_csv(index=False)

    def demand(path: Path) -> np.ndarray:
        prof = Profile(key="own", label="Own", networks=("CIO",), thresholds_min={"road": 30.0},
                       base="file", demand_file=str(path), demand_column="jeunes")  # fmt: skip
        return profile_demand(prof, communes)

    got = demand(write(tmp_path / "d16.csv", b"\xff\xfe" + text.encode("utf-16-le")))
    np.testing.assert_array_equal(got, n.astype(float))
    with pytest.raises(ValidationError, match="without a byte-order mark"):
        demand(write(tmp_path / "d16nobom.csv", text.encode("utf-16-le")))


def test_enc_08_college_list_in_utf16(tmp_path):
    from analysis.planning.season import read_college_list

    code = "0430027" + "ABCDEFGHJKLMNPRSTUVWXYZ"[430027 % 23]  # the UAI check letter
    text = f"uai\n{code}\n"
    assert read_college_list(write(tmp_path / "u8.csv", text)) == [code]
    p = write(tmp_path / "c.csv", b"\xff\xfe" + text.encode("utf-16-le"))
    assert read_college_list(p) == [code]
    p = write(tmp_path / "d.csv", text.encode("utf-16-le"))
    with pytest.raises(ValidationError, match=r"UTF-8 text expected.*byte-order mark"):
        read_college_list(p)


def test_enc_09_gtfs_member_in_utf16(tmp_path):
    """A stops.txt saved as "Unicode text" was "not a readable CSV file: 'utf-8' codec …"."""
    import shutil

    from analysis.transit.gtfs import read_gtfs

    tiny = Path(__file__).parent / "data" / "gtfs_tiny"
    text = (tiny / "stops.txt").read_text(encoding="utf-8").replace("Alpha", "Élan")

    def feed(name: str, data: bytes) -> Path:
        out = tmp_path / name
        shutil.copytree(tiny, out)
        (out / "stops.txt").write_bytes(data)
        return out

    want = read_gtfs(feed("utf8", text.encode())).stops
    got = read_gtfs(feed("utf16", b"\xff\xfe" + text.encode("utf-16-le"))).stops
    assert got["stop_name"].tolist() == want["stop_name"].tolist()
    assert "Élan" in got["stop_name"].tolist()
    with pytest.raises(ValidationError, match=r"stops\.txt: not a readable CSV file: the file "
                       "looks like UTF-16 text without a byte-order mark"):  # fmt: skip
        read_gtfs(feed("nobom", text.encode("utf-16-le")))
    with pytest.raises(ValidationError, match=r"stops\.txt: not a readable CSV file: not UTF-8 "
                       r"text \(line 2 has the byte 0xC9"):  # fmt: skip
        read_gtfs(feed("latin1", text.encode("latin-1")))


# =========================================================================== CRS
# Coordinates in projections other than WGS84 and Lambert-93 (analysis.crs.likely_crs).
#: Lyon Part-Dieu and Le Puy-en-Velay in degrees (the reference positions).
LONLAT = [(4.8590, 45.7605), (3.8855, 45.0434)]
OTHER = {
    27572: "Lambert II étendu (EPSG:27572)",
    32631: "UTM zone 31N (EPSG:32631)",
    3857: "Web Mercator (EPSG:3857)",
    3946: "Lambert conique conforme CC46 (EPSG:3946)",
}


def projected(epsg: int) -> list[tuple[float, float]]:
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    return [tr.transform(lon, lat) for lon, lat in LONLAT]


def xy_csv(path: Path, columns: tuple[str, str], points) -> Path:
    body = "".join(f"Site {k},CIO,{x!r},{y!r}\n" for k, (x, y) in enumerate(points))
    return write(path, f"name,network,{columns[0]},{columns[1]}\n{body}")


def reference_l93(index, tmp_path) -> np.ndarray:
    p = xy_csv(tmp_path / "ref.csv", ("lon", "lat"), LONLAT)
    return read_dir(p, index).sites[["x_l93", "y_l93"]].to_numpy(float)


def test_crs_01_region_boxes_in_each_projection():
    """The boxes the guesses rest on, against the region's corners projected by pyproj."""
    from pyproj import Transformer

    from analysis.crs import KNOWN_CRS, likely_crs, region_box

    codes = [c for c, _ in KNOWN_CRS]
    assert {"EPSG:2154", "EPSG:27572", "EPSG:32631", "EPSG:3857", "EPSG:3946"} <= set(codes)
    for code in codes:
        x0, y0, x1, y1 = region_box(code)
        tr = Transformer.from_crs("EPSG:4326", code, always_xy=True)
        for lon, lat in ((2.0, 44.0), (7.3, 46.9), (2.0, 46.9), (7.3, 44.0), *LONLAT):
            x, y = (lon, lat) if code == "EPSG:4326" else tr.transform(lon, lat)
            assert x0 <= x <= x1 and y0 <= y <= y1, (code, lon, lat)
        paris = (2.35, 48.86) if code == "EPSG:4326" else tr.transform(2.35, 48.86)
        assert not (x0 <= paris[0] <= x1 and y0 <= paris[1] <= y1), code  # a box, not France
    for epsg, name in OTHER.items():
        xy = np.array(projected(epsg))
        found = likely_crs(xy[:, 0], xy[:, 1])
        assert (f"EPSG:{epsg}", name, False) in found
        assert "EPSG:2154" not in [c for c, _, _ in found] and "EPSG:4326" not in [
            c for c, _, _ in found
        ]
        assert (f"EPSG:{epsg}", name, True) in likely_crs(xy[:, 1], xy[:, 0])  # swapped


@pytest.mark.parametrize("epsg", sorted(OTHER))
def test_crs_02_other_projection_in_lon_lat_columns(tmp_path, index, epsg):
    """Were "coordinates are not numbers" for every row (then "no usable row")."""
    p = xy_csv(tmp_path / "a.csv", ("lon", "lat"), projected(epsg))
    with pytest.raises(ValidationError) as exc:
        read_dir(p, index)
    msg = str(exc.value)
    assert "hold metres, not degrees" in msg and OTHER[epsg] in msg
    assert "convert them to longitude/latitude in degrees (WGS84, EPSG:4326)" in msg
    assert exc.value.rows == [1, 2]


@pytest.mark.parametrize("epsg", sorted(OTHER))
def test_crs_03_other_projection_in_lambert93_columns(tmp_path, index, epsg):
    """Were "coordinates outside Auvergne-Rhône-Alpes" for every row."""
    p = xy_csv(tmp_path / "a.csv", ("x_l93", "y_l93"), projected(epsg))
    with pytest.raises(ValidationError, match=r"columns 'x_l93'/'y_l93' fit") as exc:
        read_dir(p, index)
    assert OTHER[epsg] in str(exc.value) and exc.value.rows == [1, 2]
    # degrees in the Lambert-93 columns: the rename is said
    p = xy_csv(tmp_path / "b.csv", ("x_l93", "y_l93"), LONLAT)
    with pytest.raises(ValidationError, match="rename them 'lon' and 'lat'"):
        read_dir(p, index)


def test_crs_09_lambert93_with_the_columns_swapped(tmp_path, index):
    """y before x in x_l93/y_l93 (or in lon/lat): was "outside Auvergne-Rhône-Alpes" per row."""
    swapped = [(y, x) for x, y in projected(2154)]
    for cols in (("x_l93", "y_l93"), ("lon", "lat")):
        p = xy_csv(tmp_path / f"{cols[0]}.csv", cols, swapped)
        with pytest.raises(ValidationError, match="with the two columns swapped") as exc:
            read_dir(p, index)
        assert "swap the two columns (x, the easting, is the smaller number)" in str(exc.value)


@pytest.mark.parametrize("epsg", [2154, 27572])
def test_crs_04_unnamed_x_y_columns(tmp_path, index, epsg):
    """Columns x/y: the missing-place message says what they fit (was silent about them)."""
    p = xy_csv(tmp_path / "a.csv", ("x", "y"), projected(epsg))
    with pytest.raises(ValidationError, match="missing column") as exc:
        read_dir(p, index)
    want = "name them 'x_l93' and 'y_l93'" if epsg == 2154 else OTHER[epsg]
    assert "columns 'x'/'y' hold coordinates that fit" in str(exc.value) and want in str(exc.value)


def test_crs_05_declared_projection_is_converted(tmp_path, index):
    """A GeoPackage in CC46 and a GeoJSON declaring Lambert II étendu load at the right place."""
    import geopandas as gpd
    import shapely

    want = reference_l93(index, tmp_path)
    for epsg, name in ((3946, "cc46.gpkg"), (32631, "utm.gpkg"), (27572, "l2e.geojson")):
        pts = [shapely.Point(x, y) for x, y in projected(epsg)]
        gdf = gpd.GeoDataFrame({"name": ["Site 0", "Site 1"], "network": ["CIO", "CIO"]},
                               geometry=pts, crs=f"EPSG:{epsg}")  # fmt: skip
        gdf.to_file(tmp_path / name)
        got = read_dir(tmp_path / name, index).sites[["x_l93", "y_l93"]].to_numpy(float)
        np.testing.assert_allclose(got, want, atol=0.5)  # metres


def geojson(geoms: list[str], crs: str = "") -> str:
    feats = ",".join(
        f'{{"type":"Feature","properties":{{"name":"Site {k}","network":"CIO","commune":'
        f'"{c}"}},"geometry":{g}}}'
        for k, (g, c) in enumerate(geoms)
    )
    return f'{{"type":"FeatureCollection",{crs}"features":[{feats}]}}'


def point(x: float, y: float, *more: float) -> str:
    coords = ",".join(repr(v) for v in (x, y, *more))
    return f'{{"type":"Point","coordinates":[{coords}]}}'


def test_crs_06_geojson_in_metres_without_a_crs(tmp_path, index):
    """Was "columns 'lon'/'lat' hold Lambert-93 metres; rename them" (a GeoJSON has none)."""
    pts = projected(2154)
    p = write(tmp_path / "a.geojson", geojson([(point(*xy), "") for xy in pts]))
    with pytest.raises(ValidationError) as exc:
        read_dir(p, index)
    msg = str(exc.value)
    assert "declares no CRS" in msg and "RFC 7946" in msg
    assert (
        "these look like Lambert-93 (EPSG:2154) metres; add a crs member or convert to WGS84" in msg
    )
    assert "rename" not in msg and exc.value.rows == [1, 2]
    # the same file with its crs member loads at the reference place
    crs = '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}},'
    p = write(tmp_path / "b.geojson", geojson([(point(*xy), "") for xy in pts], crs))
    got = read_dir(p, index).sites[["x_l93", "y_l93"]].to_numpy(float)
    np.testing.assert_allclose(got, reference_l93(index, tmp_path), atol=0.5)


def test_crs_07_geopackage_without_a_crs_in_metres(tmp_path, index):
    import geopandas as gpd
    import shapely

    pts = [shapely.Point(x, y) for x, y in projected(27572)]
    gdf = gpd.GeoDataFrame({"name": ["Site 0", "Site 1"], "network": ["CIO", "CIO"]},
                           geometry=pts, crs=None)  # fmt: skip
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gdf.to_file(tmp_path / "a.gpkg")
    want = r"declares no CRS but its coordinates are not degrees: these look like Lambert II"
    with pytest.raises(ValidationError, match=want) as exc:
        read_dir(tmp_path / "a.gpkg", index)
    assert "étendu (EPSG:27572) metres; set the layer's real CRS" in str(exc.value)


def test_crs_08_candidate_point_or_base_in_metres(communes):
    """A candidate, a `whatif --point` or a caravane base in metres: was "lies outside the
    region (lon/lat swapped?)", which sent the user to swap two numbers of metres."""
    from analysis.planning.candidates import make_candidate
    from analysis.planning.caravane import resolve_base

    for epsg in (2154, *sorted(OTHER)):
        x, y = projected(epsg)[0]
        name = "Lambert-93 (EPSG:2154)" if epsg == 2154 else OTHER[epsg]
        rec = {"name": "Forum", "network": "Mission Locale", "lon": x, "lat": y}
        with pytest.raises(ValidationError, match="lies outside the region") as exc:
            make_candidate(rec, communes)
        assert f"these are metres of {name}, not degrees" in str(exc.value)
        assert "swapped" not in str(exc.value)
        with pytest.raises(ValidationError, match="lies outside Auvergne-Rhône-Alpes") as exc:
            resolve_base((x, y), communes)
        assert f"these are metres of {name}" in str(exc.value)
    lon, lat = LONLAT[0]
    with pytest.raises(ValidationError, match=r"lies outside the region \(lon/lat swapped\?\)"):
        make_candidate({"name": "F", "network": "CIO", "lon": lat, "lat": lon}, communes)
    with pytest.raises(ValidationError, match=r"outside the region$"):  # Paris: no guess
        make_candidate({"name": "F", "network": "CIO", "lon": 2.35, "lat": 48.86}, communes)


# =========================================================================== GEOM
# Geometry types close to points (one rule: analysis.sites.user_import._as_points).
LYON, PUY = LONLAT


def test_geom_01_multipoint_of_one_point_is_that_point(tmp_path, index):
    """Was "the geometries must be points (found MultiPoint)"."""
    mp = '{"type":"MultiPoint","coordinates":[[%r,%r]]}'
    same = '{"type":"MultiPoint","coordinates":[[%r,%r],[%r,%r]]}'
    p = write(tmp_path / "a.geojson",
              geojson([(mp % LYON, ""), (same % (*PUY, *PUY), "")]))  # fmt: skip
    got = read_dir(p, index).sites[["x_l93", "y_l93"]].to_numpy(float)
    np.testing.assert_allclose(got, reference_l93(index, tmp_path), atol=0.01)


def test_geom_06_multipoint_layer_is_the_point_layer_of_a_geopackage(tmp_path, index):
    """A GeoPackage with a MultiPoint layer and a Polygon layer: the MultiPoint one is read."""
    import geopandas as gpd
    import shapely

    sites = gpd.GeoDataFrame(
        {"name": ["Site 0", "Site 1"], "network": ["CIO", "CIO"]},
        geometry=[shapely.MultiPoint([LYON]), shapely.MultiPoint([PUY])], crs="EPSG:4326",
    )  # fmt: skip
    zones = gpd.GeoDataFrame({"z": [1]}, geometry=[shapely.box(4.8, 45.7, 4.9, 45.8)], crs=4326)
    p = tmp_path / "a.gpkg"
    sites.to_file(p, layer="sites")
    zones.to_file(p, layer="zones")
    ud = read_dir(p, index)
    np.testing.assert_allclose(ud.sites[["x_l93", "y_l93"]].to_numpy(float),
                               reference_l93(index, tmp_path), atol=0.01)  # fmt: skip
    assert any("read layer 'sites', the only point layer" in m for m in ud.messages)


def test_geom_02_multipoint_of_several_points_is_refused_with_its_row(tmp_path, index):
    two = (
        f'{{"type":"MultiPoint","coordinates":[[{LYON[0]!r},{LYON[1]!r}],[{PUY[0]!r},{PUY[1]!r}]]}}'
    )
    p = write(tmp_path / "a.geojson", geojson([(point(*LYON), ""), (two, "")]))
    with pytest.raises(ValidationError, match=r"found MultiPoint of 2 points.*split it") as exc:
        read_dir(p, index)
    assert exc.value.rows == [2]


@pytest.mark.parametrize(
    "geom",
    [
        '{"type":"LineString","coordinates":[[4.85,45.76],[4.86,45.77]]}',
        '{"type":"Polygon","coordinates":[[[4.85,45.76],[4.86,45.76],[4.86,45.77],[4.85,45.76]]]}',
        '{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[4.85,45.76]}]}',
    ],
)
def test_geom_03_lines_zones_collections_refused_with_their_rows(tmp_path, index, geom):
    """Refused, never reduced to a representative point; the rows are named (they were not)."""
    p = write(tmp_path / "a.geojson", geojson([(point(*LYON), ""), (geom, "")]))
    kind = geom.split('"')[3]
    with pytest.raises(ValidationError, match=f"must be points \\(found {kind}\\)") as exc:
        read_dir(p, index)
    assert exc.value.rows == [2]


def test_geom_04_empty_geometries(tmp_path, index):
    """No position: placed by the commune when given, else left out saying why."""
    empty = '{"type":"MultiPoint","coordinates":[]}'
    feats = [(point(*LYON), ""), (empty, "43157"), ("null", ""), (empty, "")]
    p = write(tmp_path / "a.geojson", geojson(feats))
    ud = read_dir(p, index)
    assert ud.sites["name"].tolist() == ["Site 0", "Site 1"]
    assert ud.sites["insee"].tolist()[1] == "43157"
    assert ud.sites["position"].tolist() == ["exact", "commune"]
    assert ud.dropped["row"].tolist() == [3, 4]
    assert all("its geometry is empty" in r for r in ud.dropped["reason"])


def test_geom_05_z_coordinates_are_dropped(tmp_path, index):
    import geopandas as gpd
    import shapely

    want = reference_l93(index, tmp_path)
    p = write(
        tmp_path / "a.geojson", geojson([(point(*LYON, 170.0), ""), (point(*PUY, 630.0), "")])
    )
    np.testing.assert_allclose(read_dir(p, index).sites[["x_l93", "y_l93"]].to_numpy(float), want)
    gdf = gpd.GeoDataFrame({"name": ["Site 0", "Site 1"], "network": ["CIO", "CIO"]},
                           geometry=[shapely.Point(*LYON, 170.0), shapely.Point(*PUY, 630.0)],
                           crs="EPSG:4326")  # fmt: skip
    gdf.to_file(tmp_path / "z.gpkg")
    got = read_dir(tmp_path / "z.gpkg", index).sites
    np.testing.assert_allclose(got[["x_l93", "y_l93"]].to_numpy(float), want)
    assert not got.geometry.has_z.any()


# =========================================================================== PVAL
# Degenerate profile values and profile keys that are not safe folder names.
def profile_text(key="pupils", demand="", thresholds="{ road = 30, transit = 45, walk = 20 }",
                 networks='["CIO"]'):  # fmt: skip
    return (
        f'[profiles.{key}]\nlabel = "Pupils"\nnetworks = {networks}\n'
        f"thresholds_min = {thresholds}\n"
        + (f"[profiles.{key}.demand]\n{demand}" if demand else "")
    )


def profiles_error(tmp_path, capsys, text: str, *needles: str) -> str:
    p = write(tmp_path / "mine.toml", text)
    rc, _, err = cli(capsys, "profiles", "--profiles-file", p)
    return user_error(rc, err, str(p), *needles)


@pytest.mark.parametrize("share", ["0", "0.0", "1.5", "-0.2", "nan", "inf", '"10%"'])
def test_pval_01_degenerate_demand_share(tmp_path, capsys, share):
    """A share of 0 (and above 1) was accepted: every share of the results was 0/0 = NaN."""
    profiles_error(tmp_path, capsys, profile_text(demand=f"share = {share}\n"),
                   "profile 'pupils'", "demand `share`", "above 0 and at most 1")  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "needles"),
    [
        ({"thresholds": "{ road = 0, transit = 45, walk = 20 }"},
         ("`thresholds_min.road`", "not 0")),
        ({"thresholds": "{ road = 30, transit = nan, walk = 20 }"}, ("`thresholds_min.transit`",)),
        ({"networks": "[]"}, ("`networks` must be a non-empty list",)),
        ({"demand": 'base = "age_bands"\nbands = { share_18_24_shrunk = 0, share_25_39 = 0 }\n'},
         ("every coefficient of `demand.bands` is 0",)),
        ({"demand": 'base = "age_bands"\nbands = { share_18_24_shrunk = 2.5 }\n'},
         ("`demand.bands.share_18_24_shrunk`", "from 0 to 1")),
    ],
)  # fmt: skip
def test_pval_02_degenerate_thresholds_networks_bands(tmp_path, capsys, kw, needles):
    """One line naming the file, the profile and the field (a 0 threshold lacked the field;
    all-zero bands were accepted; a coefficient of 2.5 counted 250 % of the band)."""
    profiles_error(tmp_path, capsys, profile_text(**kw), "profile 'pupils'", *needles)


def test_pval_03_demand_file_of_zeros(tmp_path, communes):
    """Every figure 0: was accepted, and every share of the results was NaN."""
    from analysis.profiles import Profile, profile_demand

    p = tmp_path / "zeros.csv"
    pd.DataFrame({"insee": communes["insee"], "jeunes": 0}).to_csv(p, index=False)
    prof = Profile(key="own", label="Own", networks=("CIO",), thresholds_min={"road": 30.0},
                   base="file", demand_file=str(p), demand_column="jeunes")  # fmt: skip
    with pytest.raises(ValidationError, match=r"every figure of column 'jeunes' is 0: profile "
                       r"'own' would count nobody") as exc:  # fmt: skip
        profile_demand(prof, communes)
    assert str(p) in str(exc.value)
    # one commune with somebody is a valid (if small) demand
    pd.DataFrame({"insee": communes["insee"], "jeunes": [5] + [0] * (len(communes) - 1)}).to_csv(
        p, index=False
    )
    assert profile_demand(prof, communes).sum() == 5
    # an infinite count (read by pandas from "inf") was accepted: every share NaN
    pd.DataFrame(
        {"insee": communes["insee"], "jeunes": ["inf"] + [1] * (len(communes) - 1)}
    ).to_csv(p, index=False)
    with pytest.raises(ValidationError, match=r"jeunes must be a non-negative number") as exc:
        profile_demand(prof, communes)
    assert exc.value.rows == [1]


UNSAFE_KEYS = ['"../x"', '"a/b"', '"a\\\\b"', "CON", "lpt1", '"a b"', '"élèves"', "x" * 65,
               '""', "all", "_x"]  # fmt: skip


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_pval_04_profile_key_that_is_no_safe_folder_name(tmp_path, capsys, key):
    """Were accepted; `--out X --profile a b` writes into X/<key>, and the default folder
    starts with the key (RUN-12 refused only path characters, and only there)."""
    line = profiles_error(tmp_path, capsys, profile_text(key=key),
                          "profile key", "a profile key names output folders")  # fmt: skip
    assert "ASCII letters, digits, '-' and '_'" in line


@pytest.mark.parametrize("key", ["CON", "élèves", "x" * 65, "a b"])
def test_pval_05_library_profile_key_and_the_default_folder(tmp_path, monkeypatch, key):
    """A Profile built in code never reaches load_profiles: the default folder applies the rule."""
    from analysis import settings
    from analysis.runs import default_out_dir

    monkeypatch.setattr(settings, "output_dir", tmp_path / "outputs")
    with pytest.raises(ValidationError, match="cannot name an output folder"):
        default_out_dir(key, "road", 30)
    assert default_out_dir("young_16-25", "road", 30) == tmp_path / "outputs/young_16-25_road_30min"


# =========================================================================== OUT
# Output folders (`--out`, analysis.io.out_folder_problem): refused before anything is loaded.
COMMANDS = [
    ("coverage", "--profile", "job_seekers"),
    ("site-permanences", "--network", "CIO", "--k", "1"),
    ("whatif", "--remove", "x"),
]


def refused(capsys, command, out, *needles):
    rc, _, err = cli(capsys, *command, "--out", out)
    return user_error(rc, err, "argument --out", *needles)


@pytest.mark.parametrize("command", COMMANDS)
def test_out_01_root_of_the_file_system(capsys, command):
    """As root (this container) a coverage run wrote communes.csv & co. into /."""
    before = sorted(p.name for p in Path("/").iterdir())
    refused(capsys, command, "/", "'/' is the root of the file system", "outputs/my_run")
    refused(capsys, command, "/tmp/..", "is the root of the file system")
    assert sorted(p.name for p in Path("/").iterdir()) == before


def test_out_06_library_run_into_the_root():
    """`run_coverage(out_dir="/")` applies the same rule, before anything is loaded."""
    from analysis.runs import run_coverage

    with pytest.raises(ValidationError, match="is the root of the file system"):
        run_coverage("pupils", out_dir="/", communes=None)


def test_out_02_project_folder_its_source_and_the_data_folders(tmp_path, capsys, monkeypatch):
    from analysis import settings

    project = Path(settings.project_dir).resolve()
    command = COMMANDS[0]
    refused(capsys, command, project, "is the project's own folder", "would mix")
    monkeypatch.chdir(project)
    refused(capsys, command, ".", "'.' is the project's own folder")
    refused(capsys, command, "analysis/out", "lies in the tool's source")
    refused(capsys, command, project / "data" / "raw" / "x", "lies in the raw data folder")
    assert not (project / "analysis" / "out").exists()
    assert not (project / "data" / "raw" / "x").exists()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(settings, "shared_data_dir", mirror)
    refused(capsys, command, mirror / "results", "lies in the shared data mirror", "never writes")
    assert list(mirror.iterdir()) == []
    assert out_ok(tmp_path / "results") and out_ok(project / "outputs" / "x")


def out_ok(path) -> bool:
    from analysis.io import out_folder_problem

    return out_folder_problem(str(path)) is None


def test_out_03_home_folder(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    refused(capsys, COMMANDS[0], home, "is your home folder")
    refused(capsys, COMMANDS[0], "~", "is your home folder")
    assert out_ok(home / "spro")


@pytest.mark.parametrize("name", ["a\tb", "runs\nold", "x\x01"])
def test_out_04_control_characters(tmp_path, capsys, name):
    """GDAL drops tabs and line breaks from paths: the run went to its end, then the
    GeoPackage write failed with a DataSourceError traceback."""
    refused(capsys, COMMANDS[0], tmp_path / name, "holds a control character")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write everywhere")
def test_out_05_folder_that_cannot_be_written(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    refused(capsys, COMMANDS[0], locked / "out", "cannot be written in (permission denied)")
