"""Bad-input catalogue, section "Main roads" (rows TM-NN of docs/bad_inputs.md).

Damaged Travel Mapping data: a clear error naming the file and line, or a reported skip,
never a silent hole in the network. The hand-made files come from tests/test_mainroads.py.
"""

from __future__ import annotations

import tarfile

import pytest
from test_mainroads import write_hwy

from analysis.cli import main
from analysis.errors import ValidationError
from analysis.mainroads.network import graph_from_travelmapping
from analysis.mainroads.travelmapping import read_waypoints


def _tar(tmp_path, hwy):
    tar = tmp_path / "hwy.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(hwy, arcname="hwy_data")
    return tar


def test_tm_01_truncated_tarball(tmp_path, capsys):
    tar = _tar(tmp_path, write_hwy(tmp_path / "src"))
    tar.write_bytes(tar.read_bytes()[:300])
    with pytest.raises(ValidationError, match="archive is truncated or corrupt"):
        read_waypoints(tar)
    rc = main(["prepare", "--quiet", "--travelmapping", str(tar)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert len([x for x in err.splitlines() if "error:" in x]) == 1
    assert "hwy.tar.gz" in err and "download it again" in err


def test_tm_02_not_an_archive(tmp_path):
    bad = tmp_path / "hwy.tar.gz"
    bad.write_bytes(b"<html>404</html>")
    with pytest.raises(ValidationError, match="truncated or corrupt"):
        read_waypoints(bad)


def test_tm_03_malformed_url(tmp_path):
    hwy = write_hwy(tmp_path)
    f = hwy / "FRA-ARA" / "fraa" / "fraara.a0099.wpt"
    f.write_text(f.read_text().replace("?lat=45.74&lon=4.86", "?lat=45.74"))
    with pytest.raises(ValidationError, match=r"fraara\.a0099\.wpt, line 3: not a waypoint line"):
        read_waypoints(hwy)


def test_tm_04_coordinates_outside_france(tmp_path):
    hwy = write_hwy(tmp_path)
    f = hwy / "FRA-ARA" / "fran" / "fraara.n0001.wpt"
    f.write_text(f.read_text().replace("lat=45.72&lon=4.82", "lat=-45.72&lon=4.82"))
    with pytest.raises(ValidationError, match=r"line 4: waypoint at lat=-45.72.*outside"):
        read_waypoints(hwy)


def test_tm_05_system_lists_a_missing_route_file(tmp_path):
    hwy = write_hwy(tmp_path, systems={"fraa": ["fraara.a0099", "fraara.a0098"]})
    net = graph_from_travelmapping(hwy)
    skipped = net.report["skipped_files"]
    assert any("fraa.csv, line 3: route fraara.a0098 has no .wpt file" in s for s in skipped)


def test_tm_06_duplicated_route_files(tmp_path):
    hwy = write_hwy(tmp_path)
    dup = hwy / "FRA-BFC" / "fraarad69"
    dup.mkdir(parents=True)
    src = (hwy / "FRA-ARA" / "fraarad69" / "fraara.d0001.wpt").read_text()
    (dup / "fraara.d0001.wpt").write_text(src)
    assert any("identical copy" in s for s in read_waypoints(hwy).skipped)
    (dup / "fraara.d0001.wpt").write_text(src.replace("4.84", "4.85"))
    with pytest.raises(ValidationError, match=r"fraara\.d0001 is filed twice"):
        read_waypoints(hwy)


def test_tm_07_disconnected_piece(tmp_path):
    net = graph_from_travelmapping(write_hwy(tmp_path))
    assert net.report["pieces_dropped"] == 1 and net.report["pieces_dropped_km"] > 0


def test_tm_08_missing_source(tmp_path, capsys):
    rc = main(["prepare", "--quiet", "--travelmapping", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 2 and "no such file or folder" in err and "Traceback" not in err


def test_tm_09_no_road_near_the_communes(tmp_path):
    import numpy as np

    from analysis.crs import to_l93

    x, y = to_l93(np.array([2.35]), np.array([48.85]))  # Paris, far from the files' roads
    with pytest.raises(ValidationError, match="no road of the Travel Mapping data lies within"):
        graph_from_travelmapping(write_hwy(tmp_path), origins_xy=(x, y), buffer_km=10)
