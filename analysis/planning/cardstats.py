"""The figures of a what-if card, computed from the few communes whose time changes.

A candidate site changes the time of a handful of communes; recomputing demand-weighted
quantiles or sums over all 4,025 communes for each card would cost more than the pruned
shortest-path pass itself. :class:`CardBase` keeps today's figures (sorted times, cumulative
demand, P50/P90) so that :func:`card_figures` only touches the changed communes, with
exactly the results of the dense computation over every commune (the tests compare them).

Definitions (minutes in the output, seconds inside):

- *newly covered*: communes within the threshold after, not before (*losing cover*: the
  reverse, for closures);
- *time improved / worsened*: communes whose time to the nearest eligible site goes down /
  up; mean gain and loss weighted by demand (unreachable-before communes count in the
  demand improved but not in the mean gain);
- *catchment*: the communes for which the candidate becomes the nearest eligible site
  (strictly faster than today) within the threshold; *overlap*: the share of the
  catchment's demand that was already covered by existing sites. So
  ``newly covered = catchment × (1 - overlap)``.
- P50/P90: demand-weighted quantiles (:func:`analysis.stats.weighted_quantile`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats import weighted_quantile

#: Quantiles reported on every card.
QUANTILES = (0.5, 0.9)

#: Up to this many changed communes, card figures use scalar Python (faster than numpy).
SMALL = 48


def _as_list(a: Any) -> list[Any]:
    return a.tolist() if isinstance(a, np.ndarray) else list(a)


@dataclass(frozen=True)
class CardBase:
    """Today's per-commune times and weights, prepared for sparse card figures.

    Attributes
    ----------
    before_s
        Time to the nearest eligible site per commune, seconds (``inf`` if none).
    demand, population
        Weights per commune.
    threshold_s
        Coverage threshold, seconds.
    sorted_s, cum
        Times of the communes with positive demand, sorted, and the cumulative demand.
    quantiles_before_s
        Demand-weighted P50 and P90 of today's times, seconds.
    lists
        The same arrays as Python lists (``before``, ``demand``, ``population``,
        ``sorted``, ``cum``) for the small-change path, where scalar reads beat numpy calls.
    """

    before_s: np.ndarray
    demand: np.ndarray
    population: np.ndarray
    threshold_s: float
    sorted_s: np.ndarray
    cum: np.ndarray
    quantiles_before_s: tuple[float, float]
    lists: dict[str, list[float]]

    @classmethod
    def build(
        cls, before_s: np.ndarray, demand: np.ndarray, population: np.ndarray, threshold_s: float
    ) -> CardBase:
        """Prepare today's figures (one sort)."""
        before_s = np.asarray(before_s, dtype=float)
        demand = np.asarray(demand, dtype=float)
        keep = (demand > 0) & ~np.isnan(before_s)
        order = np.argsort(before_s[keep], kind="stable")
        sorted_s = before_s[keep][order]
        cum = np.cumsum(demand[keep][order])
        qb = tuple(weighted_quantile(before_s, demand, q) for q in QUANTILES)
        return cls(
            before_s=before_s,
            demand=demand,
            population=np.asarray(population, dtype=float),
            threshold_s=float(threshold_s),
            sorted_s=sorted_s,
            cum=cum,
            quantiles_before_s=(float(qb[0]), float(qb[1])),
            lists={
                "before": before_s.tolist(),
                "demand": demand.tolist(),
                "population": np.asarray(population, dtype=float).tolist(),
                "sorted": sorted_s.tolist(),
                "cum": cum.tolist(),
            },
        )

    @property
    def before_list(self) -> list[float]:
        """Today's times as a Python list."""
        return self.lists["before"]

    def quantiles_after(self, rows: np.ndarray, after_s: np.ndarray) -> np.ndarray:
        """Demand-weighted P50/P90 once the communes ``rows`` get the times ``after_s``.

        Equal to :func:`~analysis.stats.weighted_quantile` on the updated times, in
        ``O(k log n)`` for ``k`` changed communes: the updated cumulative demand at ``t`` is
        today's minus the changed communes' old weight at or below ``t`` plus their new.

        Parameters
        ----------
        rows
            Changed communes.
        after_s
            Their new times.

        Returns
        -------
        numpy.ndarray
            One value per :data:`QUANTILES`, seconds.
        """
        qs = np.asarray(QUANTILES)
        if len(self.cum) == 0:
            return np.full(len(qs), np.nan)
        if len(rows) <= SMALL:
            return np.asarray(self._quantiles_after_small(rows, after_s))
        w = self.demand[rows]
        old = self.before_s[rows]
        new = np.asarray(after_s, dtype=float)
        keep = (w > 0) & ~np.isnan(old)
        w, old, new = w[keep], old[keep], new[keep]
        total = self.cum[-1]
        target = qs * total - 1e-9 * total
        if len(w) == 0:
            return np.asarray(self.quantiles_before_s, dtype=float)
        # D(t) = sum of w[new <= t] - sum of w[old <= t], a step function.
        pts = np.concatenate([old, new])
        steps = np.concatenate([-w, w])
        order = np.argsort(pts, kind="stable")
        pts, steps = pts[order], steps[order]
        last = np.ones(len(pts), dtype=bool)
        last[:-1] = pts[1:] != pts[:-1]
        bps = pts[last]  # breakpoints, ascending
        dk = np.concatenate([[0.0], np.cumsum(steps)[last]])  # D on each interval
        lo = np.concatenate([[0], np.searchsorted(self.sorted_s, bps, side="left")])
        hi = np.concatenate([np.searchsorted(self.sorted_s, bps, side="left"), [len(self.cum)]])
        # Smallest today's value in each interval reaching the target, per quantile.
        j = np.searchsorted(self.cum, target[:, None] - dk[None, :], side="left")
        j = np.maximum(j, lo[None, :])
        ok = j < hi[None, :]
        vals = np.where(ok, self.sorted_s[np.minimum(j, len(self.cum) - 1)], np.inf)
        best = vals.min(axis=1)
        # Smallest new value reaching the target.
        idx = np.searchsorted(self.sorted_s, new, side="right") - 1
        f_before = np.where(idx >= 0, self.cum[np.maximum(idx, 0)], 0.0)
        d_at = np.searchsorted(bps, new, side="right") - 1
        f_after = f_before + np.where(d_at >= 0, dk[d_at + 1], 0.0)
        hit = f_after[None, :] >= target[:, None]
        new_best = np.where(hit, new[None, :], np.inf).min(axis=1)
        return np.minimum(best, new_best)

    def _quantiles_after_small(self, rows: Any, after_s: Any) -> list[float]:
        """:meth:`quantiles_after` with scalar Python operations (few changed communes)."""
        lst = self.lists
        dem, bef, srt, cum = lst["demand"], lst["before"], lst["sorted"], lst["cum"]
        n = len(cum)
        events: list[tuple[float, float]] = []
        news: list[float] = []
        for r, a in zip(_as_list(rows), _as_list(after_s), strict=True):
            w = dem[r]
            old = bef[r]
            if w > 0 and old == old:  # weighted_quantile drops zero weights and NaN
                events.append((old, -w))
                events.append((a, w))
                news.append(a)
        if not events:
            return list(self.quantiles_before_s)
        events.sort()
        lowest = events[0][0]
        qb = self.quantiles_before_s
        if lowest > qb[0] and lowest > qb[1]:
            # Every change lies above both quantiles: neither moves.
            return list(qb)
        bps: list[float] = []
        dk = [0.0]  # D on (-inf, bps[0]), [bps[0], bps[1]), ...
        acc = 0.0
        for i, (t, step) in enumerate(events):
            acc += step
            if i + 1 == len(events) or events[i + 1][0] != t:
                bps.append(t)
                dk.append(acc)
        news.sort()
        total = cum[-1]
        nb = len(bps)

        def end(i: int) -> int:  # baseline values of interval i are srt[start:end(i)]
            return n if i == nb else bisect.bisect_left(srt, bps[i])

        out = []
        for q in QUANTILES:
            target = q * total - 1e-9 * total
            # H(i) = F_after just below the end of interval i is non-decreasing: find the
            # first interval where it reaches the target (binary search).
            lo_i, hi_i = 0, nb
            while lo_i < hi_i:
                mid = (lo_i + hi_i) // 2
                e = end(mid)
                if (cum[e - 1] if e > 0 else 0.0) + dk[mid] >= target:
                    hi_i = mid
                else:
                    lo_i = mid + 1
            i = lo_i
            start = 0 if i == 0 else bisect.bisect_left(srt, bps[i - 1])
            stop = end(i)
            j = bisect.bisect_left(cum, target - dk[i], start, stop)
            best = srt[j] if j < stop else math.inf
            # A new value in the interval may come first.
            k0 = 0 if i == 0 else bisect.bisect_left(news, bps[i - 1])
            for t in news[k0:]:
                if t >= best:
                    break
                k = bisect.bisect_right(srt, t) - 1
                f = (cum[k] if k >= 0 else 0.0) + dk[bisect.bisect_right(bps, t)]
                if f >= target:
                    best = t
                    break
            out.append(best)
        return out


