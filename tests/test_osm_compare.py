"""compare_models on two models of the same real roads, and the compare-models command."""

import argparse
import dataclasses
import json

import numpy as np
import pandas as pd
import pyrosm
import pytest

from analysis.errors import ValidationError
from analysis.graph import RoadGraph
from analysis.osm import OUTSIDE, build_osm_graph, compare_models, osm_road_model


@pytest.fixture(scope="module")
def osm(tmp_path_factory):
    cached, _ = build_osm_graph(
        osm_file=pyrosm.get_data("test_pbf"), cache_dir=tmp_path_factory.mktemp("c")
    )
    g = cached.graph
    rng = np.random.default_rng(3)
    # nodes inside the extract's bounding box (complete ways stick out of it)
    inside = np.flatnonzero(cached.extent.contains(g.x + 50.0, g.y))
    idx = rng.choice(inside, 12, replace=False)
    communes = pd.DataFrame(
        {
            "insee": [f"{i:05d}" for i in range(13)],
            "nom": [f"c{i}" for i in range(13)],
            "x_l93": np.r_[g.x[idx] + 50.0, g.x.mean() + 90_000.0],
            "y_l93": np.r_[g.y[idx], g.y.mean()],
            "pop_mun": np.arange(13) + 10,
            "urban_class": ["rural", "intermediate"] * 6 + ["rural"],
        }
    )
    model = osm_road_model(cached, communes)
    sites = np.column_stack([g.x[[1, 50, 120]] + 30.0, g.y[[1, 50, 120]]])
    return model, communes, sites


def slowed(model, factor):
    """The same model with every time multiplied by ``factor`` (roads and snap legs)."""
    g = model.graph
    g2 = RoadGraph(
        x=g.x, y=g.y, indptr=g.indptr, indices=g.indices, weights=g.weights * factor,
        model="estimated", label="slow copy", node_ids=g.node_ids,
    )  # fmt: skip
    offsets = np.where(np.isfinite(model.origin_offsets_s), model.origin_offsets_s * factor, 0)
    return dataclasses.replace(
        model, graph=g2, origin_offsets_s=offsets, snap_speed_kmh=model.snap_speed_kmh / factor,
        origin_status=np.full(len(offsets), "ok", dtype=object),
    )  # fmt: skip


def test_ratio_of_a_uniformly_slower_model(osm):
    model, communes, sites = osm
    slow = slowed(model, 1.5)
    cmp = compare_models(slow, model, sites, communes)
    s = cmp.summary
    assert s["n_communes"] == 13
    assert s["n_compared"] == 12  # the far commune is outside the OSM extract
    assert s["n_not_b"] == 1 and s["n_not_a"] == 0
    assert s["status_counts_b"] == {"ok": 12, OUTSIDE: 1}
    for k in ("ratio_p10", "ratio_median", "ratio_p90", "ratio_median_pop"):
        assert s[k] == pytest.approx(1.5)
    assert s["same_site_share"] == 1.0
    t = cmp.table
    assert list(t["compared"]) == [True] * 12 + [False]
    assert np.isnan(t["ratio"].iloc[-1])
    np.testing.assert_allclose(t["ratio"].iloc[:12], 1.5)
    np.testing.assert_allclose(t["diff_min"].iloc[:12], 0.5 * t["time_b_min"].iloc[:12])
    assert set(cmp.by_class.index) == {"rural", "intermediate"}
    text = cmp.to_text()
    assert "median 1.50" in text and "P90 1.50" in text and "slow copy" in text


def test_sites_as_table_or_tuple(osm):
    model, communes, sites = osm
    a = compare_models(model, model, (sites[:, 0], sites[:, 1]), communes)
    b = compare_models(model, model, pd.DataFrame({"x_l93": sites[:, 0], "y_l93": sites[:, 1]}),
                       communes)  # fmt: skip
    assert a.summary["ratio_median"] == b.summary["ratio_median"] == 1.0


def test_models_for_other_communes(osm):
    model, communes, sites = osm
    other = communes.assign(insee=communes["insee"].str.replace("0", "9"))
    with pytest.raises(ValidationError, match="built for other communes"):
        compare_models(model, model, sites, other)


def test_no_commune_in_common(osm):
    model, communes, sites = osm
    out = dataclasses.replace(
        model, origin_status=np.full(13, OUTSIDE, dtype=object),
        origin_offsets_s=np.full(13, np.inf),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="cover no commune in common"):
        compare_models(model, out, sites, communes)


def test_write_report(osm, tmp_path):
    model, communes, sites = osm
    cmp = compare_models(slowed(model, 2.0), model, sites, communes)
    files = cmp.write(tmp_path / "out")
    summary = json.loads(files["summary_json"].read_text())
    assert summary["ratio_median"] == pytest.approx(2.0)
    table = pd.read_csv(files["communes_csv"], dtype={"insee": str})
    assert len(table) == 13 and table["insee"].iloc[0] == "00000"
    assert "median 2.00" in files["report_txt"].read_text()
    from analysis.errors import OverwriteRefusedError

    with pytest.raises(OverwriteRefusedError):
        cmp.write(tmp_path / "out")


def test_command_runs_with_given_inputs(osm, tmp_path, capsys, monkeypatch):
    from analysis.commands import osm as cmd

    model, communes, sites = osm
    comparison, files = cmd.run_compare_models(
        communes=communes, sites=pd.DataFrame({"x_l93": sites[:, 0], "y_l93": sites[:, 1]}),
        estimated=slowed(model, 1.2), osm_model=model, out_dir=tmp_path,
    )  # fmt: skip
    assert comparison.summary["ratio_median"] == pytest.approx(1.2)
    assert files["report_txt"].exists()

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cmd.register(sub)
    args = parser.parse_args(["compare-models", "--osm", "x.osm.pbf", "--out", str(tmp_path)])
    seen = {}

    def fake(**kw):
        seen.update(kw)
        return comparison, files

    monkeypatch.setattr(cmd, "run_compare_models", fake)
    assert args.func(args) == 0
    assert str(seen["osm_file"]) == "x.osm.pbf" and seen["place"] is None
    assert "median 1.20" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["compare-models", "--osm", "a", "--place", "b"])
