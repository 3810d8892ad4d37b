"""The access rules (analysis.access): thresholds, covered, eligible sites, the baseline pass.

Also the two bugs the consolidation fixed: siting and caravane ignored the
``outside_network`` status (communes outside a partial OSM extract counted as uncovered
demand and as caravane targets).
"""

import numpy as np
import pandas as pd
import pytest

from analysis import access
from analysis.coverage import compute_coverage
from analysis.errors import EmptyProfileError, UnknownNameError, ValidationError
from analysis.osm.model import OsmRoadModel
from analysis.planning.caravane import plan_caravane
from analysis.planning.siting import site_permanences
from analysis.profiles import Profile
from analysis.testing import synthetic_profiles, synthetic_region


@pytest.fixture(scope="module")
def region():
    return synthetic_region(10, 8, per_network=2, seed=5)


@pytest.fixture(scope="module")
def profiles():
    return synthetic_profiles()


def partial_model(region, outside):
    """The region's road model, as an OSM model whose extract misses the ``outside`` rows."""
    m = region.model
    status = np.where(outside, "outside_network", "ok").astype(object)
    return OsmRoadModel(
        graph=m.graph,
        origin_ids=m.origin_ids,
        origin_nodes=m.origin_nodes,
        origin_offsets_s=np.where(outside, np.inf, m.origin_offsets_s),
        max_snap_m=m.max_snap_m,
        origin_status=status,
    )


# ------------------------------------------------------------------------------ thresholds
def test_threshold_of_the_profile_and_the_override():
    p = Profile(key="p", label="P", networks=("A",), thresholds_min={"road": 30.0, "transit": 60})
    assert access.threshold_min(p, "road") == 30.0
    assert access.threshold_s(p, "transit") == 3600.0
    assert access.threshold_min(p, "best") == 30.0  # best falls back to the road threshold
    assert access.threshold_s(p, "road", 12) == 720.0
    with pytest.raises(UnknownNameError, match="road"):
        access.threshold_min(p, "walk")


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "abc", None])
def test_a_threshold_must_be_a_positive_number_of_minutes(bad):
    with pytest.raises(ValidationError, match="minutes"):
        access.check_minutes(bad)


def test_covered_is_a_finite_time_within_the_threshold():
    t = np.array([0.0, 600.0, 600.0001, np.inf, np.nan])
    assert access.covered(t, 600.0).tolist() == [True, True, False, False, False]


def test_assessed_leaves_out_only_the_communes_outside_the_data():
    st = np.array(["ok", "unreachable", "outside_network", "no_service", "beyond_walk"], object)
    assert access.assessed(st).tolist() == [True, True, False, True, True]


# ---------------------------------------------------------------------------- eligibility
def test_eligible_sites_match_a_naive_filter(region, profiles):
    sites = region.sites
    for prof in profiles.values():
        want = sites[sites["network"].isin(prof.networks)].reset_index(drop=True)
        got = access.eligible(prof, sites)
        pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want))


def test_eligible_follows_a_new_table_of_the_same_length(region, profiles):
    prof = profiles["demandeurs"]
    sites = region.sites
    first = access.eligible(prof, sites)
    other = sites.copy()
    other["network"] = "Mission Locale"
    assert len(access.eligible(prof, other, allow_empty=True)) == 0
    assert len(access.eligible(prof, sites)) == len(first)


def test_no_eligible_site_is_an_error_naming_the_networks_present(region):
    p = Profile(key="x", label="X", networks=("Nowhere",), thresholds_min={"road": 20.0})
    with pytest.raises(EmptyProfileError, match="networks present"):
        access.eligible(p, region.sites)
    assert len(access.eligible(p, region.sites, allow_empty=True)) == 0


