"""Coverage on a hand-built strip of communes with known answers."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from analysis.coverage import compute_coverage
from analysis.errors import EmptyProfileError, UnknownNameError, ValidationError
from analysis.graph import RoadGraph
from analysis.profiles import Profile
from analysis.road_model import RoadModel

KM = 1000.0


def strip(n=8):
    """n square communes of 1 km in a row (Lambert-93), linked left-right, 60 s per hop."""
    xs = np.arange(n) * KM + 800_000
    ys = np.full(n, 6_500_000.0)
    geoms = [box(x - 500, y - 500, x + 500, y + 500) for x, y in zip(xs, ys, strict=True)]
    communes = gpd.GeoDataFrame(
        {
            "insee": [f"69{i:03d}" for i in range(n)],
            "nom": [f"C{i}" for i in range(n)],
            "dep": ["69"] * (n // 2) + ["42"] * (n - n // 2),
            "epci": ["e1"] * n,
            "epci_nom": ["EPCI 1"] * n,
            "pop_mun": [100 * (i + 1) for i in range(n)],
            "x_l93": xs,
            "y_l93": ys,
            "urban_class": ["urban centre"] + ["rural"] * (n - 1),
        },
        geometry=geoms,
        crs="EPSG:2154",
    ).to_crs("EPSG:4326")
    u = np.concatenate([np.arange(n - 1), np.arange(1, n)])
    v = np.concatenate([np.arange(1, n), np.arange(n - 1)])
    g = RoadGraph.from_edges(u, v, np.full(len(u), 60.0), xs, ys, model="estimated")
    model = RoadModel(
        graph=g,
        origin_ids=communes["insee"].to_numpy(),
        origin_nodes=np.arange(n),
        origin_offsets_s=np.full(n, 30.0),
        snap_speed_kmh=36.0,
        snap_circuity=1.0,
    )
    return communes, model


def sites_at(x, networks, provenance=None):
    x = np.asarray(x, dtype=float)
    return pd.DataFrame(
        {
            "site_id": [f"s{i}" for i in range(len(x))],
            "name": [f"Site {i}" for i in range(len(x))],
            "network": networks,
            "provenance": provenance or ["open-data:test"] * len(x),
            "x_l93": x,
            "y_l93": np.full(len(x), 6_500_000.0),
        }
    )


PROFILE = Profile(
    key="young", label="Young", networks=("Mission Locale",), thresholds_min={"road": 2.6}
)


def test_times_sites_and_flags_on_the_strip():
    communes, model = strip()
    # A Mission Locale on commune 0's node (offset 0) and one 100 m from node 7 (10 s at 36 km/h)
    sites = sites_at([800_000, 807_100], ["Mission Locale", "Mission Locale"])
    res = compute_coverage(model, sites, communes, PROFILE)
    c = res.communes
    # time = 30 s access + 60 s per hop to the nearest site (+10 s snap for site 1)
    want_s = np.array([30, 90, 150, 210, 220, 160, 100, 40], dtype=float)
    assert np.allclose(c["time_min"].to_numpy() * 60, want_s)
    assert c["nearest_site_id"].tolist() == ["s0"] * 4 + ["s1"] * 4
    # threshold 2.6 min = 156 s
    assert c["covered"].tolist() == [True, True, True, False, False, False, True, True]
    assert c["cluster_id"].tolist()[3:6] == [0, 0, 0]
    assert (c["cluster_id"].to_numpy()[[0, 1, 2, 6, 7]] == -1).all()
    assert (c["times_are"] == "estimated").all()


def test_summary_and_clusters():
    communes, model = strip()
    sites = sites_at([800_000, 807_100], ["Mission Locale", "Mission Locale"])
    res = compute_coverage(model, sites, communes, PROFILE)
    pop = np.array([100 * (i + 1) for i in range(8)], dtype=float)
    region = res.summary("region").iloc[0]
    assert region["demand"] == pop.sum()
    assert region["demand_beyond"] == pop[[3, 4, 5]].sum()
    assert region["share_beyond"] == pytest.approx(pop[[3, 4, 5]].sum() / pop.sum())
    # demand-weighted median: sorted times 30,40,90,100,150,160,210,220 with weights
    # 100,800,200,700,300,600,400,500 (total 3600): cumulative reaches 1800 at 100 s
    assert region["p50_min"] == pytest.approx(100 / 60)
    by_dep = res.summary("dep").set_index("group")
    assert by_dep.loc["69", "communes_beyond"] == 1 and by_dep.loc["42", "communes_beyond"] == 2
    clusters = res.clusters()
    assert len(clusters) == 1
    cl = clusters.iloc[0]
    assert cl["communes"] == 3 and cl["population"] == pop[[3, 4, 5]].sum()
    assert cl["rural"] and cl["name"] == "around C5 (42)"
    assert cl["max_time_min"] == pytest.approx(220 / 60)


def test_threshold_override_and_other_networks_ignored():
    communes, model = strip()
    sites = sites_at([800_000, 807_000], ["Mission Locale", "CIO"])
    res = compute_coverage(model, sites, communes, PROFILE, threshold_min=10)
    assert res.communes["covered"].all()
    assert (res.communes["nearest_site_id"] == "s0").all()
    assert res.sites["site_id"].tolist() == ["s0"]


def test_rural_clusters_come_first():
    communes, model = strip(12)
    communes.loc[9:11, "urban_class"] = "urban centre"
    communes.loc[9:11, "pop_mun"] = 10_000
    # site in the middle: both ends beyond 2.6 min
    sites = sites_at([805_000], ["Mission Locale"])
    res = compute_coverage(model, sites, communes, PROFILE)
    cl = res.clusters()
    assert len(cl) == 2
    assert cl["rural"].tolist() == [True, False]  # the urban cluster has more demand


def test_unreachable_communes_are_beyond_with_a_status():
    communes, model = strip(4)
    # cut the strip: no edge between 1 and 2
    g = RoadGraph.from_edges(
        [0, 1, 2, 3], [1, 0, 3, 2], [60.0] * 4, model.graph.x, model.graph.y, model="estimated"
    )
    model = RoadModel(
        graph=g,
        origin_ids=model.origin_ids,
        origin_nodes=model.origin_nodes,
        origin_offsets_s=model.origin_offsets_s,
    )
    res = compute_coverage(model, sites_at([800_000], ["Mission Locale"]), communes, PROFILE)
    c = res.communes
    assert c["status"].tolist() == ["ok", "ok", "unreachable", "unreachable"]
    assert np.isinf(c["time_min"].to_numpy()[2:]).all()
    assert c["nearest_site_id"].iloc[2:].isna().all()
    assert not c["covered"].to_numpy()[2:].any()


def test_errors_are_clear():
    communes, model = strip()
    with pytest.raises(EmptyProfileError, match="no eligible site"):
        compute_coverage(model, sites_at([800_000], ["CIO"]), communes, PROFILE)
    with pytest.raises(ValidationError, match="positive number"):
        compute_coverage(
            model, sites_at([800_000], ["Mission Locale"]), communes, PROFILE, threshold_min=-5
        )
    with pytest.raises(UnknownNameError, match="road"):
        compute_coverage(
            model,
            sites_at([800_000], ["Mission Locale"]),
            communes,
            Profile(key="p", label="p", networks=("Mission Locale",), thresholds_min={}),
        )
    with pytest.raises(ValidationError, match="other communes"):
        compute_coverage(model, sites_at([800_000], ["Mission Locale"]), communes.iloc[:3], PROFILE)
    with pytest.raises(UnknownNameError, match="density, dep, epci, frr, region, urban_class"):
        compute_coverage(model, sites_at([800_000], ["Mission Locale"]), communes, PROFILE).summary(
            "canton"
        )


def test_provenance_says_modelled_and_estimated():
    communes, model = strip()
    sites = sites_at([800_000, 807_100], ["Mission Locale"] * 2, ["open-data:x", "modelled"])
    res = compute_coverage(model, sites, communes, PROFILE)
    assert "estimated" in res.provenance
    assert "1 real (open data)" in res.provenance and "1 modelled" in res.provenance
    assert (res.communes.loc[7:, "nearest_provenance"] == "modelled").all()


class _PartialModel:
    """A model that cannot assess the last two communes (outside its data)."""

    mode = "road"
    estimated = False
    label = "partial OSM extract"

    def __init__(self, inner):
        self.inner = inner
        self.origin_ids = inner.origin_ids

    def nearest(self, x, y, host_ids=None):
        ans = self.inner.nearest(x, y)
        t, status = ans.time_s.copy(), ans.status.copy()
        t[-2:] = np.inf
        status[-2:] = "outside_network"
        return type(ans)(time_s=t, site=np.where(np.isfinite(t), ans.site, -1), status=status)


def test_communes_outside_the_model_are_left_out_not_under_served():
    communes, model = strip()
    sites = sites_at([800_000], ["Mission Locale"])
    res = compute_coverage(_PartialModel(model), sites, communes, PROFILE)
    c = res.communes
    assert c["assessed"].tolist() == [True] * 6 + [False] * 2
    assert (c["cluster_id"].to_numpy()[6:] == -1).all()
    region = res.summary("region").iloc[0]
    pop = np.array([100 * (i + 1) for i in range(8)], dtype=float)
    assert region["demand"] == pop[:6].sum()
    assert region["communes_unassessed"] == 2
    # beyond 156 s among the assessed: communes 3, 4, 5 (210, 270, 330 s)
    assert region["demand_beyond"] == pop[3:6].sum()
    assert (c["times_are"] == "measured").all()


def test_headline_numbers():
    communes, model = strip()
    res = compute_coverage(
        model, sites_at([800_000, 807_100], ["Mission Locale"] * 2), communes, PROFILE
    )
    h = res.headline()
    pop = np.array([100 * (i + 1) for i in range(8)], dtype=float)
    assert h["share_beyond"] == pytest.approx(pop[3:6].sum() / pop.sum())
    assert h["communes_beyond"] == 3 and h["p50_min"] == pytest.approx(100 / 60)