def card_figures(
    base: CardBase, rows: np.ndarray, after_s: np.ndarray, *, addition: bool
) -> dict[str, float]:
    """Card figures from the changed communes only.

    Parameters
    ----------
    base
        Today's figures.
    rows
        Communes whose time changes.
    after_s
        Their new times, seconds.
    addition
        Whether the change adds a site (catchment and overlap are reported) or removes one.

    Returns
    -------
    dict of str to float
        See the module documentation for the definitions.
    """
    if len(rows) <= SMALL:
        return _card_figures_small(base, _as_list(rows), _as_list(after_s), addition=addition)
    rows = np.asarray(rows, dtype=np.int64)
    after = np.asarray(after_s, dtype=float)
    before = base.before_s[rows]
    d = base.demand[rows]
    pop = base.population[rows]
    thr = base.threshold_s
    cov_b = before <= thr
    cov_a = after <= thr
    better = after < before
    worse = after > before
    with np.errstate(invalid="ignore"):
        diff = before - after
    fin_gain = better & np.isfinite(diff)
    fin_loss = worse & np.isfinite(diff)
    dg = d[fin_gain]
    dl = d[fin_loss]
    gain = diff[fin_gain]
    loss = -diff[fin_loss]
    q = base.quantiles_after(rows, after) if len(rows) else base.quantiles_before_s
    qb = base.quantiles_before_s
    out = {
        "demand_newly_covered": float(d[cov_a & ~cov_b].sum()),
        "demand_losing_cover": float(d[cov_b & ~cov_a].sum()),
        "communes_newly_covered": int((cov_a & ~cov_b).sum()),
        "communes_losing_cover": int((cov_b & ~cov_a).sum()),
        "demand_time_improved": float(d[better].sum()),
        "population_time_improved": float(pop[better].sum()),
        "demand_time_worsened": float(d[worse].sum()),
        "population_time_worsened": float(pop[worse].sum()),
        "mean_gain_min": float((dg * gain).sum() / dg.sum() / 60.0) if dg.sum() > 0 else 0.0,
        "max_gain_min": float(gain.max() / 60.0) if len(gain) else 0.0,
        "mean_loss_min": float((dl * loss).sum() / dl.sum() / 60.0) if dl.sum() > 0 else 0.0,
        "max_loss_min": float(loss.max() / 60.0) if len(loss) else 0.0,
        "person_minutes_saved": float(((dg * gain).sum() - (dl * loss).sum()) / 60.0),
        "p50_before_min": qb[0] / 60.0,
        "p50_after_min": float(q[0]) / 60.0,
        "p90_before_min": qb[1] / 60.0,
        "p90_after_min": float(q[1]) / 60.0,
    }
    if addition:
        catch = better & cov_a
        cd = float(d[catch].sum())
        out["catchment_demand"] = cd
        out["overlap_share"] = float(d[catch & cov_b].sum() / cd) if cd > 0 else np.nan
    else:
        out["catchment_demand"] = np.nan
        out["overlap_share"] = np.nan
    return out


