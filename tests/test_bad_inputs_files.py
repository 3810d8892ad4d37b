"""Bad-input catalogue: inputs that used to be accepted silently (issue 14).

Rows MIR-NN (the data mirror against ``data/raw/MANIFEST.toml``), and the rows of the
other sections added with them (demand files, GeoPackage layers, GTFS archives) — see
docs/bad_inputs.md. A damaged mirror is built in ``tmp_path`` from symbolic links to the
real files and the one damaged copy; nothing is written into the mirror or the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, user_error

from analysis import settings
from analysis.errors import ValidationError

MIRROR = Path(settings.shared_data_dir)
HAS_MIRROR = (MIRROR / "access_points").is_dir()
needs_mirror = pytest.mark.skipif(not HAS_MIRROR, reason="needs the local data mirror")


def damaged_mirror(tmp_path: Path, rel: str, damage) -> Path:
    """A mirror of symbolic links to the real files, with ``rel`` a damaged copy."""
    root = tmp_path / "mirror"
    src, dst = MIRROR, root
    for part in Path(rel).parts:  # link every entry, down the folders leading to rel
        dst.mkdir(parents=True, exist_ok=True)
        for entry in src.iterdir():
            if entry.name != part and not (dst / entry.name).exists():
                (dst / entry.name).symlink_to(entry)
        src, dst = src / part, dst / part
    (root / rel).write_bytes(damage((MIRROR / rel).read_bytes()))
    return root


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def flip_one_byte(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


@pytest.fixture
def redirected(monkeypatch, tmp_path):
    """Point the processed folder at tmp_path (the digest cache, rebuilt caches)."""
    monkeypatch.setattr(settings, "processed_data_dir", tmp_path / "processed")
    return tmp_path


def expect_mismatch(exc: ValidationError, path: Path) -> None:
    from analysis.manifest import shared_digests

    msg = str(exc)
    assert str(path) in msg
    expected = [d for r, d in shared_digests().items() if str(path).endswith(r)]
    assert expected and f"expected {expected[0]}" in msg
    assert "found " in msg and "restore the file from its official source" in msg
    assert "docs/data.md" in msg


# =========================================================================== MIR
@needs_mirror
def test_mir_01_truncated_access_point_file(tmp_path, redirected, monkeypatch, capsys):
    rel = "access_points/france_travail_2019.csv"
    root = damaged_mirror(tmp_path, rel, truncate)
    from analysis.sites.directory import load_bundled_directory

    with pytest.raises(ValidationError) as info:
        load_bundled_directory(shared_dir=root)
    expect_mismatch(info.value, root / rel)
    monkeypatch.setattr(settings, "shared_data_dir", root)
    out = tmp_path / "out"
    rc, _, err = cli(capsys, "coverage", "--profile", "job_seekers", "--quiet", "--out", out)
    user_error(rc, err, "france_travail_2019.csv", "expected 5738a170", "docs/data.md")
    assert not out.exists()
    rc, _, err = cli(capsys, "prepare", "--quiet")
    user_error(rc, err, "france_travail_2019.csv", "restore the file")


def _load_france_services(root):
    from analysis.sites.directory import load_france_services

    load_france_services(shared_dir=root)


def _load_age_shares(root):
    from analysis.communes import load_communes
    from analysis.profiles import get_profile, profile_demand

    profile_demand(get_profile("young_16_25"), load_communes())


def _read_ter(root):
    from analysis.transit.gtfs import read_calendar_range

    read_calendar_range(root / "gtfs" / "sncf_ter_2025-01.zip")


def _coach_hops(root):
    from analysis.communes import load_communes
    from analysis.estimated.coach_hops import load_coach_hops

    load_coach_hops(load_communes())


def _colleges(root):
    from analysis.schools import load_colleges

    load_colleges()


def _dares_demand(root):
    from analysis.communes import load_communes
    from analysis.profiles import Profile, profile_demand

    prof = Profile(key="js", label="Job seekers", networks=("France Travail",),
                   thresholds_min={"road": 30.0}, base="file",
                   demand_file=str(root / "demand" / DARES),
                   demand_column="nombre_de_demandeurs_d_emploi")  # fmt: skip
    profile_demand(prof, load_communes())


DARES = "defm_dares_2024T4_ABC_communes_dep01_03_07.csv"


@needs_mirror
@pytest.mark.parametrize(
    ("rel", "load"),
    [
        ("access_points/france_services_2024.csv", _load_france_services),
        ("population_grid/communes_84_age_shares_filosofi2021.csv", _load_age_shares),
        ("gtfs/sncf_ter_2025-01.zip", _read_ter),
        ("gtfs/sncf_ter_2025-01.zip", _coach_hops),
        ("schools/colleges_aura_geoloc_2024.csv", _colleges),
        ("demand/" + DARES, _dares_demand),
    ],
    ids=["france-services", "age-shares", "gtfs", "coach-hops", "colleges", "demand"],
)
def test_mir_02_one_byte_changed_in_another_mirror_file(
    tmp_path, redirected, monkeypatch, rel, load
):
    root = damaged_mirror(tmp_path, rel, flip_one_byte)
    monkeypatch.setattr(settings, "shared_data_dir", root)
    with pytest.raises(ValidationError) as info:
        load(root)
    expect_mismatch(info.value, root / rel)


@needs_mirror
def test_mir_03_digest_cache_garbled_or_file_touched(tmp_path, redirected, monkeypatch):
    """A second check costs a stat; a touched file or a garbled cache is hashed again."""
    from analysis import manifest

    calls = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda p: calls.append(p) or real(p))
    path = MIRROR / "access_points" / "france_travail_2019.csv"
    digest = manifest.verify_input(path)
    assert digest == manifest.shared_digests()["access_points/france_travail_2019.csv"]
    assert len(calls) == 1
    assert manifest.verify_input(path) == digest
    assert len(calls) == 1  # cached by (path, size, mtime_ns)
    cache = Path(settings.processed_data_dir) / manifest.DIGEST_CACHE_NAME
    cache.write_text("{not json", encoding="utf-8")
    assert manifest.verify_input(path) == digest
    assert len(calls) == 2
    # the same size and a new mtime (a copy that keeps the name): hashed again
    root = damaged_mirror(tmp_path, "access_points/france_travail_2019.csv", lambda b: b)
    copy = root / "access_points" / "france_travail_2019.csv"
    assert manifest.verify_input(copy, mirror=root) == digest
    assert len(calls) == 3
    copy.write_bytes(flip_one_byte(copy.read_bytes()))
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with pytest.raises(ValidationError, match="restore the file"):
        manifest.verify_input(copy, mirror=root)


@needs_mirror
def test_every_mirror_file_the_tool_reads_is_in_the_manifest():
    from analysis.manifest import shared_digests
    from analysis.schools import GEOLOC_FILE, SCHOOLS_SUBDIR, SIZES_FILE

    digests = shared_digests()
    read = [p.relative_to(MIRROR).as_posix() for p in (MIRROR / "access_points").glob("*.csv")]
    read += [p.relative_to(MIRROR).as_posix() for p in (MIRROR / "gtfs").rglob("*.zip")]
    read += [f"{SCHOOLS_SUBDIR}/{GEOLOC_FILE}", f"{SCHOOLS_SUBDIR}/{SIZES_FILE}"]
    read += ["population_grid/communes_84_age_shares_filosofi2021.csv", f"demand/{DARES}"]
    assert sorted(set(read) - set(digests)) == []
    from analysis.io import sha256_file

    for rel in read:  # and the real files match (the check must not refuse a good mirror)
        assert sha256_file(MIRROR / rel) == digests[rel], rel


# =========================================================================== PROF
# A profile's own demand figures (base = "file", analysis.profiles.profile_demand).
@pytest.fixture(scope="module")
def communes():
    from analysis.communes import load_communes

    return load_communes()


def own_demand(csv_path: Path, column: str):
    from analysis.profiles import Profile

    return Profile(key="own", label="Own figures", networks=("France Travail",),
                   thresholds_min={"road": 30.0}, base="file", demand_file=str(csv_path),
                   demand_column=column, demand_status="official")  # fmt: skip


@needs_mirror
def test_prof_17_demand_file_saved_from_excel(tmp_path, communes):
    """The DARES file of Ain, Allier and Ardèche with its codes as Excel writes them (1001)."""
    import pandas as pd

    from analysis.profiles import profile_demand

    real = pd.read_csv(MIRROR / "demand" / DARES, dtype=str)
    excel = real.assign(insee=real["insee"].str.lstrip("0"))
    assert (excel["insee"].str.len() == 4).sum() > 500  # 01xxx, 03xxx, 07xxx
    path = tmp_path / "defm_excel.csv"
    excel.to_csv(path, index=False, sep=",")
    three = communes[communes["dep"].isin(["01", "03", "07"])].reset_index(drop=True)
    column = "nombre_de_demandeurs_d_emploi"
    got = profile_demand(own_demand(path, column), three)
    want = profile_demand(own_demand(MIRROR / "demand" / DARES, column), three)
    assert got.sum() > 50_000 and (got > 0).sum() > 900  # was 0 for every commune
    np.testing.assert_array_equal(got, want)
    # the same commune written both ways is one commune written twice
    both = tmp_path / "both.csv"
    both.write_text("insee,n\n1053,7\n01053,7\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="duplicate insee codes") as info:
        profile_demand(own_demand(both, "n"), three)
    assert info.value.rows == [1, 2]


@needs_mirror
def test_prof_18_demand_file_that_does_not_cover_the_communes(tmp_path, communes, capsys):
    from analysis.profiles import profile_demand

    with pytest.raises(ValidationError) as info:
        profile_demand(own_demand(MIRROR / "demand" / DARES, "nombre_de_demandeurs_d_emploi"),
                       communes)  # fmt: skip
    msg = str(info.value)
    assert DARES in msg
    assert "2,982 of the 4,025 communes have no row" in msg
    assert "15001 " in msg and "departments 15, 26, 38, 42, 43, 63, 69, 73, 74" in msg
    assert "0 where there is nobody" in msg
    # on the command line: a profiles file whose demand file is partial
    toml = tmp_path / "mine.toml"
    toml.write_text(
        '[profiles.js]\nlabel = "Job seekers"\nnetworks = ["France Travail"]\n'
        "thresholds_min = { road = 30, transit = 45, walk = 20 }\n"
        f'[profiles.js.demand]\nbase = "file"\nfile = "{MIRROR / "demand" / DARES}"\n'
        'column = "nombre_de_demandeurs_d_emploi"\nstatus = "official"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    rc, _, err = cli(capsys, "coverage", "--profiles-file", toml, "--profile", "js",
                     "--quiet", "--out", out)  # fmt: skip
    user_error(rc, err, "do not cover the communes", "have no row")
    assert not out.exists()


# =========================================================================== DIR
# A user's GeoPackage with several layers (analysis.sites.user_import, `--sites --layer`).
def geopackage(path: Path, layers: dict[str, str]) -> Path:
    """Write a GeoPackage with the named layers: ``points`` (sites), ``polygons``, ``table``."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely.geometry import Point, box

    for name, kind in layers.items():
        if kind == "points":
            gdf = gpd.GeoDataFrame(
                {"name": [f"ML {name}"], "network": ["Mission Locale"]},
                geometry=[Point(4.1236, 45.1427)], crs="EPSG:4326",
            )  # fmt: skip
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        elif kind == "polygons":
            gdf = gpd.GeoDataFrame(
                {"zone": ["Yssingelais"]}, geometry=[box(4.0, 45.0, 4.3, 45.3)], crs="EPSG:4326"
            )
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        else:
            pyogrio.write_dataframe(pd.DataFrame({"note": ["exported 2026-11"]}), path, layer=name)
    return path


