import pandas as pd
import pytest

from analysis.errors import OverwriteRefusedError
from analysis.io import (
    atomic_path,
    neutralise_formulas,
    verify_checksum,
    write_csv,
    write_with_checksum,
)


def test_formula_injection_neutralised():
    df = pd.DataFrame({"name": ["=HYPERLINK(1)", "+33 4", "-x", "@SUM", "ok", None], "n": range(6)})
    out = neutralise_formulas(df)
    assert out["name"].tolist()[:5] == ["'=HYPERLINK(1)", "'+33 4", "'-x", "'@SUM", "ok"]
    assert out["n"].tolist() == list(range(6))


def test_write_csv_refuses_to_overwrite(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("mine")
    with pytest.raises(OverwriteRefusedError, match="--overwrite"):
        write_csv(pd.DataFrame({"a": [1]}), p, overwrite=False)
    assert p.read_text() == "mine"
    write_csv(pd.DataFrame({"a": [1]}), p, overwrite=True)
    assert p.read_text().startswith("a")


def test_atomic_write_keeps_previous_file_when_interrupted(tmp_path):
    p = tmp_path / "artefact.bin"
    p.write_text("good")
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert p.read_text() == "good"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["artefact.bin"]


def test_checksum_detects_corruption(tmp_path):
    p = tmp_path / "a.npz"
    write_with_checksum(p, lambda t: t.write_bytes(b"12345"))
    assert verify_checksum(p)
    p.write_bytes(b"12346")
    assert not verify_checksum(p)
    assert not verify_checksum(tmp_path / "missing.npz")
