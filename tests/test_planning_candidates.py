"""Candidate input: good rows load, bad rows are reported by row, positions resolve."""

import numpy as np
import pytest

from analysis.errors import UnknownNameError, ValidationError
from analysis.planning.candidates import candidates_from_records, read_candidates_csv
from analysis.testing import synthetic_communes


@pytest.fixture(scope="module")
def communes():
    return synthetic_communes(6, 5)


def test_csv_with_good_and_bad_rows(tmp_path, communes):
    c0 = communes.iloc[0]
    c3 = communes.iloc[3]
    text = (
        "name,network,kind,lon,lat,insee,commune,address\n"
        f"Antenne A,Missions Locales,permanence,,,{c0['insee']},,1 rue X\n"  # row 1 ok
        "Bad network,Nope network,permanence,,,,Commune 002,\n"  # row 2
        f"Point B,PIJ,main site,{c3['lon']:.6f},{c3['lat']:.6f},,,\n"  # row 3 ok
        "No position,CIO,,,,,,\n"  # row 4
        "Paris,CIO,,2.35,48.85,,,\n"  # row 5: outside the region
        ",CIO,,,,,Commune 001,\n"  # row 6: no name
        "Bad lon,CIO,,abc,45.0,,,\n"  # row 7
        "Unknown commune,CIO,,,,,Nowhere-sur-Loire,\n"  # row 8
        f"By name,France Travail,,,,,{communes.iloc[5]['nom']},\n"  # row 9 ok
        "Too,many,fields,,,,,,,\n"  # row 10
    )
    p = tmp_path / "cands.csv"
    p.write_text(text, encoding="utf-8")
    load = read_candidates_csv(p, communes)
    good = load.candidates
    assert good["name"].tolist() == ["Antenne A", "Point B", "By name"]
    assert good["network"].tolist() == ["Mission Locale", "Info Jeunes", "France Travail"]
    assert good["position"].tolist() == ["commune", "exact", "commune"]
    assert good["kind"].tolist() == ["permanence", "main site", "permanence"]
    assert good["candidate_id"].tolist() == ["C1", "C3", "C9"]
    assert (good["provenance"] == "user").all()
    # a commune candidate stands at the commune's origin point
    assert good["x_l93"].iloc[0] == pytest.approx(c0["x_l93"])
    assert good["insee"].iloc[1] == c3["insee"]
    rows = [p.rows for p in load.problems]
    assert rows == [[2], [4], [5], [6], [7], [8], [10]]
    msgs = load.messages()
    assert "row 2" in msgs[0] and "unknown network 'Nope network'" in msgs[0]
    assert "Mission Locale" in msgs[0]  # the valid networks are listed
    assert isinstance(load.problems[0], UnknownNameError)
    assert "no position" in msgs[1]
    assert "outside the region" in msgs[2]
    assert "no name" in msgs[3]
    assert "numbers" in msgs[4]
    assert "Nowhere-sur-Loire" in msgs[5]
    assert "10 fields where the header has 8" in msgs[6]
    assert all("cands.csv" in m for m in msgs)


def test_semicolon_csv_with_bom_and_upload_bytes(communes):
    c = communes.iloc[2]
    data = f"\ufeffname;network;insee\nX;CIO;{c['insee']}\n".encode()
    load = read_candidates_csv(data, communes)
    assert load.candidates["name"].tolist() == ["X"] and not load.problems


def test_file_without_any_good_row_raises_with_rows(tmp_path, communes):
    p = tmp_path / "bad.csv"
    p.write_text("name,network,commune\nA,Nope,Commune 001\nB,CIO,\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        read_candidates_csv(p, communes)
    assert err.value.rows == [1, 2]
    assert "bad.csv" in str(err.value)


def test_file_without_required_columns(tmp_path, communes):
    p = tmp_path / "cols.csv"
    p.write_text("nom,reseau\nA,CIO\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="missing column"):
        read_candidates_csv(p, communes)
    p.write_text("name,network\nA,CIO\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no position column"):
        read_candidates_csv(p, communes)
    p.write_text("", encoding="utf-8")
    with pytest.raises(ValidationError, match="cannot read"):
        read_candidates_csv(p, communes)
    p.write_text("name,Name,network,insee\nA,B,CIO,43000\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"names the column.*name more than once"):
        read_candidates_csv(p, communes)


def test_records_from_a_form(communes):
    load = candidates_from_records(
        [
            {"name": "<b>x</b>", "network": "cio", "lon": float(communes["lon"].iloc[0]),
             "lat": float(communes["lat"].iloc[0])},
            {"name": "y", "network": "CIO", "commune": communes["insee"].iloc[1]},
        ],
        communes,
    )  # fmt: skip
    assert load.candidates["name"].tolist() == ["<b>x</b>", "y"]
    assert np.isfinite(load.candidates[["x_l93", "y_l93"]].to_numpy()).all()
    assert load.candidates.crs.to_epsg() == 4326
