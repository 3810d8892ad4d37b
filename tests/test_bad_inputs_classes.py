"""Bad-input catalogue: the classes of issue 14's last "misleading" item.

Rows ENC-NN (text encodings), CRS-NN (projections, GeoJSON in metres), GEOM-NN (geometry
types close to points), PVAL-NN (degenerate profile values, profile keys) and OUT-NN (the
output folder) of docs/bad_inputs.md. Every file is written in ``tmp_path``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.errors import ValidationError

NAMES = ["Mission Locale Cœur Été", "CIO Évian"]
DIRECTORY = (
    f"name,network,commune,lon,lat\n{NAMES[0]},Mission Locale,43157,,\n{NAMES[1]},CIO,,4.88,45.76\n"
)


def cli(capsys, *args):
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def user_error(rc, err, *needles):
    assert rc == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


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
