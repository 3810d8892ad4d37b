"""Profiles as data: the bundled TOML, demand per commune, eligibility, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import settings
from analysis.communes import load_communes
from analysis.errors import EmptyProfileError, UnknownNameError, ValidationError
from analysis.profiles import (
    PROFILES_FILE,
    Profile,
    eligible_sites,
    get_profile,
    load_profiles,
    profile_demand,
)
from analysis.sites.networks import SPRO_NETWORKS

HAS_AGES = (Path(settings.shared_data_dir) / "population_grid").is_dir()
needs_mirror = pytest.mark.skipif(not HAS_AGES, reason="no local mirror")

EXPECTED = {
    "everyone": set(SPRO_NETWORKS),
    "young_16_25": {"Mission Locale", "Info Jeunes"},
    "pupils": {"CIO", "Info Jeunes"},
    "students": {"SCUIO", "CIO", "Info Jeunes", "Campus connecté"},
    "job_seekers": {"France Travail"},
    "disabled": {"Cap Emploi", "France Travail"},
    "executives": {"APEC"},
    "private_employees": {"Avenir Actifs"},
}


@pytest.fixture(scope="module")
def communes():
    return load_communes()


@pytest.fixture(scope="module")
def profiles():
    return load_profiles()


def test_bundled_profiles(profiles):
    assert set(profiles) == set(EXPECTED)
    for key, prof in profiles.items():
        assert set(prof.networks) == EXPECTED[key], key
        assert {"road", "transit", "walk", "best"} <= set(prof.thresholds_min)
        assert all(v > 0 for v in prof.thresholds_min.values())
        assert prof.label and prof.demand_source
    assert profiles["everyone"].thresholds_min["road"] == 30
    assert profiles["everyone"].demand_status == "official"
    assert profiles["job_seekers"].estimated
    assert get_profile("pupils").label == profiles["pupils"].label
    with pytest.raises(UnknownNameError, match="young_16_25"):
        get_profile("youth")


@needs_mirror
def test_demand_known_answers(profiles, communes):
    pop = communes["pop_mun"].to_numpy(float)
    np.testing.assert_array_equal(profile_demand(profiles["everyone"], communes), pop)
    totals = {k: profile_demand(p, communes).sum() for k, p in profiles.items()}
    assert totals["everyone"] == 8_205_557
    # documented regional orders of magnitude (docs/data.md)
    assert 380_000 < totals["young_16_25"] < 430_000
    assert 700_000 < totals["pupils"] < 760_000
    assert 300_000 < totals["students"] < 340_000
    # issue 12: job seekers are the DARES end-2024 counts (01, 03, 07) and a model scaled to
    # the DREETS regional total (was 587,580 = the Q2 2023 rate on the 15-64s); disabled
    # people the DREES PCH/ACTP recipients of 2019 (was 6.6 % of the 15-64s, ~335,000)
    assert totals["job_seekers"] == pytest.approx(610_740, abs=1e-6)
    assert totals["disabled"] == pytest.approx(50_409, abs=1e-6)
    assert totals["executives"] == pytest.approx(516_000, rel=0.01)
    assert totals["private_employees"] == pytest.approx(1_993_700, rel=0.01)
    for key, d in ((k, profile_demand(p, communes)) for k, p in profiles.items()):
        assert d.shape == (len(communes),) and d.dtype == float and (d >= 0).all(), key


@needs_mirror
def test_demand_aligned_with_rows(profiles, communes):
    sub = communes.iloc[[10, 3, 4000]].reset_index(drop=True)
    full = profile_demand(profiles["young_16_25"], communes)
    part = profile_demand(profiles["young_16_25"], sub)
    np.testing.assert_allclose(part, full[[10, 3, 4000]])


def test_synthetic_profile_kwargs_work():
    p = Profile(key="x", label="X", networks=("CIO",), thresholds_min={"road": 20.0}, share=0.1)
    df = pd.DataFrame({"insee": ["01001", "01002"], "pop_mun": [100, 50]})
    np.testing.assert_allclose(profile_demand(p, df), [10.0, 5.0])
    assert p.threshold("road") == 20.0
    with pytest.raises(UnknownNameError):
        p.threshold("walk")


def test_demand_from_a_file(tmp_path):
    (tmp_path / "counts.csv").write_text("insee,seekers\n01001,12\n01002,3\n", "utf-8")
    toml = (
        '[profiles.js]\nlabel = "Job seekers"\nnetworks = ["France Travail"]\n'
        "thresholds_min = { road = 30, transit = 45, walk = 20 }\n"
        '[profiles.js.demand]\nbase = "file"\nfile = "counts.csv"\ncolumn = "seekers"\n'
        'status = "official"\n'
    )
    (tmp_path / "p.toml").write_text(toml, "utf-8")
    p = load_profiles(tmp_path / "p.toml")["js"]
    df = pd.DataFrame({"insee": ["01002", "01001"], "pop_mun": [1, 1]})
    np.testing.assert_allclose(profile_demand(p, df), [3.0, 12.0])
    # a commune without a row is refused, not counted as 0 (PROF-18); a 0 row is a 0
    df = pd.DataFrame({"insee": ["01002", "01001", "01004"], "pop_mun": [1, 1, 1]})
    with pytest.raises(ValidationError, match="1 of the 3 communes have no row"):
        profile_demand(p, df)
    (tmp_path / "counts.csv").write_text("insee,seekers\n01001,12\n01002,3\n01004,0\n", "utf-8")
    np.testing.assert_allclose(profile_demand(p, df), [3.0, 12.0, 0.0])


def test_eligible_sites_and_empty_profile(profiles):
    sites = pd.DataFrame(
        {"site_id": ["a", "b", "c"], "network": ["CIO", "Mission Locale", "France Travail"]}
    )
    assert list(eligible_sites(profiles["young_16_25"], sites)["site_id"]) == ["b"]
    assert len(eligible_sites(profiles["everyone"], sites)) == 3
    with pytest.raises(EmptyProfileError, match="Avenir Actifs"):
        eligible_sites(profiles["private_employees"], sites)
    assert eligible_sites(profiles["private_employees"], sites, allow_empty=True).empty


@pytest.mark.skipif(
    not (Path(settings.shared_data_dir) / "access_points").is_dir(), reason="no local mirror"
)
def test_real_directory_has_no_avenir_actifs(profiles):
    from analysis.sites.directory import load_bundled_directory

    real = load_bundled_directory(complete_modelled=False)
    with pytest.raises(EmptyProfileError):
        eligible_sites(profiles["private_employees"], real)
    full = load_bundled_directory()
    assert len(eligible_sites(profiles["private_employees"], full)) == 130  # rule AA-2 (issue 12)


BASE = '[profiles.p]\nlabel = "P"\nnetworks = {networks}\nthresholds_min = {thresholds}\n'
GOOD_THR = "{ road = 30, transit = 45, walk = 20 }"


def write_profiles(tmp_path, text):
    p = tmp_path / "profiles.toml"
    p.write_text(text, "utf-8")
    return p


def test_bad_unknown_network(tmp_path):
    p = write_profiles(tmp_path, BASE.format(networks='["Pole emplois"]', thresholds=GOOD_THR))
    with pytest.raises(UnknownNameError) as err:
        load_profiles(p)
    assert "France Travail" in str(err.value) and str(p) in str(err.value)


def test_bad_missing_threshold(tmp_path):
    p = write_profiles(tmp_path, BASE.format(networks='["CIO"]', thresholds="{ road = 30 }"))
    with pytest.raises(ValidationError, match="missing threshold for transit, walk"):
        load_profiles(p)


def test_bad_no_thresholds(tmp_path):
    p = write_profiles(tmp_path, '[profiles.p]\nlabel = "P"\nnetworks = ["CIO"]\n')
    with pytest.raises(ValidationError, match="thresholds_min"):
        load_profiles(p)


def test_bad_empty_networks(tmp_path):
    p = write_profiles(tmp_path, BASE.format(networks="[]", thresholds=GOOD_THR))
    with pytest.raises(ValidationError, match="non-empty list"):
        load_profiles(p)


def test_bad_negative_threshold_and_unknown_mode(tmp_path):
    thr = "{ road = -5, transit = 45, walk = 20 }"
    with pytest.raises(ValidationError, match="positive"):
        load_profiles(write_profiles(tmp_path, BASE.format(networks='["CIO"]', thresholds=thr)))
    thr = "{ road = 5, transit = 45, walk = 20, bike = 10 }"
    with pytest.raises(UnknownNameError, match="bike"):
        load_profiles(write_profiles(tmp_path, BASE.format(networks='["CIO"]', thresholds=thr)))


def test_bad_non_spro_network(tmp_path):
    p = write_profiles(tmp_path, BASE.format(networks='["France Services"]', thresholds=GOOD_THR))
    with pytest.raises(ValidationError, match="not an SPRO network"):
        load_profiles(p)


def test_bad_toml_and_no_profiles(tmp_path):
    with pytest.raises(ValidationError, match="TOML"):
        load_profiles(write_profiles(tmp_path, "[profiles.p\n"))
    with pytest.raises(ValidationError, match="no profile"):
        load_profiles(write_profiles(tmp_path, "schema = 1\n"))


def test_bad_demand(tmp_path):
    text = BASE.format(networks='["CIO"]', thresholds=GOOD_THR)
    with pytest.raises(UnknownNameError, match="demand base"):
        load_profiles(write_profiles(tmp_path, text + '[profiles.p.demand]\nbase = "pop"\n'))
    bad_band = '[profiles.p.demand]\nbase = "age_bands"\nbands = { share_99 = 1.0 }\n'
    with pytest.raises(UnknownNameError, match="age band"):
        load_profiles(write_profiles(tmp_path, text + bad_band))
    with pytest.raises(ValidationError, match="did you mean 'networks'"):
        load_profiles(write_profiles(tmp_path, text.replace("networks", "network", 1)))


def test_bundled_file_is_packaged():
    assert PROFILES_FILE.name == "profiles.toml" and PROFILES_FILE.parent.name == "analysis"
