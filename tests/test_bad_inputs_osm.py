"""Bad-input catalogue, section "Road extracts": PBF rows read by the streaming reader.

Rows OSM-11 to OSM-14 of docs/bad_inputs.md (OSM-01 to OSM-10 are in
tests/test_bad_input_catalogue.py). ``build_osm_graph`` reads ``.osm.pbf`` files with the
streaming reader (pyosmium) by default; each bad file gives one ``ValidationError`` naming
the file and the fix, on one line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_osm_stream import LINE, write_pbf

from analysis.errors import ValidationError
from analysis.osm import build_osm_graph, prepare_osm_model

pyrosm = pytest.importorskip("pyrosm")


def _build(path: Path, tmp_path: Path):
    return build_osm_graph(osm_file=path, cache_dir=tmp_path / "cache", reader="stream")


def _one_line(exc: pytest.ExceptionInfo, name: str) -> str:
    text = str(exc.value)
    assert "\n" not in text
    assert name in text, text
    return text


def test_osm_11_pbf_without_drivable_way(tmp_path):
    p = write_pbf(tmp_path / "paths.osm.pbf", LINE,
                  [(1, [1, 2, 3], {"highway": "footway"}), (2, [3, 4], {"highway": "cycleway"}),
                   (3, [1, 4], {"building": "yes"})])  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        _build(p, tmp_path)
    text = _one_line(exc, "paths.osm.pbf")
    assert "holds no drivable road" in text and "geofabrik" in text


def test_osm_12_pbf_whose_ways_have_no_node(tmp_path):
    # Ways only (an extract cut without its nodes): nothing can be placed.
    p = write_pbf(tmp_path / "ways_only.osm.pbf", {},
                  [(1, [1, 2, 3], {"highway": "primary"})])  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        _build(p, tmp_path)
    text = _one_line(exc, "ways_only.osm.pbf")
    assert "none of their nodes" in text and "download" in text


def test_osm_13_pbf_with_corrupt_block_data(tmp_path):
    # Framing intact (every block's declared size is there), block contents garbage.
    data = bytearray(Path(pyrosm.get_data("test_pbf")).read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4000] = bytes(4000)
    p = tmp_path / "corrupt.osm.pbf"
    p.write_bytes(bytes(data))
    with pytest.raises(ValidationError) as exc:
        _build(p, tmp_path)
    text = _one_line(exc, "corrupt.osm.pbf")
    assert "download it again" in text


def test_osm_14_extract_covering_none_of_the_region(tmp_path):
    from analysis.communes import load_communes

    with pytest.raises(ValidationError) as exc:
        prepare_osm_model(osm_file=pyrosm.get_data("helsinki_pbf"), communes=load_communes(),
                          cache_dir=tmp_path)  # fmt: skip
    text = _one_line(exc, "Helsinki.osm.pbf")
    assert "covers none of the" in text and "geofabrik" in text
