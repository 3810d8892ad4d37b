"""Permanence siting on synthetic regions: cost matrices, picks, errors, exports."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from analysis.errors import UnknownNameError, ValidationError
from analysis.planning.siting import candidate_hosts, cost_matrix, site_permanences
from analysis.testing import synthetic_profiles, synthetic_region


@pytest.fixture(scope="module")
def region():
    return synthetic_region(10, 9, per_network=2, seed=3)


def dense(m):
    out = np.full(m.shape, np.inf)
    coo = m.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


@pytest.mark.parametrize("method", ["candidates", "origins", "auto"])
def test_cost_matrix_equals_one_nearest_per_candidate(region, method):
    rng = np.random.default_rng(1)
    c = region.communes
    idx = rng.choice(len(c), 12, replace=False)
    cx = c["x_l93"].to_numpy()[idx] + rng.uniform(-500, 500, 12)
    cy = c["y_l93"].to_numpy()[idx] + rng.uniform(-500, 500, 12)
    origins = np.sort(rng.choice(len(c), 40, replace=False))
    limit = 900.0
    cm = cost_matrix(region.model, cx, cy, limit_s=limit, origins=origins, method=method)
    ref = np.full((12, 40), np.inf)
    for j in range(12):
        t = region.model.nearest(cx[j : j + 1], cy[j : j + 1]).time_s[origins]
        ref[j] = np.where(t <= limit, t, np.inf)
    np.testing.assert_allclose(dense(cm.times_s), ref, rtol=1e-12)
    assert cm.method in ("candidates", "origins")


def test_cost_matrix_for_a_model_without_a_graph(region):
    class Other:
        mode = "transit"
        estimated = False
        label = "other"
        origin_ids = region.model.origin_ids

        def nearest(self, x, y, host_ids=None):
            return region.model.nearest(x, y)

    c = region.communes
    cx, cy = c["x_l93"].to_numpy()[:3], c["y_l93"].to_numpy()[:3]
    a = cost_matrix(Other(), cx, cy, limit_s=1200.0)
    b = cost_matrix(region.model, cx, cy, limit_s=1200.0)
    assert a.method == "nearest"
    np.testing.assert_allclose(dense(a.times_s), dense(b.times_s))


@pytest.mark.parametrize("network", ["France Travail", "Mission Locale"])
def test_picks_cover_what_they_claim(region, network):
    profiles = synthetic_profiles()
    res = site_permanences(
        region.model, region.sites, region.communes, network=network, k=3,
        profiles=profiles, hosts=("town_halls",),
    )  # fmt: skip
    prof = profiles[res.profile_key]
    assert network in prof.networks
    # recompute coverage with the picks added as sites: the uncovered demand drops by the
    # greedy objective, and the marginal gains add up
    elig = region.sites[region.sites["network"].isin(prof.networks)]
    demand = region.communes["pop_mun"].to_numpy(float) * prof.share
    thr = 60 * prof.thresholds_min["road"]
    before = region.model.nearest(elig["x_l93"].to_numpy(), elig["y_l93"].to_numpy()).time_s
    picks = res.picks
    c = region.communes.set_index("insee").loc[picks["insee"]]
    xs = np.concatenate([elig["x_l93"].to_numpy(), c["x_l93"].to_numpy()])
    ys = np.concatenate([elig["y_l93"].to_numpy(), c["y_l93"].to_numpy()])
    after = region.model.nearest(xs, ys).time_s
    gained = demand[(after <= thr) & (before > thr)].sum()
    assert gained == pytest.approx(res.summary["greedy_objective"])
    assert picks["marginal_gain"].sum() == pytest.approx(gained)
    assert list(picks["marginal_gain"]) == sorted(picks["marginal_gain"], reverse=True)
    assert res.summary["demand_uncovered_after"] == pytest.approx(demand[after > thr].sum())
    # the exact program ran on this small instance and is at least as good
    assert res.summary["exact_status"] == "Optimal"
    assert res.summary["exact_objective"] >= res.summary["greedy_objective"] - 1e-6
    assert 0 <= res.summary["greedy_gap"] < 1
    newly = res.communes[res.communes["newly_covered_by"].notna()]
    assert newly["demand"].sum() == pytest.approx(gained)
    assert (res.picks["times_are"] == "estimated").all()


def test_fewer_useful_picks_than_k_is_reported(region):
    res = site_permanences(
        region.model, region.sites, region.communes, network="CIO", k=60,
        profiles=synthetic_profiles(), profile="tous", hosts=("town_halls",), exact=False,
    )  # fmt: skip
    assert len(res.picks) < 60
    assert any("add coverage" in n for n in res.notes)
    assert (res.picks["marginal_gain"] > 0).all()


def test_errors(region):
    kw = {"profiles": synthetic_profiles(), "hosts": ("town_halls",)}
    args = (region.model, region.sites, region.communes)
    with pytest.raises(ValidationError, match="larger than the number of candidate"):
        site_permanences(*args, network="CIO", k=len(region.communes) + 1, **kw)
    with pytest.raises(UnknownNameError, match=r"valid networks are: .*Mission Locale"):
        site_permanences(*args, network="Missions Perdues", k=2, **kw)
    with pytest.raises(UnknownNameError, match="valid profiles are"):
        site_permanences(*args, network="CIO", k=2, profile="nope", **kw)
    with pytest.raises(UnknownNameError, match="host kind"):
        site_permanences(*args, network="CIO", k=2, profiles=kw["profiles"], hosts=("castles",))
    with pytest.raises(ValidationError, match="positive whole"):
        site_permanences(*args, network="CIO", k=0, **kw)
    with pytest.raises(ValidationError, match="no profile is served"):
        site_permanences(*args, network="APEC", k=1, **kw)


def test_hosts_and_export(region, tmp_path):
    fs = region.sites.iloc[:2].assign(network="France Services", site_id=["F1", "F2"])
    hosts = candidate_hosts(
        region.communes, region.sites, network="CIO", france_services=fs,
        hosts=["town_halls", "france_services", "spro_sites"],
    )  # fmt: skip
    assert set(hosts["host"].str.split(" ").str[0]) == {"town", "France", "SPRO"}
    assert not hosts["host"].str.contains(r"\(CIO\)").any()  # own network excluded
    res = site_permanences(
        region.model, region.sites, region.communes, network="CIO", k=2,
        profiles=synthetic_profiles(), france_services=fs,
    )  # fmt: skip
    files = res.export(tmp_path / "s")
    assert files["map_html"].exists() and files["gpkg"].exists()
    assert len(gpd.read_file(files["gpkg"], layer="picks")) == len(res.picks)
    picks = pd.read_csv(files["picks_csv"])
    assert (picks["times_are"] == "estimated").all()
    assert picks["run_provenance"].str.contains("ESTIMATED").all()
    summary = pd.read_csv(files["summary_csv"])
    assert summary["k"].iloc[0] == 2


def test_greedy_gap_is_never_negative():
    from analysis.planning.siting import greedy_gap

    assert greedy_gap(16332.0, 16332.0 - 1e-7) == 0.0  # solver tolerance: "-0.00 %" before
    assert greedy_gap(90.0, 100.0) == pytest.approx(0.1)
    assert greedy_gap(0.0, 0.0) == 0.0


def test_colleges_are_candidate_hosts():
    from analysis.communes import load_communes
    from analysis.inputs import load_sites
    from analysis.planning.siting import candidate_hosts

    hosts = candidate_hosts(load_communes(), load_sites(), network="CIO", hosts=["colleges"])
    assert len(hosts) == 884  # the 894 collèges less the 10 without coordinates
    assert set(hosts["host"]) == {"collège"} and hosts["candidate_id"].str.startswith("CL-").all()
    assert hosts["provenance"].eq("open-data:colleges_aura_geoloc_2024.csv").all()
