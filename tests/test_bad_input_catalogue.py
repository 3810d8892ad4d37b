"""The bad-input catalogue (docs/bad_inputs.md): one test per row, ids matching the doc.

Every row feeds the tool one mistake real files have and checks the documented behaviour:
a user mistake stops with a :class:`~analysis.errors.ValidationError` (or
``DataMissingError``) naming the file, the row and the fix, and on the command line with
exit code 2 and ONE ``error:`` line, never a traceback; a bad row of an otherwise good
file is left out and reported (good rows still load); nothing a file contains can run as
a spreadsheet formula or as script in a map. Bad files are written into ``tmp_path``.

Rows whose behaviour is still wrong are marked :func:`needs_fix` (strict ``xfail``): the
test says how the tool SHOULD behave and the reason names the fix. When the fix lands the
test passes, strict ``xfail`` fails the run, and the marker must be removed.
"""

from __future__ import annotations

import logging
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli, user_error

from analysis import settings
from analysis.errors import (
    DataMissingError,
    SproError,
    UnknownNameError,
    ValidationError,
)
from analysis.io import sha256_file

HERE = Path(__file__).resolve().parent
TINY = HERE / "data" / "gtfs_tiny"
HAS_MIRROR = (settings.shared_data_dir / "access_points").is_dir()
needs_mirror = pytest.mark.skipif(
    not HAS_MIRROR, reason="needs the local data mirror ../shared/data (bundled directory)"
)


def needs_fix(where: str) -> pytest.MarkDecorator:
    """Mark a row whose behaviour is still wrong; ``where`` names the fix (see the doc)."""
    return pytest.mark.xfail(strict=True, reason=f"needs fix: {where}")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def communes():
    from analysis.communes import load_communes

    return load_communes()


@pytest.fixture(scope="module")
def index(communes):
    from analysis.sites.normalise import CommuneIndex

    return CommuneIndex(communes)


