"""What-if cards: known answers on a hand-built strip, incremental == full recompute."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from analysis.errors import UnknownNameError, ValidationError
from analysis.graph import RoadGraph
from analysis.planning.whatif import CARD_COLUMNS, WhatIf, what_if
from analysis.profiles import Profile
from analysis.road_model import RoadModel
from analysis.testing import (
    synthetic_communes,
    synthetic_profiles,
    synthetic_region,
)


# --------------------------------------------------------------------------- hand-built strip
@pytest.fixture(scope="module")
def strip():
    """Five communes in a row, 10 min apart; population 100 each; job seekers = everyone."""
    communes = synthetic_communes(5, 1, seed=4)
    communes["pop_mun"] = 100
    x = communes["x_l93"].to_numpy()
    y = communes["y_l93"].to_numpy()
    u = np.array([0, 1, 1, 2, 2, 3, 3, 4])
    v = np.array([1, 0, 2, 1, 3, 2, 4, 3])
    g = RoadGraph.from_edges(u, v, np.full(8, 600.0), x, y, model="synthetic", label="strip")
    model = RoadModel(g, communes["insee"].to_numpy(), np.arange(5), np.zeros(5))
    profiles = {
        "js": Profile(
            key="js", label="Job seekers", networks=("France Travail",),
            thresholds_min={"road": 15.0},
        )
    }  # fmt: skip
    return communes, model, profiles


def sites_at(communes, rows, *, network="France Travail"):
    c = communes.iloc[list(rows)]
    df = pd.DataFrame(
        {
            "site_id": [f"S{r}" for r in rows],
            "name": [f"Site {r}" for r in rows],
            "network": network,
            "kind": "main site",
            "x_l93": c["x_l93"].to_numpy(),
            "y_l93": c["y_l93"].to_numpy(),
            "lon": c["lon"].to_numpy(),
            "lat": c["lat"].to_numpy(),
            "provenance": "open-data:test.csv",
        }
    )
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs="EPSG:4326")


def cand_at(communes, row, *, network="France Travail", name="New"):
    c = communes.iloc[row]
    return pd.DataFrame(
        [{"candidate_id": "C1", "name": name, "network": network, "kind": "permanence",
          "x_l93": c["x_l93"], "y_l93": c["y_l93"], "lon": c["lon"], "lat": c["lat"]}]
    )  # fmt: skip


@pytest.mark.parametrize("incremental", [True, False])
def test_strip_addition_known_answer(strip, incremental):
    communes, model, profiles = strip
    res = what_if(
        model, sites_at(communes, [0]), communes, cand_at(communes, 4), profiles=profiles,
        incremental=incremental,
    )  # fmt: skip
    assert len(res.cards) == 1
    card = res.cards.iloc[0]
    assert card["demand_newly_covered"] == 200 and card["communes_newly_covered"] == 2
    assert card["demand_time_improved"] == 200  # commune 2 ties (20 = 20): not improved
    assert card["mean_gain_min"] == pytest.approx(30) and card["max_gain_min"] == 40
    assert (card["p50_before_min"], card["p50_after_min"]) == (20, 10)
    assert (card["p90_before_min"], card["p90_after_min"]) == (40, 20)
    assert card["catchment_demand"] == 200 and card["overlap_share"] == 0
    assert card["rank"] == 1 and card["times_are"] == "estimated" and card["model"] == "strip"
    ch = res.changes.sort_values("insee")
    assert ch["insee"].tolist() == communes["insee"].iloc[[3, 4]].tolist()
    assert ch["status_change"].tolist() == ["newly covered", "newly covered"]
    assert ch["after_min"].tolist() == [10, 0]


@pytest.mark.parametrize("incremental", [True, False])
def test_strip_closure_known_answer(strip, incremental):
    communes, model, profiles = strip
    res = what_if(
        model, sites_at(communes, [0, 4]), communes, remove=["S0"], profiles=profiles,
        incremental=incremental,
    )  # fmt: skip
    card = res.cards.iloc[0]
    assert card["action"] == "remove"
    assert card["demand_losing_cover"] == 200 and card["communes_losing_cover"] == 2
    # before 0, 10, 20, 10, 0 min; after 40, 30, 20, 10, 0 (commune 2 ties at 20 either way)
    assert card["demand_time_worsened"] == 200
    assert card["mean_loss_min"] == pytest.approx((40 + 20) / 2) and card["max_loss_min"] == 40
    assert (card["p50_before_min"], card["p50_after_min"]) == (10, 20)


def test_strip_overlap_and_ranking(strip):
    communes, model, profiles = strip
    cands = pd.concat(
        [cand_at(communes, 1, name="Near"), cand_at(communes, 3, name="Far")], ignore_index=True
    )
    cands["candidate_id"] = ["A", "B"]
    res = what_if(model, sites_at(communes, [0]), communes, cands, profiles=profiles)
    near = res.cards.set_index("candidate_id").loc["A"]
    far = res.cards.set_index("candidate_id").loc["B"]
    # "Near" at commune 1: becomes nearest for communes 1 (10->0) and 2 (20->10): 1 was
    # covered, 2 was not -> catchment 200, overlap 0.5; newly covered 100 (commune 2)
    assert near["catchment_demand"] == 200 and near["overlap_share"] == 0.5
    assert near["demand_newly_covered"] == 100
    # "Far" at commune 3 covers 2, 3, 4 newly
    assert far["demand_newly_covered"] == 300 and far["overlap_share"] == 0
    assert (far["rank"], near["rank"]) == (1, 2)
    assert res.ranking["candidate_id"].tolist() == ["B", "A"]
    table = res.side_by_side()
    assert table.shape[1] == 2 and "overlap_share" in table.index


def test_candidate_off_the_network(strip):
    communes, model, profiles = strip
    c = cand_at(communes, 2)
    c["x_l93"] += 60_000  # 60 km away: beyond max_snap_m
    res = what_if(model, sites_at(communes, [0]), communes, c, profiles=profiles)
    card = res.cards.iloc[0]
    assert not card["on_network"] and card["demand_newly_covered"] == 0
    assert any("too far" in n for n in res.notes)


# --------------------------------------------------------------------------- random instances
class TransitLike:
    """A non-road access model (only `.nearest`), answering like the road model."""

    mode = "transit"
    estimated = False
    label = "test transit"

    def __init__(self, road):
        self.road = road

    def nearest(self, x, y, host_ids=None):
        return self.road.nearest(x, y, host_ids=host_ids)


@pytest.mark.parametrize("seed", range(8))
def test_incremental_equals_full_recompute(seed):
    reg = synthetic_region(9, 8, per_network=2 + seed % 3, seed=seed)
    profiles = synthetic_profiles()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(reg.communes), 5, replace=False)
    nets = ["Mission Locale", "France Travail", "CIO", "Info Jeunes", "Mission Locale"]
    c = reg.communes.iloc[rows]
    cands = pd.DataFrame(
        {
            "name": [f"cand {i}" for i in range(5)],
            "network": nets,
            "x_l93": c["x_l93"].to_numpy() + rng.uniform(-800, 800, 5),
            "y_l93": c["y_l93"].to_numpy() + rng.uniform(-800, 800, 5),
        }
    )
    remove = list(rng.choice(reg.sites["site_id"], 3, replace=False))
    models = {"road": reg.model, "transit": TransitLike(reg.model)}
    a = what_if(models, reg.sites, reg.communes, cands, remove=remove, profiles=profiles)
    b = what_if(
        models, reg.sites, reg.communes, cands, remove=remove, profiles=profiles,
        incremental=False,
    )  # fmt: skip
    assert list(a.cards.columns) == list(CARD_COLUMNS)
    pd.testing.assert_frame_equal(a.cards, b.cards)
    key = ["candidate_id", "profile", "mode", "insee"]
    pd.testing.assert_frame_equal(
        a.changes.sort_values(key).reset_index(drop=True),
        b.changes.sort_values(key).reset_index(drop=True),
    )
    # the transit-like model answers by full recompute: same times as the road cards (its
    # threshold differs, so only time figures compare)
    num = ["demand_time_improved", "demand_time_worsened", "mean_gain_min", "p50_after_min",
           "p90_after_min"]  # fmt: skip
    road = a.cards[a.cards["mode"] == "road"][num].reset_index(drop=True)
    tr = a.cards[a.cards["mode"] == "transit"][num].reset_index(drop=True)
    pd.testing.assert_frame_equal(road, tr)
    assert set(a.cards.loc[a.cards["mode"] == "transit", "times_are"]) == {"measured"}
    # every candidate's network serves its profiles only
    for _, r in a.cards[a.cards["action"] == "add"].iterrows():
        assert r["network"] in profiles[r["profile"]].networks


def test_errors_name_the_valid_options():
    reg = synthetic_region(5, 4)
    session = WhatIf(reg.model, reg.sites, reg.communes, synthetic_profiles())
    with pytest.raises(UnknownNameError, match="valid profiles are: demandeurs, jeunes, tous"):
        session.evaluate(remove=[reg.sites["site_id"].iloc[0]], profiles=["nope"])
    sid = reg.sites["site_id"].iloc[0]
    with pytest.raises(ValidationError, match=r"unknown site_id 'NOPE'.*site_id column"):
        session.evaluate(remove=["NOPE"])
    with pytest.raises(ValidationError, match=f"did you mean {sid}"):
        session.evaluate(remove=[sid + "x"])
    with pytest.raises(ValidationError, match="nothing to evaluate"):
        session.evaluate()
    with pytest.raises(UnknownNameError, match="valid modes are: road"):
        session.baseline("jeunes", "transit")


def test_export_and_map_escape_user_names(tmp_path, strip):
    communes, model, profiles = strip
    c = cand_at(communes, 4, name="<script>alert(1)</script>=cmd")
    res = what_if(model, sites_at(communes, [0]), communes, c, profiles=profiles)
    files = res.export(tmp_path / "out")
    assert {p.name for p in files.values()} >= {
        "cards.csv", "changes.csv", "candidates.csv", "ranking.csv", "map.html",
        "metadata.json", "whatif.gpkg",
    }  # fmt: skip
    html = (tmp_path / "out" / "map.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "ESTIMATED" in html and "https://unpkg" not in html  # Leaflet inlined: offline
    cards = pd.read_csv(tmp_path / "out" / "cards.csv")
    assert (cards["times_are"] == "estimated").all()
    assert cards["run_provenance"].str.contains("ESTIMATED").all()
    assert cards["run_provenance"].str.contains("1 real").all()
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["times_are"] == "estimated"
    got = gpd.read_file(files["gpkg"], layer="changes")
    assert len(got) == 2 and got.crs.to_epsg() == 4326
    with pytest.raises(FileExistsError):
        res.export(tmp_path / "out")