@needs_mirror
def test_dir_31_geopackage_with_one_point_layer_among_others(tmp_path, capsys):
    from analysis.sites.user_import import read_user_directory

    f = geopackage(tmp_path / "annuaire.gpkg",
                   {"zones": "polygons", "sites": "points", "meta": "table"})  # fmt: skip
    ud = read_user_directory(f)
    assert list(ud.sites["name"]) == ["ML sites"]  # the point layer, not the first layer
    note = [m for m in ud.messages if "layer" in m]
    assert note and "read layer 'sites', the only point layer" in note[0]
    assert "'zones' (Polygon)" in note[0] and "'meta' (no geometry)" in note[0]
    rc, _, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites", f, "--add",
                     "--quiet", "--out", tmp_path / "out")  # fmt: skip
    assert rc == 0, err
    assert any("warning:" in line and "not read: 'zones'" in line for line in err.splitlines())


@needs_mirror
def test_dir_32_geopackage_with_several_point_layers(tmp_path, capsys):
    from analysis.sites.user_import import read_user_directory

    f = geopackage(tmp_path / "annuaire.gpkg",
                   {"permanences": "points", "agences": "points", "zones": "polygons"})  # fmt: skip
    with pytest.raises(ValidationError) as info:
        read_user_directory(f)
    msg = str(info.value)
    assert "3 layers and several point layers" in msg and "--layer NAME" in msg
    assert "'permanences' (Point), 'agences' (Point), 'zones' (Polygon)" in msg
    ud = read_user_directory(f, layer="agences")
    assert list(ud.sites["name"]) == ["ML agences"]
    assert any("not read: 'permanences' (Point), 'zones' (Polygon)" in m for m in ud.messages)
    with pytest.raises(ValidationError, match="no layer 'agence' in the file; its layers are"):
        read_user_directory(f, layer="agence")
    out = tmp_path / "out"
    rc, _, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites", f, "--quiet",
                     "--out", out)  # fmt: skip
    user_error(rc, err, "annuaire.gpkg", "several point layers", "--layer NAME")
    assert not out.exists()
    rc, _, err = cli(capsys, "whatif", "--sites", f, "--layer", "nope", "--commune", "43268",
                     "--network", "Mission Locale", "--out", out)  # fmt: skip
    user_error(rc, err, "no layer 'nope'")
    rc, _, err = cli(capsys, "coverage", "--profile", "young_16_25", "--sites", f, "--add",
                     "--layer", "agences", "--quiet", "--out", out)  # fmt: skip
    assert rc == 0, err
    from analysis.runs import default_out_dir

    assert default_out_dir("young_16_25", "road", 20, sites_file=f, sites_layer="agences").name == (
        "young_16_25_road_20min_sites-annuaire-agences"
    )
    csv = tmp_path / "annuaire.csv"
    csv.write_text("name,network,commune\nML Yssingeaux,Mission Locale,43268\n", "utf-8")
    with pytest.raises(ValidationError, match="a CSV file has no layers"):
        read_user_directory(csv, layer="agences")