# ---------------------------------------------------------------------------- the baseline
def test_baseline_pass_against_a_naive_reference(region, profiles):
    prof = profiles["jeunes"]
    base = access.baseline_pass(region.model, region.sites, region.communes, prof)
    elig = region.sites[region.sites["network"].isin(prof.networks)]
    naive = np.full(len(region.communes), np.inf)
    for _, s in elig.iterrows():
        t = region.model.nearest(np.array([s["x_l93"]]), np.array([s["y_l93"]])).time_s
        naive = np.minimum(naive, t)
        # The host-commune rule: the site's own commune at most at its first-mile time.
        own = np.flatnonzero(region.communes["insee"].astype(str).to_numpy() == str(s["insee"]))
        naive[own] = np.minimum(naive[own], np.asarray(region.model.origin_offsets_s)[own])
    np.testing.assert_allclose(base.time_s, naive)
    assert base.threshold_s == 20 * 60
    np.testing.assert_array_equal(base.covered, naive <= 1200)
    np.testing.assert_allclose(base.demand, 0.1 * region.communes["pop_mun"].to_numpy(float))


def test_baseline_without_sites_gives_no_time(region):
    p = Profile(key="x", label="X", networks=("Nowhere",), thresholds_min={"road": 20.0})
    base = access.baseline_pass(region.model, region.sites, region.communes, p, allow_empty=True)
    assert np.isinf(base.time_s).all() and not base.covered.any()
    assert base.underserved.all()


def test_coverage_and_baseline_agree(region, profiles):
    prof = profiles["tous"]
    res = compute_coverage(region.model, region.sites, region.communes, prof, threshold_min=9)
    base = access.baseline_pass(region.model, region.sites, region.communes, prof, threshold_min=9)
    np.testing.assert_array_equal(res.communes["covered"].to_numpy(bool), base.covered)
    assert res.headline()["share_beyond"] == pytest.approx(base.share_beyond())


# ------------------------------------------------------- the outside_network bug (fixed)
def outside_rows(region):
    """The easternmost column of communes: outside the (partial) extract."""
    x = region.communes["x_l93"].to_numpy(float)
    return x >= np.sort(np.unique(np.round(x)))[-2] - 1


def test_siting_ignores_communes_outside_the_extract(region, profiles):
    outside = outside_rows(region)
    model = partial_model(region, outside)
    res = site_permanences(
        model, region.sites, region.communes, network="France Travail", k=2,
        profiles=profiles, exact=False,
    )  # fmt: skip
    demand = 0.07 * region.communes["pop_mun"].to_numpy(float)
    assert res.summary["communes_unassessed"] == int(outside.sum())
    assert res.summary["demand_total"] == pytest.approx(demand[~outside].sum())
    before = res.communes["covered_before"].to_numpy(bool)
    assert res.summary["demand_uncovered_before"] == pytest.approx(demand[~outside & ~before].sum())
    assert res.communes["newly_covered_by"][outside].isna().all()


def test_caravane_does_not_target_communes_outside_the_extract(region, profiles):
    outside = outside_rows(region)
    model = partial_model(region, outside)
    res = plan_caravane(
        model, region.sites, region.communes, base=region.communes["insee"].iloc[0],
        days=1, stop_min=30, max_drive_min=120, profile="jeunes", profiles=profiles,
        reach_min=12, underserved_min=5,
    )  # fmt: skip
    under = res.communes["underserved"].to_numpy(bool)
    assert under[~outside].any()
    assert not under[outside].any()


def test_degenerate_demand_of_a_profile_built_in_code_is_refused():
    """A share of 0 (or negative) in a Profile built in code: an error naming the profile.

    ``load_profiles`` refuses such values in a file; this is the same rule for profiles
    made in code, in the one home of the demand (was: NaN shares with no error).
    """
    profile_demand = access.profile_demand
    region = synthetic_region(4, 3)
    zero = Profile(key="zero", label="Zero", networks=("Mission Locale",), share=0.0)
    with pytest.raises(ValidationError, match="'zero': share must be above 0"):
        profile_demand(zero, region.communes)
    negative = Profile(key="neg", label="Neg", networks=("Mission Locale",), share=-0.5)
    with pytest.raises(ValidationError, match="'neg': share must be above 0"):
        profile_demand(negative, region.communes)
    ok = Profile(key="ok", label="Ok", networks=("Mission Locale",), share=0.5)
    np.testing.assert_allclose(
        profile_demand(ok, region.communes), 0.5 * region.communes["pop_mun"].to_numpy(float)
    )