def _card_figures_small(
    base: CardBase, rows: list[int], after: list[float], *, addition: bool
) -> dict[str, float]:
    """:func:`card_figures` with scalar Python operations (few changed communes)."""
    lst = base.lists
    dem, pop, bef = lst["demand"], lst["population"], lst["before"]
    thr = base.threshold_s
    inf = math.inf
    new_cov = lose_cov = imp_d = imp_p = wor_d = wor_p = 0.0
    n_new = n_lose = 0
    g_w = g_sum = l_w = l_sum = 0.0
    g_max = l_max = 0.0
    catch = catch_cov = 0.0
    for r, a in zip(rows, after, strict=True):
        b0 = bef[r]
        w = dem[r]
        cb = b0 <= thr
        ca = a <= thr
        if ca and not cb:
            new_cov += w
            n_new += 1
        elif cb and not ca:
            lose_cov += w
            n_lose += 1
        if a < b0:
            imp_d += w
            imp_p += pop[r]
            if b0 != inf:
                g = b0 - a
                g_w += w
                g_sum += w * g
                g_max = max(g_max, g)
            if ca:
                catch += w
                if cb:
                    catch_cov += w
        elif a > b0:
            wor_d += w
            wor_p += pop[r]
            if a != inf:
                g = a - b0
                l_w += w
                l_sum += w * g
                l_max = max(l_max, g)
    q = base._quantiles_after_small(rows, after) if rows else base.quantiles_before_s
    qb = base.quantiles_before_s
    out = {
        "demand_newly_covered": new_cov,
        "demand_losing_cover": lose_cov,
        "communes_newly_covered": n_new,
        "communes_losing_cover": n_lose,
        "demand_time_improved": imp_d,
        "population_time_improved": imp_p,
        "demand_time_worsened": wor_d,
        "population_time_worsened": wor_p,
        "mean_gain_min": g_sum / g_w / 60.0 if g_w > 0 else 0.0,
        "max_gain_min": g_max / 60.0,
        "mean_loss_min": l_sum / l_w / 60.0 if l_w > 0 else 0.0,
        "max_loss_min": l_max / 60.0,
        "person_minutes_saved": (g_sum - l_sum) / 60.0,
        "p50_before_min": qb[0] / 60.0,
        "p50_after_min": float(q[0]) / 60.0,
        "p90_before_min": qb[1] / 60.0,
        "p90_after_min": float(q[1]) / 60.0,
        "catchment_demand": catch if addition else np.nan,
        "overlap_share": (catch_cov / catch if catch > 0 else np.nan) if addition else np.nan,
    }
    return out