@needs_mirror
def test_dir_34_a_small_directory_does_not_silently_replace_a_whole_network(tmp_path, caplog):
    """Issue 14 item 4: refused unless --replace; --add keeps the bundled sites; said every run."""
    import logging

    from analysis.errors import UnknownNameError
    from analysis.sites.directory import load_bundled_directory
    from analysis.sites.merge import merge_user_directory
    from analysis.sites.user_import import load_user_directory

    bundled = load_bundled_directory()
    src = tmp_path / "mine.csv"
    src.write_text(
        "name,network,commune,lon,lat\n"
        "ML Yssingeaux,Mission Locale,43268,4.1236,45.1427\n"
        "ML Tence,Mission Locale,43244,4.2906,45.1147\n"
        "ML Monistrol,Mission Locale,43137,4.1722,45.2928\n",
        encoding="utf-8",
    )
    user = load_user_directory(src)
    n_ml = int((bundled["network"] == "Mission Locale").sum())
    with pytest.raises(
        ValidationError, match=r"Mission Locale: your file has 3 site\(s\).*--replace.*--add"
    ):
        merge_user_directory(bundled, user)
    with caplog.at_level(logging.WARNING, logger="analysis.sites.merge"):
        added = merge_user_directory(bundled, user, how="add")
    assert (added["network"] == "Mission Locale").sum() >= n_ml  # kept, plus the new ones
    assert len(added) <= len(bundled) + len(user)
    assert any("added to the" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="analysis.sites.merge"):
        merge_user_directory(bundled, user, how="replace")
    assert any(f"{n_ml} bundled site(s) replaced by 3" in r.getMessage() for r in caplog.records)
    with pytest.raises(UnknownNameError, match="replace"):
        merge_user_directory(bundled, user, how="swap")