@pytest.fixture
def quiet_logs():
    """The loaders log each dropped row as a warning; tests read the returned report."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def write(path: Path, content: str | bytes, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


# =========================================================================== DIR
# A planner's own directory export (analysis.sites.user_import / coverage --sites).
HEAD = "name,network,commune,lon,lat\n"
GOOD = "ML Yssingeaux,Mission Locale,43268,4.1236,45.1427\n"


def read_dir(path: Path, index):
    from analysis.sites.user_import import read_user_directory

    return read_user_directory(path, index=index)


def test_dir_01_missing_file(tmp_path, capsys):
    from analysis.sites.user_import import load_user_directory

    with pytest.raises(DataMissingError, match="directory file not found"):
        load_user_directory(tmp_path / "annuaire.csv")
    rc, _, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites",
                     tmp_path / "annuaire.csv", "--out", tmp_path / "out")  # fmt: skip
    user_error(rc, err, "directory file not found", "annuaire.csv")


def test_dir_02_empty_file(tmp_path, index):
    p = write(tmp_path / "empty.csv", b"")
    with pytest.raises(ValidationError, match="the file is empty") as exc:
        read_dir(p, index)
    assert exc.value.source == str(p)


def test_dir_03_header_without_rows(tmp_path, index):
    p = write(tmp_path / "header.csv", HEAD)
    with pytest.raises(ValidationError, match="header but no data row"):
        read_dir(p, index)


def test_dir_04_french_column_names(tmp_path, index):
    p = write(tmp_path / "annuaire.csv", "nom;reseau;commune\nA;Mission Locale;43268\n")
    with pytest.raises(ValidationError) as exc:
        read_dir(p, index)
    msg = str(exc.value)
    assert "rename 'nom' to 'name'" in msg and "rename 'reseau' to 'network'" in msg


def test_dir_05_missing_network_column(tmp_path, index):
    p = write(tmp_path / "a.csv", "name,commune\nA,43268\n")
    with pytest.raises(ValidationError, match=r"missing column\(s\) 'network'"):
        read_dir(p, index)


def test_dir_06_unknown_network(tmp_path, index, capsys):
    p = write(tmp_path / "a.csv", HEAD + GOOD + "B,Mision Locale,43157,,\n")
    with pytest.raises(UnknownNameError) as exc:
        read_dir(p, index)
    assert exc.value.rows == [2]
    assert "Mission Locale" in exc.value.valid  # the valid names are listed
    if HAS_MIRROR:
        rc, _, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites", p,
                         "--out", tmp_path / "out")  # fmt: skip
        user_error(rc, err, "row 2", "unknown network 'Mision Locale'", "valid networks are")


def test_dir_07_non_spro_network(tmp_path, index):
    p = write(tmp_path / "a.csv", HEAD + GOOD + "MSAP Yssingeaux,France Services,43268,,\n")
    with pytest.raises(ValidationError, match="not an SPRO network") as exc:
        read_dir(p, index)
    assert exc.value.rows == [2]


def test_dir_08_lon_lat_swapped(tmp_path, index):
    p = write(tmp_path / "a.csv", HEAD + "A,Mission Locale,43268,45.1427,4.1236\n" + GOOD)
    with pytest.raises(ValidationError, match="look swapped") as exc:
        read_dir(p, index)
    assert exc.value.rows == [1]


def test_dir_09_lambert93_metres_as_degrees(tmp_path, index):
    p = write(tmp_path / "a.csv", HEAD + "A,Mission Locale,43268,775000,6450000\n")
    with pytest.raises(ValidationError, match=r"Lambert-93 metres.*x_l93"):
        read_dir(p, index)


def test_dir_10_coordinates_outside_region_row_dropped(tmp_path, index, quiet_logs):
    p = write(tmp_path / "a.csv", HEAD + GOOD + "ML Paris,Mission Locale,,2.35,48.85\n")
    ud = read_dir(p, index)
    assert ud.sites["name"].tolist() == ["ML Yssingeaux"]
    assert ud.dropped.to_dict("records") == [
        {"row": 2, "name": "ML Paris", "reason": "coordinates outside Auvergne-Rhône-Alpes"}
    ]
    assert any("row 2 (ML Paris) left out" in m for m in ud.messages)


def test_dir_11_coordinates_not_numbers(tmp_path, index, quiet_logs):
    p = write(tmp_path / "a.csv", HEAD + GOOD + "B,CIO,,4°07'E,45.1\n")
    ud = read_dir(p, index)
    assert len(ud.sites) == 1
    assert ud.dropped[["row", "reason"]].values.tolist() == [[2, "coordinates are not numbers"]]


def test_dir_12_duplicate_ids(tmp_path, index):
    p = write(tmp_path / "a.csv", "id,name,network,commune\n1,A,CIO,43157\n1,B,CIO,43268\n")
    with pytest.raises(ValidationError, match="duplicate id") as exc:
        read_dir(p, index)
    assert exc.value.rows == [1, 2]


def test_dir_13_row_without_name(tmp_path, index, quiet_logs):
    ud = read_dir(write(tmp_path / "a.csv", HEAD + GOOD + ",CIO,43157,,\n"), index)
    assert ud.dropped[["row", "reason"]].values.tolist() == [[2, "no name"]]


def test_dir_14_row_without_any_place(tmp_path, index, quiet_logs):
    ud = read_dir(write(tmp_path / "a.csv", HEAD + GOOD + "B,CIO,,,\n"), index)
    ((row, reason),) = ud.dropped[["row", "reason"]].values.tolist()
    assert row == 2 and reason.startswith("no place: give a commune")


def test_dir_15_misspelt_commune_name(tmp_path, index, quiet_logs):
    ud = read_dir(write(tmp_path / "a.csv", HEAD + GOOD + "B,CIO,Le Puy en Velai,,\n"), index)
    ((row, reason),) = ud.dropped[["row", "reason"]].values.tolist()
    assert row == 2 and "'Le Puy en Velai'" in reason and "INSEE code" in reason


def test_dir_16_ambiguous_commune_name(tmp_path, index, quiet_logs):
    # Two communes of the region are called Saint-Just (01369 and 63371).
    ud = read_dir(write(tmp_path / "a.csv", HEAD + GOOD + "B,CIO,Saint-Just,,\n"), index)
    ((row, reason),) = ud.dropped[["row", "reason"]].values.tolist()
    assert row == 2 and reason.startswith("ambiguous commune name 'Saint-Just'")


def test_dir_17_insee_code_lost_its_leading_zero(tmp_path, index, quiet_logs):
    ud = read_dir(write(tmp_path / "a.csv", HEAD + "CIO Bourg,CIO,1053,,\n"), index)
    assert ud.sites[["insee", "commune_name"]].values.tolist() == [["01053", "Bourg-en-Bresse"]]
    assert ud.sites["position"].tolist() == ["commune"]


def test_dir_18_excel_cp1252_semicolons_decimal_commas(tmp_path, index, quiet_logs):
    text = "name;network;commune;lon;lat\nÉcole de Saint-Étienne;CIO;42218;4,3872;45,4397\n"
    ud = read_dir(write(tmp_path / "a.csv", text, encoding="cp1252"), index)
    assert ud.sites["name"].tolist() == ["École de Saint-Étienne"]
    assert ud.sites["lon"].iloc[0] == pytest.approx(4.3872)
    assert ud.sites["lat"].iloc[0] == pytest.approx(45.4397)


def test_dir_19_bom_upper_case_headers_tabs(tmp_path, index, quiet_logs):
    p = write(tmp_path / "a.tsv", "\ufeffNAME\tNetwork\tCommune\nCIO Le Puy\tCIO\t43157\n")
    ud = read_dir(p, index)
    assert ud.sites[["name", "insee"]].values.tolist() == [["CIO Le Puy", "43157"]]


def test_dir_20_row_with_extra_fields(tmp_path, index):
    p = write(tmp_path / "a.csv", HEAD + GOOD + "C,CIO,43157,,,,extra\n")
    with pytest.raises(ValidationError, match="cannot read the file as CSV") as exc:
        read_dir(p, index)
    assert "line 3" in str(exc.value)  # the header is line 1


def test_dir_21_binary_file_named_csv(tmp_path, index, capsys):
    p = write(tmp_path / "photo.csv", bytes(range(256)) * 8)
    with pytest.raises(ValidationError, match=r"cannot read the file as text .*UTF-8") as exc:
        read_dir(p, index)
    assert "photo.csv" in str(exc.value)


def test_dir_22_excel_workbook(tmp_path, index):
    p = write(tmp_path / "annuaire.xlsx", b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValidationError, match=r"unsupported file type \.xlsx; use CSV"):
        read_dir(p, index)


def test_dir_23_geojson_of_lines(tmp_path, index):
    feature = (
        '{"type":"Feature","properties":{"name":"A","network":"CIO"},"geometry":'
        '{"type":"LineString","coordinates":[[4.1,45.1],[4.2,45.2]]}}'
    )
    p = write(tmp_path / "a.geojson", f'{{"type":"FeatureCollection","features":[{feature}]}}')
    with pytest.raises(ValidationError, match="must be points"):
        read_dir(p, index)


def test_dir_24_truncated_geojson(tmp_path, index):
    p = write(tmp_path / "a.geojson", '{"type":"FeatureCollection","features":[')
    with pytest.raises(ValidationError, match="cannot read the file"):
        read_dir(p, index)


def test_dir_25_folder_instead_of_file(tmp_path, index):
    with pytest.raises(ValidationError, match="folder, not a file"):
        read_dir(tmp_path, index)


def test_dir_26_unknown_commune_code(tmp_path, index, quiet_logs):
    ud = read_dir(write(tmp_path / "a.csv", HEAD + GOOD + "B,CIO,99999,,\n"), index)
    ((row, reason),) = ud.dropped[["row", "reason"]].values.tolist()
    assert row == 2 and "unknown commune code '99999'" in reason


def test_dir_27_two_columns_with_the_same_name(tmp_path, index):
    p = write(tmp_path / "a.csv", "name,network,commune,Name\nA,CIO,43157,B\n")
    with pytest.raises(ValidationError, match="two columns are called 'name' and 'Name'"):
        read_dir(p, index)
    p = write(tmp_path / "b.csv", "name,network,commune,name\nA,CIO,43157,B\n")  # pandas: name.1
    with pytest.raises(ValidationError, match="two columns are called 'name' and 'name'"):
        read_dir(p, index)


@needs_mirror
def test_dir_28_dropped_row_reported_on_the_command_line(tmp_path, capsys):
    p = write(tmp_path / "a.csv", HEAD + GOOD + "ML Paris,Mission Locale,,2.35,48.85\n")
    rc, out, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites", p, "--add",
                       "--out", tmp_path / "out", "--quiet")  # fmt: skip
    assert rc == 0, err
    assert "row 2 (ML Paris) left out: coordinates outside" in err
    assert "1 user-supplied" in out


@needs_mirror
def test_dir_29_formula_in_a_name_is_neutralised_in_exports(tmp_path, capsys):
    name = '=HYPERLINK("http://evil.example","clic")'
    p = write(tmp_path / "a.csv", HEAD + f'"{name.replace(chr(34), chr(34) * 2)}",'
              "Mission Locale,43268,4.1236,45.1427\n")  # fmt: skip
    before = sha256_file(p)
    rc, _, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites", p, "--add",
                     "--out", tmp_path / "out", "--quiet")  # fmt: skip
    assert rc == 0, err
    sites = pd.read_csv(tmp_path / "out" / "sites.csv", dtype=str, keep_default_na=False)
    assert sites.loc[sites["provenance"] == "user", "name"].tolist() == ["'" + name]
    communes = (tmp_path / "out" / "communes.csv").read_text(encoding="utf-8")
    assert ",=HYPERLINK" not in communes and "'=HYPERLINK" in communes
    assert sha256_file(p) == before  # the user's file is only ever read


def test_dir_30_script_in_a_name_is_escaped_in_the_map():
    from analysis import present
    from analysis.coverage import compute_coverage
    from analysis.profiles import Profile
    from analysis.testing import synthetic_region

    region = synthetic_region(6, 5)
    sites = region.sites.copy()
    sites["name"] = "<script>alert('x')</script>"
    prof = Profile(key="all", label="All", networks=("CIO",), thresholds_min={"road": 5.0})
    res = compute_coverage(region.model, sites, region.communes, prof)
    page = present.map_html(present.coverage_map(res, present.web_base(region.communes)))
    assert "<script>alert(" not in page
    assert "lt;script" in page  # escaped (&lt; inside HTML, \u0026lt; inside JSON)


# =========================================================================== CAND
# Candidate sites for the labelling what-if (analysis.planning.candidates, whatif CLI).
def read_cands(content: str | bytes, communes, **kw):
    from analysis.planning.candidates import read_candidates_csv

    data = content.encode("utf-8") if isinstance(content, str) else content
    return read_candidates_csv(data, communes, **kw)


CHEAD = "name,network,lon,lat\n"
CGOOD = "Permanence Tence,Mission Locale,4.2906,45.1142\n"


def test_cand_01_unknown_network_in_one_row(communes, quiet_logs):
    load = read_cands(CHEAD + "A,Mision Locale,3.88,45.04\n" + CGOOD, communes)
    assert load.candidates["name"].tolist() == ["Permanence Tence"]
    ((msg),) = load.messages()
    assert "row 1" in msg and "unknown" in msg and "Mision Locale" in msg


def test_cand_02_lon_lat_swapped(communes, quiet_logs):
    load = read_cands(CHEAD + "A,CIO,45.04,3.88\n" + CGOOD, communes)
    assert len(load.candidates) == 1
    assert load.problems[0].rows == [1] and "lon/lat swapped?" in load.messages()[0]


def test_cand_03_point_outside_region(communes, quiet_logs):
    load = read_cands(CHEAD + CGOOD + "Paris,CIO,2.35,48.85\n", communes)
    assert load.problems[0].rows == [2] and "outside the region" in load.messages()[0]


def test_cand_04_missing_required_columns(communes):
    with pytest.raises(ValidationError, match=r"missing column\(s\) name, network; expected"):
        read_cands("nom,reseau,lon,lat\nA,CIO,3.88,45.04\n", communes)


def test_cand_05_header_without_rows(communes):
    with pytest.raises(ValidationError, match="no data row"):
        read_cands(CHEAD, communes)


def test_cand_06_row_with_missing_fields(communes, quiet_logs):
    load = read_cands(CHEAD + "A,CIO,3.88\n" + CGOOD, communes)
    assert len(load.candidates) == 1
    assert load.messages() == ["candidates CSV, row 1: 3 fields where the header has 4"]


def test_cand_07_misspelt_commune_gets_a_suggestion(communes, quiet_logs):
    load = read_cands("name,network,commune\nA,CIO,Le Puy en Velai\nB,CIO,43157\n", communes)
    assert load.candidates["insee"].tolist() == ["43157"]
    assert "did you mean Le Puy-en-Velay?" in load.messages()[0]


def test_cand_08_nan_and_infinite_coordinates(communes, quiet_logs):
    load = read_cands(CHEAD + "A,CIO,nan,45\nB,CIO,inf,45\n" + CGOOD, communes)
    assert [p.rows for p in load.problems] == [[1], [2]]
    assert all("must both be numbers" in m for m in load.messages())


def test_cand_09_every_row_bad(communes, quiet_logs):
    with pytest.raises(ValidationError, match="no usable candidate") as exc:
        read_cands(CHEAD + "A,Nope,3.88,45.04\nB,CIO,45.04,3.88\n", communes)
    assert exc.value.rows == [1, 2]


def test_cand_10_non_spro_network(communes, quiet_logs):
    load = read_cands(CHEAD + "MSAP,France Services,4.2906,45.1142\n" + CGOOD, communes)
    assert load.candidates["name"].tolist() == ["Permanence Tence"]
    assert "France Services" in load.messages()[0]


def test_cand_11_column_named_twice(communes):
    with pytest.raises(ValidationError, match="name"):
        read_cands("name,name,network,lon,lat\nA,B,CIO,4.2906,45.1142\n", communes)


def test_cand_12_longitude_without_latitude(communes):
    with pytest.raises(ValidationError, match="no position column"):
        read_cands("name,network,lon\nA,CIO,3.88\n", communes)


def test_cand_13_semicolons_and_decimal_commas(communes):
    load = read_cands("name;network;lon;lat\nA;CIO;4,2906;45,1142\n", communes)
    assert load.candidates[["lon", "lat"]].values.tolist() == [[4.2906, 45.1142]]
    assert load.problems == []


# =========================================================================== PROF
# Profiles files (analysis.profiles.load_profiles, `spro-access profiles --profiles-file`).
def profile_file(tmp_path: Path, body: str, name: str = "p.toml") -> Path:
    return write(tmp_path / name, body)


def toml(networks='["CIO"]', thresholds="{ road = 30, transit = 45, walk = 20 }", extra=""):
    return (
        f'[profiles.pupils]\nlabel = "Pupils"\nnetworks = {networks}\n'
        f"thresholds_min = {thresholds}\n{extra}"
    )


def load_prof(path):
    from analysis.profiles import load_profiles

    return load_profiles(path)


def test_prof_01_invalid_toml(tmp_path, capsys):
    p = profile_file(tmp_path, "[profiles.pupils\nlabel = 'x'\n")
    rc, _, err = cli(capsys, "profiles", "--profiles-file", p)
    user_error(rc, err, str(p), "not a valid TOML file", "line 1")


def test_prof_02_no_profile_table(tmp_path):
    with pytest.raises(ValidationError, match=r"define at least one \[profiles.<key>\]"):
        load_prof(profile_file(tmp_path, "schema = 1\n"))


def test_prof_03_unknown_network(tmp_path, capsys):
    p = profile_file(tmp_path, toml(networks='["Missions Locales 43"]'))
    rc, _, err = cli(capsys, "profiles", "--profiles-file", p)
    user_error(rc, err, "unknown network 'Missions Locales 43'", "Mission Locale")


def test_prof_04_negative_threshold(tmp_path):
    p = profile_file(tmp_path, toml(thresholds="{ road = -30, transit = 45, walk = 20 }"))
    with pytest.raises(ValidationError, match="road threshold must be a positive number"):
        load_prof(p)


def test_prof_05_threshold_as_text(tmp_path):
    p = profile_file(tmp_path, toml(thresholds='{ road = "30", transit = 45, walk = 20 }'))
    with pytest.raises(ValidationError, match="positive number of minutes, not '30'"):
        load_prof(p)


def test_prof_06_nan_threshold(tmp_path):
    p = profile_file(tmp_path, toml(thresholds="{ road = nan, transit = 45, walk = 20 }"))
    with pytest.raises(ValidationError, match="not nan"):
        load_prof(p)


def test_prof_07_misspelt_field(tmp_path):
    body = toml().replace("thresholds_min", "threshold_min")
    with pytest.raises(ValidationError, match="did you mean 'thresholds_min'"):
        load_prof(profile_file(tmp_path, body))


def test_prof_08_non_spro_network(tmp_path):
    with pytest.raises(ValidationError, match="not an SPRO network"):
        load_prof(profile_file(tmp_path, toml(networks='["France Services"]')))


def test_prof_09_missing_walk_threshold(tmp_path):
    p = profile_file(tmp_path, toml(thresholds="{ road = 30, transit = 45 }"))
    with pytest.raises(ValidationError, match="missing threshold for walk"):
        load_prof(p)


def test_prof_10_negative_demand_share(tmp_path):
    p = profile_file(tmp_path, toml(extra="[profiles.pupils.demand]\nshare = -0.5\n"))
    with pytest.raises(ValidationError, match="share` must be a number above 0 and at most 1"):
        load_prof(p)


def test_prof_11_file_not_utf8(tmp_path):
    p = write(tmp_path / "p.toml", toml().replace("Pupils", "Élèves"), encoding="latin-1")
    with pytest.raises(ValidationError, match="not a valid TOML file") as exc:
        load_prof(p)
    assert exc.value.source == str(p)


def test_prof_12_missing_file(tmp_path, capsys):
    rc, _, err = cli(capsys, "profiles", "--profiles-file", tmp_path / "mine.toml")
    user_error(rc, err, "profiles file not found", "mine.toml")


def test_prof_13_folder_on_the_command_line(tmp_path, capsys):
    rc, _, err = cli(capsys, "profiles", "--profiles-file", tmp_path)
    user_error(rc, err, str(tmp_path))


def test_prof_14_folder_through_the_library(tmp_path):
    with pytest.raises(SproError, match=str(tmp_path)):
        load_prof(tmp_path)


def demand_profile(tmp_path: Path, csv_text: str, column: str = "n"):
    from analysis.profiles import Profile

    f = write(tmp_path / "demand.csv", csv_text)
    return Profile(key="own", label="Own figures", networks=("CIO",),
                   thresholds_min={"road": 30.0}, base="file", demand_file=str(f),
                   demand_column=column)  # fmt: skip


SMALL = pd.DataFrame({"insee": ["43157", "43268", "01053"], "pop_mun": [100, 200, 300]})


def test_prof_15_demand_file_duplicates_and_negative_counts(tmp_path):
    from analysis.profiles import profile_demand

    prof = demand_profile(tmp_path, "insee,n\n43157,10\n43157,12\n")
    with pytest.raises(ValidationError, match="duplicate insee codes") as exc:
        profile_demand(prof, SMALL)
    assert exc.value.rows == [1, 2]
    prof = demand_profile(tmp_path, "insee,n\n43157,10\n43268,-3\n01053,abc\n")
    with pytest.raises(ValidationError, match="n must be a non-negative number") as exc:
        profile_demand(prof, SMALL)
    assert exc.value.rows == [2, 3]


def test_prof_16_demand_file_misspelt_column(tmp_path):
    from analysis.profiles import profile_demand

    prof = demand_profile(tmp_path, "insee,jeunes\n43157,10\n", column="jeune")
    with pytest.raises(ValidationError, match="missing column 'jeune' \\(did you mean 'jeunes'"):
        profile_demand(prof, SMALL)


# =========================================================================== GTFS
# Timetables (analysis.transit.gtfs.read_gtfs, `spro-access transit-check`).
def feed(tmp_path: Path, **replace: str | bytes | None) -> Path:
    """Copy the tiny hand-built feed, replacing (or with None deleting) whole files."""
    out = tmp_path / "feed"
    shutil.copytree(TINY, out)
    for name, content in replace.items():
        if content is None:
            (out / f"{name}.txt").unlink()
        else:
            write(out / f"{name}.txt", content)
    return out


def tiny(name: str) -> str:
    return (TINY / f"{name}.txt").read_text(encoding="utf-8")


def read_feed(path):
    from analysis.transit.gtfs import read_gtfs

    return read_gtfs(path)


def zip_of(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.glob("*.txt")):
            z.write(p, p.name)
    return target


def test_gtfs_01_not_a_zip(tmp_path, capsys):
    p = write(tmp_path / "ter.zip", "<html>404 Not Found</html>")
    rc, _, err = cli(capsys, "transit-check", "--gtfs", p, "--quiet")
    user_error(rc, err, "ter.zip", "not a zip archive")


def test_gtfs_02_zip_without_gtfs_files(tmp_path):
    p = tmp_path / "photos.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("photo.jpg", b"\xff\xd8")
    with pytest.raises(ValidationError, match="missing required file"):
        read_feed(p)


def test_gtfs_03_missing_stop_times(tmp_path):
    with pytest.raises(ValidationError, match=r"missing required file\(s\) stop_times.txt"):
        read_feed(feed(tmp_path, stop_times=None))


def test_gtfs_04_missing_required_column(tmp_path):
    text = tiny("stops").replace("stop_lat", "latitude")
    with pytest.raises(ValidationError, match=r"stops\.txt: missing required column") as exc:
        read_feed(feed(tmp_path, stops=text))
    assert "stop_lat" in str(exc.value)


def test_gtfs_05_malformed_time(tmp_path):
    text = tiny("stop_times").replace("07:10:00,07:10:00,A", "7h10,7h10,A", 1)
    with pytest.raises(ValidationError) as exc:
        read_feed(feed(tmp_path, stop_times=text))
    assert exc.value.rows == [1]
    assert "arrival_time '7h10' is not a time" in str(exc.value)


def test_gtfs_06_minutes_out_of_range(tmp_path):
    text = tiny("stop_times").replace("07:10:00,07:10:00,A", "07:61:00,07:61:00,A", 1)
    with pytest.raises(ValidationError, match="is not a time; GTFS times are") as exc:
        read_feed(feed(tmp_path, stop_times=text))
    assert exc.value.rows == [1] and "stop_times.txt" in str(exc.value)


def test_gtfs_07_calendar_dates_written_iso(tmp_path):
    text = tiny("calendar").replace("20250201", "2025-02-01")
    with pytest.raises(ValidationError, match="not a date written YYYYMMDD") as exc:
        read_feed(feed(tmp_path, calendar=text))
    assert exc.value.rows == [1]


def test_gtfs_08_duplicate_stop_id(tmp_path):
    text = tiny("stops") + "A,Alpha again,45.70,4.80,0,\n"
    n = len(tiny("stops").strip().splitlines())  # header + data rows
    with pytest.raises(ValidationError, match="stop_id 'A' appears more than once") as exc:
        read_feed(feed(tmp_path, stops=text))
    assert exc.value.rows[-1] == n


def test_gtfs_09_trip_of_unknown_route(tmp_path):
    text = tiny("trips") + "R9,WK,T99\n"
    with pytest.raises(ValidationError, match=r"route_id 'R9' is not in routes\.txt"):
        read_feed(feed(tmp_path, trips=text))


def test_gtfs_10_trip_with_unknown_service(tmp_path):
    text = tiny("trips").replace("R1,WK,T1", "R1,NOPE,T1")
    with pytest.raises(ValidationError, match="service_id 'NOPE' is in neither") as exc:
        read_feed(feed(tmp_path, trips=text))
    assert "trips.txt" in str(exc.value) and exc.value.rows == [1]


def test_gtfs_11_stop_times_without_rows(tmp_path):
    header = tiny("stop_times").splitlines()[0] + "\n"
    with pytest.raises(ValidationError, match=r"stop_times\.txt"):
        read_feed(feed(tmp_path, stop_times=header, frequencies=None))


def test_gtfs_12_truncated_download(tmp_path):
    full = zip_of(TINY, tmp_path / "full.zip").read_bytes()
    p = write(tmp_path / "ter.zip", full[: len(full) // 2])
    with pytest.raises(ValidationError, match="not a zip archive"):
        read_feed(p)


def test_gtfs_13_corrupted_member(tmp_path):
    data = bytearray(zip_of(TINY, tmp_path / "full.zip").read_bytes())
    i = len(data) // 3
    data[i : i + 50] = bytes(50)
    with pytest.raises(ValidationError, match="cannot read the file"):
        read_feed(write(tmp_path / "ter.zip", bytes(data)))


def test_gtfs_14_latin1_text(tmp_path):
    text = tiny("stops").replace("Alpha", "Élan").encode("latin-1")
    with pytest.raises(ValidationError, match=r"stops\.txt: not a readable CSV file"):
        read_feed(feed(tmp_path, stops=text))


def test_gtfs_15_date_outside_the_calendar(capsys):
    rc, _, err = cli(capsys, "transit-check", "--gtfs", TINY, "--date", "2030-01-01", "--quiet")
    user_error(rc, err, "outside the calendar", "valid from 2025-02-01 to 2025-02-28")


def test_gtfs_16_date_in_french_format(capsys):
    rc, _, err = cli(capsys, "transit-check", "--gtfs", TINY, "--date", "04/02/2025", "--quiet")
    user_error(rc, err, "'04/02/2025' is not a date; write it as YYYY-MM-DD")


def test_gtfs_17_oversized_member(tmp_path, monkeypatch):
    from analysis.transit import gtfs

    monkeypatch.setattr(gtfs, "MAX_MEMBER_BYTES", 1_000_000, raising=False)
    p = tmp_path / "bomb.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(TINY.glob("*.txt")):
            text = f.read_text(encoding="utf-8")
            if f.name == "stop_times.txt":
                text += "\n" * 3_000_000  # 3 MB that deflate to a few kB
            z.writestr(f.name, text)
    with pytest.raises(ValidationError, match=r"too large|larger than"):
        read_feed(p)


def test_gtfs_18_bom_and_windows_line_ends(tmp_path):
    crlf = {n: ("\ufeff" + tiny(n)).replace("\n", "\r\n") for n in ("stops", "stop_times")}
    a, b = read_feed(TINY), read_feed(feed(tmp_path, **crlf))
    assert b.stops["stop_id"].tolist() == a.stops["stop_id"].tolist()
    assert len(b.stop_times) == len(a.stop_times)


def test_gtfs_19_absurd_hour_field(tmp_path):
    text = tiny("stop_times").replace("07:10:00,07:10:00,A", "99999999999999999999:00:00,"
                                      "99999999999999999999:00:00,A", 1)  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        read_feed(feed(tmp_path, stop_times=text))
    assert exc.value.rows == [1]


# =========================================================================== OSM
# OpenStreetMap extracts (analysis.osm.build_osm_graph, `spro-access prepare --osm`).
def osm_xml(body: str, doctype: str = "") -> str:
    return f'<?xml version="1.0"?>\n{doctype}<osm version="0.6">\n{body}</osm>\n'


TWO_NODES = '<node id="1" lat="45.75" lon="4.80"/><node id="2" lat="45.75" lon="4.81"/>\n'


def road(tags: str = '<tag k="highway" v="primary"/>') -> str:
    return f'<way id="1"><nd ref="1"/><nd ref="2"/>{tags}</way>\n'


def build_osm(path: Path, tmp_path: Path):
    from analysis.osm import build_osm_graph

    return build_osm_graph(osm_file=path, cache_dir=tmp_path / "cache")[0].graph


def test_osm_01_missing_file(tmp_path, capsys):
    rc, _, err = cli(capsys, "prepare", "--osm", tmp_path / "rhone-alpes.osm.pbf", "--quiet")
    user_error(rc, err, "rhone-alpes.osm.pbf not found", "geofabrik")


def test_osm_02_not_osm_data(tmp_path):
    for name, content in (("empty.osm.pbf", b""), ("page.osm.pbf", b"<html>404</html>"),
                          ("image.osm", b"\x89PNG\r\n\x1a\n" + bytes(64))):  # fmt: skip
        with pytest.raises(ValidationError, match="not OpenStreetMap data"):
            build_osm(write(tmp_path / name, content), tmp_path)


def test_osm_03_truncated_pbf(tmp_path):
    pyrosm = pytest.importorskip("pyrosm")
    data = Path(pyrosm.get_data("test_pbf")).read_bytes()
    p = write(tmp_path / "cut.osm.pbf", data[: len(data) // 2])
    with pytest.raises(ValidationError, match=r"truncated.*download it again"):
        build_osm(p, tmp_path)


def test_osm_04_truncated_xml(tmp_path):
    p = write(tmp_path / "cut.osm", osm_xml(TWO_NODES + road())[:-20])
    with pytest.raises(ValidationError, match="cannot read this OSM XML file"):
        build_osm(p, tmp_path)


def test_osm_05_xml_without_any_way(tmp_path):
    p = write(tmp_path / "nodes.osm", osm_xml(TWO_NODES))
    with pytest.raises(ValidationError, match="holds no road"):
        build_osm(p, tmp_path)


def test_osm_06_xml_with_footways_only(tmp_path):
    p = write(tmp_path / "paths.osm", osm_xml(TWO_NODES + road('<tag k="highway" v="footway"/>')))
    with pytest.raises(ValidationError, match="no drivable road"):
        build_osm(p, tmp_path)


def test_osm_07_way_referencing_a_missing_node(tmp_path):
    body = '<node id="2" lat="45.75" lon="4.81"/>\n' + road()
    with pytest.raises(ValidationError, match="cannot read this OSM XML file"):
        build_osm(write(tmp_path / "clipped.osm", osm_xml(body)), tmp_path)


def test_osm_08_external_entity_is_not_resolved(tmp_path):
    doctype = '<!DOCTYPE osm [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    body = TWO_NODES + road('<tag k="highway" v="primary"/><tag k="name" v="&xxe;"/>')
    with pytest.raises(ValidationError, match="external entity"):
        build_osm(write(tmp_path / "xxe.osm", osm_xml(body, doctype)), tmp_path)


def test_osm_09_entity_expansion_bomb(tmp_path):
    ents = '<!ENTITY a0 "aaaaaaaaaa">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = TWO_NODES + road('<tag k="highway" v="primary"/><tag k="name" v="&a9;"/>')
    p = write(tmp_path / "laughs.osm", osm_xml(body, f"<!DOCTYPE osm [{ents}]>\n"))
    with pytest.raises(ValidationError, match="amplification"):
        build_osm(p, tmp_path)


def test_osm_10_nonsense_maxspeed_falls_back_to_the_default(tmp_path):
    plain = build_osm(write(tmp_path / "plain.osm", osm_xml(TWO_NODES + road())), tmp_path)
    for value in ("-50", "0", "fast"):
        tags = f'<tag k="highway" v="primary"/><tag k="maxspeed" v="{value}"/>'
        g = build_osm(write(tmp_path / f"s{value}.osm", osm_xml(TWO_NODES + road(tags))), tmp_path)
        assert np.all(np.isfinite(g.weights)) and np.all(g.weights > 0)
        np.testing.assert_allclose(g.weights, plain.weights)


# =========================================================================== CLI
# Command-line arguments (`spro-access ...`).
def test_cli_01_unknown_command(capsys):
    rc, _, err = cli(capsys, "covrage")
    user_error(rc, err, "invalid choice: 'covrage'", "--help")


def test_cli_02_unknown_profile(tmp_path, capsys):
    rc, _, err = cli(capsys, "coverage", "--profile", "jeunes", "--out", tmp_path)
    user_error(rc, err, "unknown profile 'jeunes'", "young_16_25")


def test_cli_03_unknown_mode(tmp_path, capsys):
    rc, _, err = cli(capsys, "coverage", "--profile", "pupils", "--mode", "bike")
    user_error(rc, err, "--mode", "'bike'", "road")


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "abc"])
def test_cli_04_bad_threshold(capsys, value):
    rc, _, err = cli(capsys, "coverage", "--profile", "pupils", "--threshold", value)
    user_error(rc, err, "--threshold", f"'{value}'", "number of minutes")


def test_cli_05_unknown_road_model(capsys):
    rc, _, err = cli(capsys, "coverage", "--profile", "pupils", "--road", "google")
    user_error(rc, err, "--road", "'google'", "estimated")


@needs_mirror
def test_cli_06_osm_road_model_not_prepared(tmp_path, capsys, monkeypatch):
    import analysis.osm

    monkeypatch.setattr(analysis.osm, "load_cached_osm_model", lambda *a, **k: None)
    rc, _, err = cli(capsys, "coverage", "--profile", "pupils", "--road", "osm",
                     "--out", tmp_path / "out", "--quiet")  # fmt: skip
    user_error(rc, err, "no OpenStreetMap road model has been prepared", "prepare --osm")
    assert not (tmp_path / "out").exists()


@needs_mirror
def test_cli_07_output_folder_is_a_file(tmp_path, capsys):
    f = write(tmp_path / "results", "my notes")
    rc, _, err = cli(capsys, "coverage", "--profile", "pupils", "--out", f, "--quiet")
    user_error(rc, err, "is a file, not a folder")
    assert f.read_text() == "my notes"


@needs_mirror
def test_cli_08_existing_outputs_without_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    mine = write(out / "summary.csv", "my own summary\n")
    rc, _, err = cli(capsys, "coverage", "--profile", "pupils", "--out", out, "--quiet")
    user_error(rc, err, "summary.csv already exists", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]  # nothing half-written
    assert mine.read_text() == "my own summary\n"


@needs_mirror
def test_cli_09_whatif_commune_without_network(tmp_path, capsys):
    rc, _, err = cli(capsys, "whatif", "--commune", "Yssingeaux", "--out", tmp_path)
    user_error(rc, err, "--network is required")


@needs_mirror
def test_cli_10_whatif_point_swapped(tmp_path, capsys):
    rc, _, err = cli(capsys, "whatif", "--point", "45.1", "4.1", "--network", "Mission Locale",
                     "--out", tmp_path)  # fmt: skip
    user_error(rc, err, "outside the region", "lon/lat swapped?")


@needs_mirror
def test_cli_11_whatif_remove_unknown_site(tmp_path, capsys):
    rc, _, err = cli(capsys, "whatif", "--remove", "ML-0042-typo", "--out", tmp_path)
    line = user_error(rc, err, "'ML-0042-typo'")
    assert not line.rstrip().endswith(":"), line
    assert "site_id" in line


@needs_mirror
def test_cli_12_whatif_nothing_to_evaluate(tmp_path, capsys):
    rc, _, err = cli(capsys, "whatif", "--out", tmp_path)
    user_error(rc, err, "nothing to evaluate")


@needs_mirror
def test_cli_13_whatif_unreadable_candidates(tmp_path, capsys):
    p = write(tmp_path / "cands.csv", bytes(range(256)) * 4)
    rc, _, err = cli(capsys, "whatif", "--candidates", p, "--out", tmp_path / "out")
    user_error(rc, err, "cands.csv", "UTF-8 CSV expected")


@needs_mirror
@pytest.mark.parametrize("k", ["0", "-3"])
def test_cli_14_siting_k_not_positive(tmp_path, capsys, k):
    rc, _, err = cli(capsys, "site-permanences", "--network", "Mission Locale", "--k", k,
                     "--out", tmp_path)  # fmt: skip
    user_error(rc, err, "k must be a positive whole number")


def test_cli_15_siting_k_not_a_number(tmp_path, capsys):
    rc, _, err = cli(capsys, "site-permanences", "--network", "Mission Locale", "--k", "two")
    user_error(rc, err, "--k", "'two'")


@needs_mirror
def test_cli_16_caravane_unknown_base(tmp_path, capsys):
    rc, _, err = cli(capsys, "caravane", "--base", "Yssingeau", "--days", "2",
                     "--profile", "young_16_25", "--out", tmp_path)  # fmt: skip
    user_error(rc, err, "'Yssingeau'", "did you mean Yssingeaux")


@needs_mirror
def test_cli_17_caravane_zero_days(tmp_path, capsys):
    rc, _, err = cli(capsys, "caravane", "--base", "Yssingeaux", "--days", "0",
                     "--profile", "young_16_25", "--out", tmp_path)  # fmt: skip
    user_error(rc, err, "number of days must be a positive whole number")


def test_cli_18_no_command(capsys):
    rc, _, err = cli(capsys)
    user_error(rc, err, "required: COMMAND")


# =========================================================================== APP
# Uploads and pasted text in the app (the library functions behind the upload widgets).
def test_app_01_upload_with_bom_and_semicolons(communes):
    data = "\ufeffname;network;commune\nPermanence Tence;Mission Locale;43244\n".encode()
    load = read_cands(data, communes)
    assert load.candidates[["name", "insee"]].values.tolist() == [["Permanence Tence", "43244"]]


def test_app_02_upload_of_an_image(communes):
    with pytest.raises(ValidationError, match="UTF-8 CSV expected"):
        read_cands(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), communes)


def test_app_03_empty_upload_or_paste(communes):
    for data in (b"", b"   \n"):
        with pytest.raises(ValidationError, match="it is empty"):
            read_cands(data, communes)


def test_app_04_latin1_upload(communes):
    data = "name;network;commune\nÉcole;CIO;Le Puy-en-Velay\n".encode("latin-1")
    with pytest.raises(ValidationError, match="UTF-8 CSV expected"):
        read_cands(data, communes)


@pytest.fixture(scope="module")
def whatif_with_hostile_names():
    """A what-if on a small synthetic region for candidates with hostile names."""
    from analysis.planning.candidates import candidates_from_records
    from analysis.planning.whatif import what_if
    from analysis.profiles import Profile
    from analysis.testing import synthetic_region

    region = synthetic_region(8, 6)
    c = region.communes.iloc[20]
    recs = [
        {"name": "<img src=x onerror=alert(1)>", "network": "Mission Locale",
         "lon": c["lon"], "lat": c["lat"]},
        {"name": "=1+cmd|' /C calc'!A0", "network": "Mission Locale",
         "lon": c["lon"] + 0.01, "lat": c["lat"]},
    ]  # fmt: skip
    cands = candidates_from_records(recs, region.communes).candidates
    profiles = [
        Profile(key="young", label="Young", networks=("Mission Locale",),
                thresholds_min={"road": 20.0})
    ]  # fmt: skip
    return what_if(region.model, region.sites, region.communes, cands, profiles=profiles)


def test_app_05_html_in_a_candidate_name_is_escaped(whatif_with_hostile_names):
    from analysis.present import map_html

    page = map_html(whatif_with_hostile_names.map())
    assert "<img src=x" not in page
    assert "lt;img src=x onerror=alert(1)" in page  # escaped, in HTML or in JSON


def test_app_06_formula_in_a_candidate_name_is_neutralised(whatif_with_hostile_names, tmp_path):
    files = whatif_with_hostile_names.export(tmp_path / "out")
    for key in ("cards_csv", "candidates_csv"):
        table = pd.read_csv(files[key], dtype=str, keep_default_na=False)
        col = "candidate_name" if key == "cards_csv" else "name"
        names = set(table[col])
        assert "=1+cmd|' /C calc'!A0" not in names
        assert "'=1+cmd|' /C calc'!A0" in names


def test_app_07_candidate_form_with_blank_position(communes):
    from analysis.planning.candidates import make_candidate

    rec = {"name": "Forum", "network": "Mission Locale", "lon": "", "lat": "", "insee": ""}
    with pytest.raises(ValidationError, match="has no position"):
        make_candidate(rec, communes)
    rec = {"name": "Forum", "network": "Mission Locale", "lon": "4.29", "lat": ""}
    with pytest.raises(ValidationError, match="lon and lat must both be numbers"):
        make_candidate(rec, communes)
    assert math.isfinite(
        make_candidate({**rec, "lat": "45.11"}, communes)["x_l93"]
    )  # and a complete one loads


# =========================================================================== the doc
def test_catalogue_doc_lists_every_row_with_its_status():
    """docs/bad_inputs.md and this file agree: same ids, and 'needs fix' == strict xfail."""
    import re
    import sys

    doc = (HERE.parent / "docs" / "bad_inputs.md").read_text(encoding="utf-8")
    rows = dict(
        re.findall(r"^\| ([A-Z]+-\d\d) \|.*\| (passes|\*\*needs fix\*\*.*?) \|$", doc, re.M)
    )
    import importlib.util

    # The rows' tests live in this module and in the area modules tests/test_bad_inputs_*.py.
    modules = [sys.modules[__name__]]
    for path in sorted(HERE.glob("test_bad_inputs_*.py")):
        spec = importlib.util.spec_from_file_location(f"_catalogue_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        modules.append(mod)
    tests: dict[str, bool] = {}
    for module in modules:
        for name in dir(module):
            m = re.match(r"test_([a-z]+)_(\d\d)_", name)
            if m:
                marks = getattr(getattr(module, name), "pytestmark", [])
                row_id = f"{m.group(1).upper()}-{m.group(2)}"
                assert row_id not in tests, f"two tests for {row_id}"
                tests[row_id] = any(k.name == "xfail" for k in marks)
    assert set(rows) == set(tests)
    for row_id, xfail in tests.items():
        assert rows[row_id].startswith("**needs fix**") == xfail, row_id
    n_fix = sum(tests.values())
    assert f"**{len(tests)} rows, {len(tests) - n_fix} pass, {n_fix} need a fix**" in doc
