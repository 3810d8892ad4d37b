"""Card figures from the changed communes only vs a naive dense computation."""

import numpy as np
import pytest

from analysis.planning import cardstats
from analysis.planning.cardstats import CardBase, card_figures
from analysis.stats import weighted_quantile


def naive(before, after, demand, pop, thr, addition):
    """Independent, dense reference of every card figure."""
    out = {}
    cb, ca = before <= thr, after <= thr
    out["demand_newly_covered"] = demand[ca & ~cb].sum()
    out["demand_losing_cover"] = demand[cb & ~ca].sum()
    out["communes_newly_covered"] = int((ca & ~cb).sum())
    out["communes_losing_cover"] = int((cb & ~ca).sum())
    better, worse = after < before, after > before
    out["demand_time_improved"] = demand[better].sum()
    out["population_time_improved"] = pop[better].sum()
    out["demand_time_worsened"] = demand[worse].sum()
    out["population_time_worsened"] = pop[worse].sum()
    gains = [
        (d, b - a)
        for b, a, d in zip(before, after, demand, strict=True)
        if a < b and np.isfinite(b)
    ]
    losses = [
        (d, a - b)
        for b, a, d in zip(before, after, demand, strict=True)
        if a > b and np.isfinite(a)
    ]
    gw = sum(d for d, _ in gains)
    lw = sum(d for d, _ in losses)
    out["mean_gain_min"] = sum(d * g for d, g in gains) / gw / 60 if gw > 0 else 0.0
    out["max_gain_min"] = max((g for _, g in gains), default=0.0) / 60
    out["mean_loss_min"] = sum(d * g for d, g in losses) / lw / 60 if lw > 0 else 0.0
    out["max_loss_min"] = max((g for _, g in losses), default=0.0) / 60
    out["person_minutes_saved"] = (
        sum(d * g for d, g in gains) - sum(d * g for d, g in losses)
    ) / 60
    for name, q in (("p50", 0.5), ("p90", 0.9)):
        out[f"{name}_before_min"] = weighted_quantile(before, demand, q) / 60
        out[f"{name}_after_min"] = weighted_quantile(after, demand, q) / 60
    if addition:
        catch = better & ca
        out["catchment_demand"] = demand[catch].sum()
        out["overlap_share"] = (
            demand[catch & cb].sum() / demand[catch].sum() if demand[catch].sum() > 0 else np.nan
        )
    else:
        out["catchment_demand"] = np.nan
        out["overlap_share"] = np.nan
    return out


def random_case(rng, n, k, *, addition, ties):
    before = rng.uniform(0, 3600, n)
    if ties:
        before = np.round(before / 300) * 300
    before[rng.random(n) < 0.05] = np.inf
    demand = rng.uniform(0, 100, n)
    demand[rng.random(n) < 0.2] = 0.0
    pop = demand * 3
    rows = np.sort(rng.choice(n, k, replace=False))
    if addition:
        new = np.where(
            np.isfinite(before[rows]),
            before[rows] * rng.uniform(0, 1, k),
            rng.uniform(0, 3600, k),
        )
        if ties:
            new = np.round(new / 300) * 300
        new = np.minimum(new, np.nextafter(before[rows], -np.inf))
    else:
        new = before[rows] + rng.uniform(1, 2000, k)
        new[rng.random(k) < 0.2] = np.inf
        if ties:
            new = np.round(new / 300) * 300 + 300
    after = before.copy()
    after[rows] = new
    return before, after, demand, pop, rows


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("seed", range(60))
def test_sparse_figures_equal_naive(seed, small, monkeypatch):
    monkeypatch.setattr(cardstats, "SMALL", 10**9 if small else -1)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    k = int(rng.integers(0, min(n, 60)))
    addition = seed % 2 == 0
    before, after, demand, pop, rows = random_case(rng, n, k, addition=addition, ties=seed % 3 == 0)
    thr = float(rng.uniform(300, 3000))
    base = CardBase.build(before, demand, pop, thr)
    moved = after[rows] != before[rows]
    got = card_figures(base, rows[moved], after[rows][moved], addition=addition)
    ref = naive(before, after, demand, pop, thr, addition)
    assert set(got) == set(ref)
    for key, value in ref.items():
        if np.isnan(value):
            assert np.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("seed", range(200))
def test_incremental_quantiles_equal_weighted_quantile(seed):
    rng = np.random.default_rng(500 + seed)
    n = int(rng.integers(1, 60))
    before = np.round(rng.uniform(0, 10, n)) if seed % 2 else rng.uniform(0, 10, n)
    before[rng.random(n) < 0.1] = np.inf
    w = np.round(rng.uniform(0, 3, n))  # integer weights: ties at the quantile
    if w.sum() == 0:
        w[0] = 1.0
    k = int(rng.integers(1, n + 1))
    rows = rng.choice(n, k, replace=False)
    new = np.round(rng.uniform(0, 12, k)) if seed % 2 else rng.uniform(0, 12, k)
    new[rng.random(k) < 0.1] = np.inf
    after = before.copy()
    after[rows] = new
    base = CardBase.build(before, w, w, 5.0)
    want = [weighted_quantile(after, w, q) for q in cardstats.QUANTILES]
    assert base._quantiles_after_small(rows, new) == want
    np.testing.assert_array_equal(base.quantiles_after(rows, new), want)


def test_numpy_quantile_path(monkeypatch):
    monkeypatch.setattr(cardstats, "SMALL", -1)
    rng = np.random.default_rng(3)
    for _ in range(100):
        n = int(rng.integers(1, 40))
        before = np.round(rng.uniform(0, 8, n))
        w = np.round(rng.uniform(0, 3, n)) + (np.arange(n) == 0)
        rows = rng.choice(n, int(rng.integers(1, n + 1)), replace=False)
        new = np.round(rng.uniform(0, 9, len(rows)))
        after = before.copy()
        after[rows] = new
        base = CardBase.build(before, w, w, 5.0)
        want = [weighted_quantile(after, w, q) for q in cardstats.QUANTILES]
        np.testing.assert_array_equal(base.quantiles_after(rows, new), want)


def test_hand_built_card():
    # five communes 0, 10, 20, 30, 40 min from the only site; a new site at the far end
    before = np.array([0, 10, 20, 30, 40.0]) * 60
    after = np.array([0, 10, 20, 10, 0.0]) * 60
    demand = np.full(5, 100.0)
    base = CardBase.build(before, demand, demand, 15 * 60)
    f = card_figures(base, np.array([3, 4]), after[[3, 4]], addition=True)
    assert f["demand_newly_covered"] == 200 and f["communes_newly_covered"] == 2
    assert f["demand_time_improved"] == 200
    assert f["mean_gain_min"] == 30 and f["max_gain_min"] == 40
    assert (f["p50_before_min"], f["p50_after_min"]) == (20, 10)
    assert (f["p90_before_min"], f["p90_after_min"]) == (40, 20)
    assert f["catchment_demand"] == 200 and f["overlap_share"] == 0.0
    # closing it again: the reverse
    base2 = CardBase.build(after, demand, demand, 15 * 60)
    g = card_figures(base2, np.array([3, 4]), before[[3, 4]], addition=False)
    assert g["demand_losing_cover"] == 200 and g["mean_loss_min"] == 30
    assert np.isnan(g["overlap_share"])