def test_dir_35_a_directory_rewritten_while_it_is_read(tmp_path, monkeypatch):
    """A half-written file would load as a shorter table: the size/mtime change is refused."""
    from analysis.sites import user_import

    src = tmp_path / "annuaire.csv"
    src.write_text("name,network,commune\nML Yssingeaux,Mission Locale,43268\n", "utf-8")
    real = user_import._read_csv

    def racing(path):
        df = real(path)  # the reader got the first half...
        with open(path, "a", encoding="utf-8") as f:  # ...while the export goes on
            f.write("ML Tence,Mission Locale,43244\n")
        return df

    monkeypatch.setattr(user_import, "_read_csv", racing)
    with pytest.raises(ValidationError, match=r"annuaire.csv.*changed while it was read"):
        user_import.read_user_directory(src)
    monkeypatch.setattr(user_import, "_read_csv", real)
    assert len(user_import.read_user_directory(src).sites) == 2  # once saved, it loads


# =========================================================================== GTFS
# GTFS archives that used to end in a traceback (analysis.transit.gtfs._FeedSource).
TINY = Path(__file__).resolve().parent / "data" / "gtfs_tiny"


def tiny_zip(path: Path, replace: dict[str, str] | None = None) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(TINY.glob("*.txt")):
            z.writestr(f.name, (replace or {}).get(f.name, f.read_text(encoding="utf-8")))
    return path


