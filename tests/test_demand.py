"""Real demand (issue 12 item 4): DARES job seekers, DREES PCH/ACTP recipients.

Known answers come from the mirror's files read here with plain pandas (not through the
library), from hand computations, and from a naive re-implementation of the rate model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import demand, settings
from analysis.cli import main
from analysis.communes import load_communes
from analysis.errors import ValidationError
from analysis.profiles import get_profile, profile_demand, profile_demand_status

MIRROR = Path(settings.shared_data_dir)
HAS_MIRROR = (MIRROR / "demand").is_dir() and (MIRROR / "territory").is_dir()
pytestmark = pytest.mark.skipif(not HAS_MIRROR, reason="needs the local data mirror")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


@pytest.fixture(scope="module")
def communes():
    return load_communes()


@pytest.fixture(scope="module")
def dares():
    """The DARES file as it is, read without the library."""
    df = pd.read_csv(MIRROR / "demand" / demand.DARES_FILE, dtype={"insee": str, "dep": str})
    return df.set_index("insee")["nombre_de_demandeurs_d_emploi"].astype(float)


@pytest.fixture(scope="module")
def report():
    return demand.holdout_report()


# --------------------------------------------------------------------------- job seekers
def test_official_communes_are_the_dares_counts(communes, dares):
    prof = get_profile("job_seekers")
    d = pd.Series(profile_demand(prof, communes), index=communes["insee"].to_numpy())
    status = pd.Series(profile_demand_status(prof, communes), index=d.index)
    three = communes["dep"].isin(["01", "03", "07"]).to_numpy()
    assert three.sum() == len(dares) == 1043
    assert set(status[three]) == {"official"} and set(status[~three]) == {"estimated"}
    np.testing.assert_array_equal(d[three].to_numpy(), dares.reindex(d.index[three]).to_numpy())
    by_dep = d.groupby(communes["dep"].to_numpy()).sum()
    # the facts file's department totals (sums of the DARES counts, rounded to 5 each)
    assert by_dep["01"] == 44_595 and by_dep["03"] == 26_460 and by_dep["07"] == 29_385
    assert (d >= 0).all() and np.isfinite(d).all()


def test_totals_equal_the_real_totals_where_they_exist(communes):
    facts = pd.read_csv(MIRROR / "demand" / demand.FACTS_FILE, dtype={"dep": str})
    real = facts[(facts["periode"] == "2024-T4") & (facts["categorie"] == "ABC")]
    real = real.set_index("dep")["nombre"].astype(float)
    # which departments have a 2024 total: Ain, Allier, Ardèche, and the region
    assert set(real.index) == {"01", "03", "07", "84"}
    assert demand.load_job_seeker_totals() == real.to_dict()
    d = profile_demand(get_profile("job_seekers"), communes)
    by_dep = pd.Series(d).groupby(communes["dep"].to_numpy()).sum()
    for dep in ("01", "03", "07"):
        assert by_dep[dep] == pytest.approx(real[dep], abs=1e-6)
    assert d.sum() == pytest.approx(610_740, abs=1e-6)
    # the nine departments without a total share the regional remainder, by the model
    est = demand.job_seeker_estimate()
    assert est.controls == {"rest of region": 610_740 - 44_595 - 26_460 - 29_385}
    rest = ~communes["dep"].isin(["01", "03", "07"]).to_numpy()
    model = est.communes["model"].reindex(communes["insee"]).to_numpy()
    np.testing.assert_allclose(d[rest], model[rest] * est.scale["rest of region"], rtol=1e-12)
    assert 0.95 < est.scale["rest of region"] < 1.05  # the model alone is close already


def test_a_department_with_its_own_total_is_scaled_to_it(monkeypatch):
    """Where an estimated department has a real total, it is met; the rest share the remainder.

    The mirror has none (only 01, 03, 07 and the region): a hypothetical Cantal total of
    7,237 (its 2019 figure carried forward by Allier's 2019 → 2024 change) exercises the rule.
    """
    real = demand.load_job_seeker_totals()
    monkeypatch.setattr(demand, "load_job_seeker_totals", lambda **_: {**real, "15": 7_237.0})
    est = demand._estimate_cached.__wrapped__(demand._root(None), ())
    by_dep = est.communes.groupby("dep")["job_seekers"].sum()
    assert by_dep["15"] == pytest.approx(7_237, abs=1e-6)
    assert by_dep.sum() == pytest.approx(610_740, abs=1e-6)
    assert est.controls == {"15": 7_237.0, "rest of region": 510_300.0 - 7_237.0}
    cantal = est.communes["dep"] == "15"
    np.testing.assert_allclose(est.communes.loc[cantal, "job_seekers"],
                               est.communes.loc[cantal, "model"] * est.scale["15"])  # fmt: skip


def test_rate_model_by_hand():
    # three communes, m = 100: overall 40/500 = 0.08; margins aav 11: (10+8)/200 = 0.09,
    # aav 20: (30+8)/500 = 0.076; density 1: (10+8)/300 = 0.06, density 6: (30+8)/400 = 0.095
    model = demand.fit_rate_model([10, 0, 30], [100, 100, 300], [11, 20, 20], [1, 1, 6],
                                  prior_pop=100)  # fmt: skip
    assert model.overall == pytest.approx(0.08)
    assert model.aav == pytest.approx({11: 0.09, 20: 0.076})
    assert model.density == pytest.approx({1: 0.06, 6: 0.095})
    # cell (11, 1): prior 0.09 × 0.06 / 0.08 = 0.0675 → (10 + 6.75) / 200 = 0.08375
    # cell (20, 1): prior 0.057 → 5.7 / 200; cell (20, 6): prior 0.09025 → 39.025 / 400
    assert model.cells == pytest.approx({(11, 1): 0.08375, (20, 1): 0.0285, (20, 6): 0.0975625})
    # an unseen cell takes the product of its margins: 0.09 × 0.095 / 0.08
    np.testing.assert_allclose(model.rate([11, 30], [6, 6]), [0.106875, 0.095 * 0.08 / 0.08])
    np.testing.assert_allclose(model.predict([1000], [11], [1]), [83.75])


def _naive_fit(rows: list[tuple[float, float, int, int]], m: float):
    """The rate model written out with loops and dicts (reference for the library)."""
    c_all = sum(r[0] for r in rows)
    p_all = sum(r[1] for r in rows)
    r0 = c_all / p_all
    sums: dict[tuple, list[float]] = {}
    for c, p, a, d in rows:
        for key in (("a", a), ("d", d), ("ad", a, d)):
            acc = sums.setdefault(key, [0.0, 0.0])
            acc[0] += c
            acc[1] += p

    def margin(key, default):
        if key not in sums:
            return default
        c, p = sums[key]
        return (c + m * r0) / (p + m)

    def rate(a, d):
        prior = margin(("a", a), r0) * margin(("d", d), r0) / r0
        if ("ad", a, d) not in sums:
            return prior
        c, p = sums[("ad", a, d)]
        return (c + m * prior) / (p + m)

    return rate


def _table():
    t = demand._region_table(MIRROR)
    return t[t["job_seekers"].notna()]


def test_held_out_errors_recomputed_naively(report):
    train = _table()
    rows = {i: (r["job_seekers"], r["pop"], int(r["aav"]), int(r["density7"]))
            for i, r in train.iterrows()}  # fmt: skip
    # leave one department out, with the pseudo-population the library chose inside the two
    for entry in report["by_department"]:
        dep = entry["dep"]
        fit = [rows[i] for i in train.index if train.at[i, "dep"] != dep]
        test = [rows[i] for i in train.index if train.at[i, "dep"] == dep]
        rate = _naive_fit(fit, entry["prior_pop"])
        y = np.array([r[0] for r in test])
        pred = np.array([r[1] * rate(r[2], r[3]) for r in test])
        scaled = pred * y.sum() / pred.sum()
        assert entry["real_total"] == y.sum()
        assert entry["model_total"] == pytest.approx(pred.sum(), rel=1e-9)
        assert entry["model"]["median_abs_error"] == pytest.approx(
            np.median(np.abs(pred - y)), rel=1e-9
        )
        assert entry["scaled"]["median_abs_error"] == pytest.approx(
            np.median(np.abs(scaled - y)), rel=1e-9
        )
        assert entry["scaled"]["abs_error_share"] == pytest.approx(
            np.abs(scaled - y).sum() / y.sum(), rel=1e-9
        )
        prop = np.array([r[1] for r in test]) * y.sum() / sum(r[1] for r in test)
        assert entry["proportional"]["median_abs_error"] == pytest.approx(
            np.median(np.abs(prop - y)), rel=1e-9
        )
    # 10-fold by commune
    folds = demand.fold_ids(train.index)
    assert sorted(np.bincount(folds).tolist()) == [104] * 7 + [105] * 3
    pred = np.empty(len(train))
    codes = list(train.index)
    for k in range(demand.N_FOLDS):
        rate = _naive_fit([rows[c] for c, f in zip(codes, folds, strict=True) if f != k],
                          report["prior_pop"])  # fmt: skip
        for j, (c, f) in enumerate(zip(codes, folds, strict=True)):
            if f == k:
                pred[j] = rows[c][1] * rate(rows[c][2], rows[c][3])
    y = train["job_seekers"].to_numpy(float)
    assert report["kfold"]["median_abs_error"] == pytest.approx(
        np.median(np.abs(pred - y)), rel=1e-9
    )
    assert report["kfold"]["abs_error_share"] == pytest.approx(
        np.abs(pred - y).sum() / y.sum(), rel=1e-9
    )


def test_the_pseudo_population_is_the_cross_validated_best(report):
    train = _table()
    folds = demand.fold_ids(train.index)
    y = train["job_seekers"].to_numpy(float)
    err = {m: np.abs(demand._cv_predictions(train, m, folds) - y).sum()
           for m in demand.PRIOR_POP_GRID}  # fmt: skip
    assert report["prior_pop"] == min(err, key=err.get)
    # the optimum is inside the grid (not its edge), and shrinkage beats both extremes
    assert demand.PRIOR_POP_GRID[0] < report["prior_pop"] < demand.PRIOR_POP_GRID[-1]
    flat = y.sum() / train["pop"].sum() * train["pop"].to_numpy()  # one rate for everyone
    assert err[report["prior_pop"]] < np.abs(flat - y).sum()


#: The held-out figures documented in docs/data.md ("Demand"), checked against the library.
DOCUMENTED = {
    ("kfold", "median_abs_error"): 7.56,
    ("kfold", "abs_error_share"): 0.197,
    ("pooled_lodo", "model", "median_abs_error"): 9.54,
    ("pooled_lodo", "scaled", "median_abs_error"): 7.02,
    ("pooled_lodo", "scaled", "abs_error_share"): 0.181,
}
DOCUMENTED_BY_DEP = {  # dep: (model total error, scaled median abs error, proportional's)
    "01": (0.256, 8.53, 11.57),
    "03": (-0.028, 5.34, 6.67),
    "07": (-0.238, 8.21, 7.94),
}


def _get(d, path):
    for k in path:
        d = d[k]
    return d


def test_documented_held_out_error_is_the_librarys(report):
    text = DOCS.read_text(encoding="utf-8")
    for path, value in DOCUMENTED.items():
        assert _get(report, path) == pytest.approx(value, abs=0.006), path
    for entry in report["by_department"]:
        total, scaled, prop = DOCUMENTED_BY_DEP[entry["dep"]]
        assert entry["total_error"] == pytest.approx(total, abs=0.0006)
        assert entry["scaled"]["median_abs_error"] == pytest.approx(scaled, abs=0.006)
        assert entry["proportional"]["median_abs_error"] == pytest.approx(prop, abs=0.006)
    # the same figures are the ones written in docs/data.md
    section = text[text.index("### 3.4 Demand") :]
    for figure in ("7.56", "19.7 %", "9.54", "7.02", "18.1 %", "+25.6 %", "−2.8 %", "−23.8 %",
                   "8.53", "5.34", "8.21", "11.57", "6.67", "7.94"):  # fmt: skip
        assert figure in section, figure
    assert re.search(r"pseudo-population[^.]*100,000", section)


# --------------------------------------------------------------------------- disability
def test_disability_spread_sums_to_each_department(communes):
    raw = pd.read_csv(MIRROR / "demand" / demand.PCH_FILE, dtype={"dep": str})
    raw = raw[raw["dep"].str.len() == 2].copy()
    raw = raw[raw["dep"] != "FR"]
    latest = raw.sort_values("annee").groupby("dep").tail(1).set_index("dep")
    deps = latest.drop(index="84")
    assert set(deps.index) == set(demand.DEPARTMENTS) and set(deps["annee"]) == {2019}
    assert deps["total_pch_actp"].sum() == latest.at["84", "total_pch_actp"] == 50_409
    prof = get_profile("disabled")
    d = pd.Series(profile_demand(prof, communes)).groupby(communes["dep"].to_numpy()).sum()
    for dep, total in deps["total_pch_actp"].items():
        assert d[dep] == pytest.approx(total, abs=1e-6), dep
    assert set(profile_demand_status(prof, communes)) == {"estimated"}
    assert prof.demand_status == "estimated" and "PCH" in prof.demand_source


def test_disability_spread_rule_by_hand(communes):
    """Cantal publishes its split (40 under 20, 612 aged 20-59, 351 aged 60+)."""
    ages = pd.read_csv(MIRROR / "population_grid" / "communes_84_age_shares_filosofi2021.csv",
                       dtype={"insee": str}).set_index("insee")  # fmt: skip
    cantal = communes[communes["dep"] == "15"].set_index("insee")
    a = ages.reindex(cantal.index)
    pop = cantal["pop_mun"].astype(float)
    young = pop * (a.share_0_3 + a.share_4_5 + a.share_6_10 + a.share_11_17_shrunk
                   + a.share_18_24_shrunk * 2 / 7)  # fmt: skip
    mid = pop * (a.share_18_24_shrunk * 5 / 7 + a.share_25_39 + a.share_40_54
                 + a.share_55_64 / 2)  # fmt: skip
    old = pop * (a.share_55_64 / 2 + a.share_65_79 + a.share_80p)
    want = 40 * young / young.sum() + 612 * mid / mid.sum() + 351 * old / old.sum()
    got = demand.disability_estimate()["disabled"].reindex(cantal.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9)
    # Ain publishes no split: the pooled split of the ten departments that publish one
    split = demand.department_age_split(demand.load_pch_actp())
    # the region's published split counts Ardèche's 510 aged 60+ and nothing of Ain
    pooled = np.array([3002, 30037, 12703 - 510], float)
    np.testing.assert_allclose(split.loc["01"].to_numpy(), 3333 * pooled / pooled.sum())
    # Ardèche publishes 510 aged 60+: the other 1,334 shared as the pooled under-60s
    np.testing.assert_allclose(split.loc["07"].to_numpy(),
                               [1334 * 3002 / 33039, 1334 * 30037 / 33039, 510])  # fmt: skip
    np.testing.assert_allclose(split.sum(axis=1).to_numpy(),
                               demand.load_pch_actp()["total"].to_numpy())  # fmt: skip


# --------------------------------------------------------------------------- bad files
def _cli(capsys, *args):
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.err


def _one_error(rc, err, *needles):
    assert rc == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]


def _damaged_mirror(tmp_path: Path, rel: str) -> Path:
    """Symbolic links to the mirror, with ``rel`` a copy missing its last rows."""
    root = tmp_path / "mirror"
    root.mkdir()
    for entry in MIRROR.iterdir():
        if entry.name != "demand":
            (root / entry.name).symlink_to(entry)
    (root / "demand").mkdir()
    for entry in (MIRROR / "demand").iterdir():
        if entry.name != Path(rel).name:
            (root / "demand" / entry.name).symlink_to(entry)
    data = (MIRROR / rel).read_bytes()
    (root / rel).write_bytes(data[: len(data) // 2])
    return root


@pytest.mark.parametrize(
    ("profile", "name"),
    [("job_seekers", demand.FACTS_FILE), ("disabled", demand.PCH_FILE),
     ("job_seekers", demand.DARES_FILE)],
    ids=["facts", "pch", "dares"],
)  # fmt: skip
def test_a_damaged_demand_file_gives_one_error_line(tmp_path, monkeypatch, capsys, profile, name):
    root = _damaged_mirror(tmp_path, f"demand/{name}")
    monkeypatch.setattr(settings, "shared_data_dir", root)
    monkeypatch.setattr(settings, "processed_data_dir", tmp_path / "processed")
    with pytest.raises(ValidationError, match="restore the file"):
        profile_demand(get_profile(profile), load_communes())
    rc, err = _cli(capsys, "coverage", "--profile", profile, "--quiet", "--out", tmp_path / "o")
    _one_error(rc, err, name, "restore the file")
    assert not (tmp_path / "o").exists()


def test_the_dares_file_as_a_plain_file_demand_is_refused_in_one_line(tmp_path, capsys):
    """Using the three-department file for the whole region is refused, not read as zeros."""
    toml = (
        '[profiles.js]\nlabel = "Job seekers"\nnetworks = ["France Travail"]\n'
        "thresholds_min = { road = 30, transit = 45, walk = 20 }\n"
        f'[profiles.js.demand]\nbase = "file"\nfile = "{MIRROR / "demand" / demand.DARES_FILE}"'
        '\ncolumn = "nombre_de_demandeurs_d_emploi"\nstatus = "official"\n'
    )
    (tmp_path / "p.toml").write_text(toml, "utf-8")
    rc, err = _cli(capsys, "coverage", "--profiles-file", tmp_path / "p.toml", "--profile",
                   "js", "--quiet", "--out", tmp_path / "o")  # fmt: skip
    _one_error(rc, err, "2,982 of the 4,025 communes have no row")


def test_a_commune_outside_the_region_is_refused():
    df = pd.DataFrame({"insee": ["01001", "75056"], "pop_mun": [860, 2_100_000]})
    with pytest.raises(ValidationError, match=r"1 commune.*75056"):
        profile_demand(get_profile("job_seekers"), df)
    out = profile_demand(get_profile("job_seekers"), df.iloc[:1])
    assert out.tolist() == [45.0]  # L'Abergement-Clémenciat: 45 in the DARES file


def test_the_banner_says_the_job_seeker_demand_is_partly_official():
    """The app's and the exports' provenance text (present.provenance_facts) reads right."""
    from types import SimpleNamespace

    from analysis.present import provenance_facts

    sites = pd.DataFrame({"provenance": ["open-data:france_travail_2019.csv"],
                          "network": ["France Travail"]})  # fmt: skip
    small = pd.DataFrame({"pop_mun": [860.0]})
    for key, says in (("job_seekers", "is partly official, partly estimated (Job seekers"),
                      ("disabled", "is estimated (Recipients of the disability")):  # fmt: skip
        result = SimpleNamespace(sites=sites, communes=small, times_are="modelled",
                                 model_label="main roads", profile=get_profile(key),
                                 estimated=True)  # fmt: skip
        text = provenance_facts(result).estimated
        assert f"The demand of this public per commune {says}" in text, text
    everyone = SimpleNamespace(sites=sites, communes=small, times_are="modelled",
                               model_label="main roads", profile=get_profile("everyone"),
                               estimated=True)  # fmt: skip
    assert "demand" not in provenance_facts(everyone).estimated