def patch_zip(path: Path, *, method: int | None = None, flag: int = 0,
              announce: dict[str, int] | None = None) -> Path:  # fmt: skip
    """Rewrite header fields in place: compression method, flag bits, announced sizes."""
    import struct

    data = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local, central headers
        i = data.find(sig)
        while i >= 0:
            flags = struct.unpack_from("<H", data, i + off)[0]
            struct.pack_into("<H", data, i + off, flags | flag)
            if method is not None:
                struct.pack_into("<H", data, i + off + 2, method)
            if sig == b"PK\x01\x02" and announce:
                n = struct.unpack_from("<H", data, i + 28)[0]
                name = bytes(data[i + 46 : i + 46 + n]).decode()
                if name in announce:
                    struct.pack_into("<I", data, i + 24, announce[name])
            i = data.find(sig, i + 4)
    path.write_bytes(bytes(data))
    return path


def gtfs_error(capsys, tmp_path, path: Path, *needles: str) -> None:
    """The library and the command line give the one-line error naming file and member."""
    from analysis.transit.gtfs import read_gtfs

    with pytest.raises(ValidationError) as info:
        read_gtfs(path)
    for needle in (path.name, *needles):
        assert needle in str(info.value), str(info.value)
    rc, _, err = cli(capsys, "transit-check", "--gtfs", path, "--quiet")
    user_error(rc, err, path.name, *needles)


def test_gtfs_20_deflate64_archive(tmp_path, capsys):
    p = patch_zip(tiny_zip(tmp_path / "reseau.zip"), method=9)  # as Windows' zip writes it
    gtfs_error(capsys, tmp_path, p, "reseau.zip:agency.txt", "Deflate64", "re-zip it")


def test_gtfs_21_password_protected_archive(tmp_path, capsys):
    p = patch_zip(tiny_zip(tmp_path / "reseau.zip"), flag=0x1)
    gtfs_error(capsys, tmp_path, p, "reseau.zip:agency.txt", "password-protected")


def test_gtfs_22_feed_with_no_stop_in_the_region(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(settings, "processed_data_dir", tmp_path / "processed")
    stops = (TINY / "stops.txt").read_text(encoding="utf-8")
    paris = stops.replace("45.7", "48.8").replace(",4.", ",2.").replace(",5.00", ",2.50")
    p = tiny_zip(tmp_path / "ratp.zip", {"stops.txt": paris})
    from analysis.communes import load_communes
    from analysis.transit.gtfs import read_gtfs
    from analysis.transit.model import region_clip

    communes = load_communes()
    clip = region_clip(communes["x_l93"].to_numpy(), communes["y_l93"].to_numpy())
    with pytest.raises(ValidationError) as info:
        read_gtfs(p, clip_l93=clip)
    msg = str(info.value)
    assert "ratp.zip:stops.txt" in msg and "none of the 10 stops" in msg
    assert "lon 2.85, lat 48.80" in msg and "leave it out of --gtfs" in msg
    assert len(read_gtfs(p).stops) == 10  # a valid feed: only its place is wrong
    rc, _, err = cli(capsys, "transit-check", "--gtfs", p, "--quiet")  # was an IndexError
    user_error(rc, err, "ratp.zip:stops.txt", "not a timetable of the region")


def test_gtfs_23_member_too_large_for_the_memory(tmp_path, capsys, monkeypatch):
    from analysis.transit import gtfs

    # stop_times.txt announces 1.9 GB (under the 2 GiB cap of GTFS-17); 8 GB available
    p = patch_zip(tiny_zip(tmp_path / "national.zip"), announce={"stop_times.txt": 1_900_000_000})
    monkeypatch.setattr(gtfs, "available_memory", lambda: 8 * 10**9)
    read = []
    monkeypatch.setattr(gtfs.zipfile.ZipFile, "read", lambda self, n: read.append(n) or b"")
    gtfs_error(capsys, tmp_path, p, "national.zip:stop_times.txt", "1,900,000,000 bytes",
               "about 28.5 GB", "8.0 GB is available")  # fmt: skip
    assert read == []  # refused up front: nothing decompressed
    monkeypatch.undo()
    assert len(gtfs.read_gtfs(tiny_zip(tmp_path / "fine.zip")).stops) == 10


# =========================================================================== postcodes
# A commune value that is both an INSEE code and another commune's postcode (42310 is
# Thélis-la-Combe's code and the postcode of La Pacaudière and six other communes).
@needs_mirror
def test_cand_14_postcode_in_the_commune_column(communes):
    from analysis.planning.candidates import read_candidates_csv

    text = (
        "name,network,commune,address\n"
        'ML Pacaudière,Mission Locale,42310,"Place de la Mairie, 42310 La Pacaudière"\n'
        'ML Thélis,Mission Locale,42310,"Le Bourg, Thélis-la-Combe"\n'
        "ML bare,Mission Locale,42310,\n"
    )
    load = read_candidates_csv(text.encode(), communes)
    got = dict(zip(load.candidates["name"], load.candidates["commune"], strict=True))
    assert got == {"ML Pacaudière": "La Pacaudière", "ML Thélis": "Thélis-la-Combe"}
    msgs = " ".join(load.messages())
    assert "row 3" in msgs and "both the INSEE code of Thélis-la-Combe" in msgs
    assert "La Pacaudière (42163)" in msgs and "insee:42310" in msgs
    # an `insee` column says what the value is: the code, never a postcode
    load = read_candidates_csv(b"name,network,insee\nML,Mission Locale,42310\n", communes)
    assert list(load.candidates["commune"]) == ["Thélis-la-Combe"]


@needs_mirror
def test_cli_19_whatif_commune_and_caravane_base_that_are_also_postcodes(tmp_path, capsys):
    rc, _, err = cli(capsys, "whatif", "--commune", "42310", "--network", "Mission Locale",
                     "--out", tmp_path / "w")  # fmt: skip
    user_error(rc, err, "both the INSEE code of Thélis-la-Combe", "La Pacaudière",
               "km or more apart", "insee:42310")  # fmt: skip
    rc, _, err = cli(capsys, "caravane", "--base", "42310", "--days", "2",
                     "--profile", "young_16_25", "--out", tmp_path / "c")  # fmt: skip
    user_error(rc, err, "both the INSEE code of Thélis-la-Combe")
    rc, _, err = cli(capsys, "whatif", "--commune", "insee:42310", "--network",
                     "Mission Locale", "--out", tmp_path / "w")  # fmt: skip
    assert rc == 0, err
    rc, _, err = cli(capsys, "whatif", "--commune", "43268", "--network", "Mission Locale",
                     "--out", tmp_path / "w2")  # fmt: skip
    assert rc == 0, err  # Yssingeaux's code is nobody's postcode: no change


@needs_mirror
def test_dir_33_postcode_in_the_commune_column_of_a_directory(tmp_path):
    from analysis.sites.user_import import read_user_directory

    f = tmp_path / "annuaire.csv"
    f.write_text(
        "name,network,commune,address\n"
        'ML Pacaudière,Mission Locale,42310,"Place de la Mairie, 42310 La Pacaudière"\n'
        'ML Thélis,Mission Locale,42310,"Le Bourg, Thélis-la-Combe"\n'
        "ML bare,Mission Locale,42310,\n"
        "ML prefixed,Mission Locale,insee:42310,\n"
        "ML Yssingeaux,Mission Locale,43268,\n",
        encoding="utf-8",
    )
    ud = read_user_directory(f)
    got = dict(zip(ud.sites["name"], ud.sites["commune_name"], strict=True))
    assert got == {"ML Pacaudière": "La Pacaudière", "ML Thélis": "Thélis-la-Combe",
                   "ML prefixed": "Thélis-la-Combe", "ML Yssingeaux": "Yssingeaux"}  # fmt: skip
    flags = dict(zip(ud.sites["name"], ud.sites["flags"], strict=True))
    assert "commune_from_postcode" in flags["ML Pacaudière"]
    left = [m for m in ud.messages if "left out" in m]
    assert len(left) == 1 and "row 3 (ML bare)" in left[0]
    assert "both the INSEE code of Thélis-la-Combe" in left[0] and "insee:42310" in left[0]
    # a column called insee holds codes
    g = tmp_path / "codes.csv"
    g.write_text("name,network,insee\nML,Mission Locale,42310\n", encoding="utf-8")
    assert list(read_user_directory(g).sites["commune_name"]) == ["Thélis-la-Combe"]
