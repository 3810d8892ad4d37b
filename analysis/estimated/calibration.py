"""Calibration of the estimated road network on TER coach timetables.

The class speeds of :class:`~analysis.estimated.network.EstimatedNetworkParams` are fitted
so that the network's stop-to-stop times match the scheduled times of TER coaches between
consecutive stops ("hops", :mod:`analysis.estimated.coach_hops`).

Method (deterministic)
----------------------
1. Hops with both stops in the region; drop non-positive times and hops within one
   commune (the network has no time between a commune and itself).
2. De-duplicate per unordered pair of stop areas: the median scheduled time over every
   trip and both directions is one observation.
3. Drop pairs closer than ``min_dist_m`` or faster than ``min_time_s`` (the timetable
   is to the minute) and implausible crow-fly speeds (> ``max_crowfly_kmh``).
4. Split by route, never by hop: a route is held out when a hash of its id falls below
   ``holdout_fraction``; a pair is held out when all its routes are, and held-out pairs
   whose commune pair also occurs in training are dropped (no leakage through the
   commune-level network).
5. The network time of a pair is ``snap(a) + path(commune a → commune b) + snap(b)``: the
   shortest path between the two commune nodes plus the straight legs between each stop
   and its commune node at the snap speed and circuity (the way a site is placed on the
   network). For fixed paths it is linear in the paces ``1/speed`` of the three classes,
   so the fit alternates: shortest paths under the current speeds → robust least squares
   of ``log(model / scheduled)`` (soft-L1 loss, ``scipy.optimize.least_squares``) on the
   training pairs → new speeds, until the paths no longer change.
6. Error on held-out pairs: median absolute % error, bias (median signed % error), P90.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.optimize import least_squares
from scipy.sparse.csgraph import dijkstra

from ..errors import ValidationError
from .coach_hops import load_coach_hops
from .network import (
    CLASS_NAMES,
    CommuneSkeleton,
    EstimatedNetworkParams,
    commune_skeleton,
    edge_class_lengths,
)

logger = logging.getLogger(__name__)

#: Salt of the route hash that splits training and held-out routes.
SPLIT_SALT = "spro-access-calibration-v1"

#: Starting point of the fit, also reported as the uncalibrated baseline.
INITIAL_SPEED_KMH = 50.0

#: Speeds are kept within these bounds during the fit, km/h.
SPEED_BOUNDS_KMH = (5.0, 130.0)


@dataclass(frozen=True)
class ErrorStats:
    """Error of modelled against scheduled times on a set of pairs.

    Attributes
    ----------
    n
        Number of stop pairs.
    median_abs_pct
        Median of ``|model / scheduled - 1|``, percent.
    bias_pct
        Median of ``model / scheduled - 1``, percent (negative: the model is faster).
    p90_abs_pct
        90th percentile of the absolute % error.
    """

    n: int
    median_abs_pct: float
    bias_pct: float
    p90_abs_pct: float

    @classmethod
    def of(cls, model_s: ArrayLike, scheduled_s: ArrayLike) -> ErrorStats:
        """Error statistics of modelled times against scheduled times."""
        rel = np.asarray(model_s, dtype=float) / np.asarray(scheduled_s, dtype=float) - 1.0
        if len(rel) == 0:
            return cls(0, float("nan"), float("nan"), float("nan"))
        return cls(
            n=len(rel),
            median_abs_pct=float(np.median(np.abs(rel)) * 100),
            bias_pct=float(np.median(rel) * 100),
            p90_abs_pct=float(np.quantile(np.abs(rel), 0.9) * 100),
        )

    def as_dict(self, digits: int = 1) -> dict[str, float | int]:
        """Return the statistics as a rounded plain dictionary."""
        return {
            "n": self.n,
            "median_abs_pct": round(self.median_abs_pct, digits),
            "bias_pct": round(self.bias_pct, digits),
            "p90_abs_pct": round(self.p90_abs_pct, digits),
        }


@dataclass
class CalibrationReport:
    """What a calibration run did and how well the fitted network matches.

    Attributes
    ----------
    params
        The fitted parameters (class speeds fitted, the rest as given).
    initial_params
        The starting parameters, also the uncalibrated baseline.
    stop_overhead_s
        Fitted fixed time per hop (coach stop manoeuvres), not part of the network.
    counts
        How many hops and pairs each step kept or dropped.
    crowfly_speed_kmh
        Scheduled crow-fly speed (median, quartiles) of the hops in the region (distinct
        communes, positive time) and of the de-duplicated pairs.
    train, test
        Error of the fitted hop model (network time + stop overhead) on the training and
        held-out pairs.
    test_network_only
        Held-out error of the network time alone (what a car trip gets): its bias shows
        how much faster than a coach the network is.
    baseline_test
        Error of the initial (uncalibrated) parameters on the held-out pairs.
    crowfly_test
        Error on the held-out pairs of the straight distance between the two commune
        nodes at the median training pace (time / distance): the naive model with the
        same information as the network, for comparison.
    test_by_distance
        Held-out error by crow-fly distance band.
    iterations
        Rounds of path recomputation the fit needed.
    converged
        Whether the shortest paths stopped changing.
    pairs
        One row per stop pair used, with its split, scheduled and modelled time.
    """

    params: EstimatedNetworkParams
    initial_params: EstimatedNetworkParams
    stop_overhead_s: float
    counts: dict[str, int]
    crowfly_speed_kmh: dict[str, dict[str, float]]
    train: ErrorStats
    test: ErrorStats
    test_network_only: ErrorStats
    baseline_test: ErrorStats
    crowfly_test: ErrorStats
    test_by_distance: pd.DataFrame
    iterations: int
    converged: bool
    pairs: pd.DataFrame = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """Plain dictionary for provenance (graph ``meta``) and docs."""
        return {
            "speeds_kmh": {
                name: round(float(v), 1)
                for name, v in zip(CLASS_NAMES, self.params.speeds_kmh, strict=True)
            },
            "circuity": self.params.circuity,
            "stop_overhead_s": round(self.stop_overhead_s, 1),
            "train": self.train.as_dict(),
            "test": self.test.as_dict(),
            "test_network_only": self.test_network_only.as_dict(),
            "baseline_test": self.baseline_test.as_dict(),
            "crowfly_test": self.crowfly_test.as_dict(),
            "counts": dict(self.counts),
            "iterations": self.iterations,
            "converged": self.converged,
        }

    def to_text(self) -> str:
        """Human-readable report."""
        c = self.counts
        lines = [
            "Calibration of the estimated road network on TER coach timetables",
            f"  hops in the feed: {c['hops_feed']:,}; both stops in the region: "
            f"{c['hops_region']:,}",
            f"  dropped: non-positive time {c['nonpositive_time']:,}, within one commune "
            f"{c['same_commune']:,}",
            f"  stop-area pairs (median over trips and directions): {c['pairs']:,}; dropped "
            f"short (< min distance or time) {c['short']:,}, implausible speed "
            f"{c['implausible']:,}",
            f"  split by route: {c['routes_train']} training routes, {c['routes_test']} "
            f"held-out routes; {c['train']:,} training pairs, {c['test']:,} held-out pairs "
            f"({c['test_leak_dropped']:,} held-out pairs dropped: commune pair also in "
            "training)",
        ]
        for key, s in self.crowfly_speed_kmh.items():
            lines.append(
                f"  scheduled crow-fly speed ({key}): median {s['median']:.1f} km/h, "
                f"IQR {s['q25']:.1f}-{s['q75']:.1f} (n={int(s['n']):,})"
            )
        p = self.params
        lines.append(
            f"  fitted speeds (circuity {p.circuity:g}): urban centre "
            f"{p.speed_urban_kmh:.1f}, intermediate {p.speed_intermediate_kmh:.1f}, rural "
            f"{p.speed_rural_kmh:.1f} km/h; coach stop overhead {self.stop_overhead_s:.0f} s "
            f"per hop ({self.iterations} path rounds, "
            f"{'converged' if self.converged else 'NOT converged'})"
        )
        for name, st in (
            ("training", self.train),
            ("held-out", self.test),
            ("held-out, network only", self.test_network_only),
            ("held-out, uncalibrated", self.baseline_test),
            ("held-out, crow-fly", self.crowfly_test),
        ):
            lines.append(
                f"  {name:<23} n={st.n:>4}  median |error| {st.median_abs_pct:5.1f}%  "
                f"bias {st.bias_pct:+5.1f}%  P90 |error| {st.p90_abs_pct:5.1f}%"
            )
        lines.append("  held-out by crow-fly distance:")
        for _, r in self.test_by_distance.iterrows():
            lines.append(
                f"    {r['band']:<10} n={int(r['n']):>4}  median |error| "
                f"{r['median_abs_pct']:5.1f}%  bias {r['bias_pct']:+5.1f}%  P90 "
                f"{r['p90_abs_pct']:5.1f}%"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------- network times
def _class_length_matrices(skeleton: CommuneSkeleton, circuity: float) -> list[sp.csr_matrix]:
    """Per class, a symmetric sparse matrix of the road length driven in that class."""
    n = skeleton.n_nodes
    lengths = edge_class_lengths(skeleton, circuity)
    rows = np.concatenate([skeleton.u, skeleton.v])
    cols = np.concatenate([skeleton.v, skeleton.u])
    return [
        sp.csr_matrix((np.concatenate([lengths[:, k]] * 2), (rows, cols)), shape=(n, n))
        for k in range(3)
    ]


def path_class_lengths(
    skeleton: CommuneSkeleton,
    params: EstimatedNetworkParams,
    commune_a: ArrayLike,
    commune_b: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Fastest path between commune nodes, and its road length in each class.

    Parameters
    ----------
    skeleton
        Nodes and neighbour pairs of the network.
    params
        Circuity and speeds that define the fastest paths.
    commune_a, commune_b
        Node (commune row) at each end of each pair.

    Returns
    -------
    time_s : numpy.ndarray
        Network time of each pair, seconds (``inf`` if unreachable).
    lengths : numpy.ndarray
        Shape ``(n_pairs, 3)``: metres of the path driven in urban-centre, intermediate
        and rural communes; ``time_s == lengths @ (3.6 / speeds_kmh)``.
    """
    a = np.asarray(commune_a, dtype=np.int64)
    b = np.asarray(commune_b, dtype=np.int64)
    mats = _class_length_matrices(skeleton, params.circuity)
    pace = 3.6 / params.speeds_kmh
    weights = (mats[0] * pace[0] + mats[1] * pace[1] + mats[2] * pace[2]).tocsr()
    sources, row = np.unique(a, return_inverse=True)
    if len(sources) == 0:
        return np.zeros(0), np.zeros((0, 3))
    dist, pred = dijkstra(weights, directed=True, indices=sources, return_predecessors=True)
    time_s = dist[row, b]
    lengths = np.zeros((len(a), 3))
    cur = b.copy()
    active = np.isfinite(time_s) & (cur != a)
    for _ in range(skeleton.n_nodes):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        prev = pred[row[idx], cur[idx]]
        for k in range(3):
            lengths[idx, k] += np.asarray(mats[k][prev, cur[idx]]).ravel()
        cur[idx] = prev
        active[idx] = prev != a[idx]
    return time_s, lengths


def snap_times(dist_m: np.ndarray, params: EstimatedNetworkParams) -> np.ndarray:
    """Time of the straight leg between a point and its commune node.

    Parameters
    ----------
    dist_m
        Straight distances, metres.
    params
        Snap speed and circuity.

    Returns
    -------
    numpy.ndarray
        Seconds.
    """
    return np.asarray(dist_m, dtype=float) * params.snap_circuity / (params.snap_speed_kmh / 3.6)


def pair_times(
    skeleton: CommuneSkeleton,
    params: EstimatedNetworkParams,
    pairs: pd.DataFrame,
    *,
    snap_legs: bool = False,
) -> np.ndarray:
    """Network time of stop pairs: snap legs plus the path between their communes.

    Parameters
    ----------
    skeleton
        Nodes and neighbour pairs.
    params
        Network parameters.
    pairs
        Columns ``commune_a``, ``commune_b`` (node rows), ``snap_a_m``, ``snap_b_m``
        (straight distance of each stop to its commune node).

    Returns
    -------
    numpy.ndarray
        Seconds.
    """
    t, _ = path_class_lengths(skeleton, params, pairs["commune_a"], pairs["commune_b"])
    if not snap_legs:
        return t
    return t + snap_times(pairs["snap_a_m"].to_numpy() + pairs["snap_b_m"].to_numpy(), params)


@dataclass(frozen=True)
class SpeedFit:
    """Result of :func:`fit_speeds`.

    Attributes
    ----------
    params
        Parameters with the fitted class speeds.
    stop_overhead_s
        Fitted fixed time per observation (a coach's deceleration, pull-in and
        acceleration at a stop); a nuisance parameter of the calibration, *not* part of
        the network (a car going to a site does not stop at coach stops). 0 when not fitted.
    rounds
        Shortest-path recomputations done.
    converged
        Whether the paths stopped changing (otherwise the best round is returned).
    cost
        Robust (soft-L1) cost of the returned parameters on the given pairs.
    """

    params: EstimatedNetworkParams
    stop_overhead_s: float
    rounds: int
    converged: bool
    cost: float


def _soft_l1_cost(resid: np.ndarray, f_scale: float) -> float:
    """Return the cost ``scipy.optimize.least_squares`` minimises with ``loss="soft_l1"``."""
    z = (resid / f_scale) ** 2
    return float(0.5 * f_scale**2 * np.sum(2.0 * (np.sqrt(1.0 + z) - 1.0)))


def fit_speeds(
    skeleton: CommuneSkeleton,
    pairs: pd.DataFrame,
    *,
    initial: EstimatedNetworkParams | None = None,
    fit_stop_overhead: bool = True,
    max_stop_overhead_s: float = 600.0,
    snap_legs: bool = False,
    f_scale: float = 0.1,
    max_rounds: int = 30,
) -> SpeedFit:
    """Fit the three class speeds to observed pair times (robust, in log space).

    The modelled time of a pair is ``path(commune a → commune b) + overhead`` (plus the
    snap legs if ``snap_legs``). For fixed paths it is linear in the class paces
    ``1/speed``: a robust least-squares fit of ``log(model / observed)`` (soft-L1) gives
    new speeds, the fastest paths are recomputed, and so on until the paths no longer
    change; should they cycle, the round with the lowest cost is returned.

    Parameters
    ----------
    skeleton
        Nodes and neighbour pairs of the network.
    pairs
        Observations: ``commune_a``, ``commune_b`` (node rows), the observed ``time_s``,
        and ``snap_a_m``, ``snap_b_m`` if ``snap_legs``.
    initial
        Starting parameters (circuity and snap rules are kept); all speeds
        :data:`INITIAL_SPEED_KMH` if not given.
    fit_stop_overhead
        Also fit a fixed time per observation (see :attr:`SpeedFit.stop_overhead_s`).
    max_stop_overhead_s
        Upper bound of that overhead.
    snap_legs
        Add the straight legs from each stop to its commune node (at the snap speed) to
        the modelled time.
    f_scale
        Scale of the soft-L1 loss: residuals beyond it count about linearly, so outliers
        weigh little.
    max_rounds
        Maximum number of shortest-path recomputations.

    Returns
    -------
    SpeedFit

    Raises
    ------
    ValidationError
        If there is no usable observation.
    """
    if initial is None:
        initial = EstimatedNetworkParams().with_speeds(np.full(3, INITIAL_SPEED_KMH))
    obs = pairs["time_s"].to_numpy(dtype=float)
    ok = np.isfinite(obs) & (obs > 0) & (pairs["commune_a"] != pairs["commune_b"]).to_numpy()
    if not ok.any():
        raise ValidationError("no usable pair to calibrate on (distinct communes, time > 0)")
    pairs = pairs.loc[ok]
    obs = obs[ok]
    log_obs = np.log(obs)
    fixed = np.zeros(len(pairs))
    if snap_legs:
        fixed += snap_times(pairs["snap_a_m"].to_numpy() + pairs["snap_b_m"].to_numpy(), initial)
    lo, hi = np.log(3.6 / SPEED_BOUNDS_KMH[1]), np.log(3.6 / SPEED_BOUNDS_KMH[0])
    ca, cb = pairs["commune_a"].to_numpy(), pairs["commune_b"].to_numpy()

    params, overhead = initial, 0.0
    best: SpeedFit | None = None
    seen: list[np.ndarray] = []
    converged = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        _, lengths = path_class_lengths(skeleton, params, ca, cb)
        pace = 3.6 / params.speeds_kmh
        cost = _soft_l1_cost(np.log(lengths @ pace + fixed + overhead) - log_obs, f_scale)
        if best is None or cost < best.cost:
            best = SpeedFit(params, overhead, rounds, False, cost)
        if any(np.allclose(lengths, old, rtol=0, atol=1e-6) for old in seen):
            converged = np.allclose(lengths, seen[-1], rtol=0, atol=1e-6)
            if not converged:
                logger.warning("calibration paths cycle; keeping the round of lowest cost")
            break
        seen.append(lengths)
        used = lengths.sum(axis=0) > 0
        if not used.all():
            logger.warning(
                "no calibration path crosses %s communes; their speed stays at %s km/h",
                [CLASS_NAMES[k] for k in np.flatnonzero(~used)],
                params.speeds_kmh[~used],
            )
        theta_all = np.clip(np.log(pace), lo, hi)
        k_used = int(used.sum())

        def unpack(
            x: np.ndarray,
            theta_all: np.ndarray = theta_all,
            used: np.ndarray = used,
            overhead: float = overhead,
        ) -> tuple[np.ndarray, float]:
            th = theta_all.copy()
            th[used] = x[: used.sum()]
            return np.exp(th), (float(x[-1]) if fit_stop_overhead else overhead)

        def resid(x: np.ndarray, lengths: np.ndarray = lengths) -> np.ndarray:
            p, t0 = unpack(x)
            return np.log(lengths @ p + fixed + t0) - log_obs

        def jac(
            x: np.ndarray, lengths: np.ndarray = lengths, used: np.ndarray = used
        ) -> np.ndarray:
            p, t0 = unpack(x)
            pred = lengths @ p + fixed + t0
            cols = (lengths * p)[:, used] / pred[:, None]
            if fit_stop_overhead:
                cols = np.column_stack([cols, 1.0 / pred])
            return cols

        x0 = list(theta_all[used])
        lower, upper = [lo] * k_used, [hi] * k_used
        if fit_stop_overhead:
            x0.append(min(max(overhead, 0.0), max_stop_overhead_s))
            lower.append(0.0)
            upper.append(max_stop_overhead_s)
        sol = least_squares(
            resid, np.asarray(x0), jac=jac, bounds=(lower, upper), loss="soft_l1",
            f_scale=f_scale, method="trf", x_scale="jac",
        )  # fmt: skip
        p, overhead = unpack(sol.x)
        params = params.with_speeds(3.6 / p)
    assert best is not None
    if converged:
        # The last fit's paths equal the previous round's: its parameters are the answer.
        _, lengths = path_class_lengths(skeleton, params, ca, cb)
        pace = 3.6 / params.speeds_kmh
        cost = _soft_l1_cost(np.log(lengths @ pace + fixed + overhead) - log_obs, f_scale)
        best = SpeedFit(params, overhead, rounds, True, cost)
    else:
        best = dataclasses.replace(best, rounds=rounds)
    return best


# ---------------------------------------------------------------------- hops to pairs
def _route_heldout(route_ids: pd.Series, fraction: float, salt: str) -> pd.Series:
    """Deterministic route split: whether each route id is held out."""

    def u01(rid: str) -> float:
        digest = hashlib.blake2b(f"{salt}:{rid}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    return route_ids.map(lambda r: u01(str(r)) < fraction)


def _speed_stats(dist_m: np.ndarray, time_s: np.ndarray) -> dict[str, float]:
    """Median and quartiles of crow-fly speeds, km/h."""
    v = np.asarray(dist_m, dtype=float) / np.asarray(time_s, dtype=float) * 3.6
    if len(v) == 0:
        return {"n": 0, "median": np.nan, "q25": np.nan, "q75": np.nan}
    q25, med, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    return {"n": len(v), "median": float(med), "q25": float(q25), "q75": float(q75)}


def hop_pairs(
    hops: pd.DataFrame,
    skeleton: CommuneSkeleton,
    *,
    holdout_fraction: float = 0.3,
    min_dist_m: float = 1_000.0,
    min_time_s: float = 120.0,
    max_crowfly_kmh: float = 130.0,
    split_salt: str = SPLIT_SALT,
) -> tuple[pd.DataFrame, dict[str, int], dict[str, dict[str, float]]]:
    """Clean, de-duplicate and split coach hops into stop-pair observations.

    Parameters
    ----------
    hops
        Table of :func:`analysis.estimated.coach_hops.load_coach_hops`.
    skeleton
        The network (for the snap distance of each stop to its commune node).
    holdout_fraction
        Share of routes held out for the error estimate.
    min_dist_m, min_time_s
        Pairs closer or quicker than this are dropped (minute rounding dominates).
    max_crowfly_kmh
        Pairs with a faster scheduled crow-fly speed are dropped (timetable errors).
    split_salt
        Salt of the route hash (change it to see how the error varies with the split).

    Returns
    -------
    pairs : pandas.DataFrame
        One row per unordered stop-area pair: ``stop_a``, ``stop_b``, names, communes
        (row positions and INSEE codes), ``snap_a_m``, ``snap_b_m``, ``dist_m``,
        ``time_s`` (median), ``n_trips``, ``routes`` and ``split`` (``train``/``test``).
    counts : dict
        What each step kept or dropped.
    speeds : dict
        Crow-fly speed statistics of hops and pairs.
    """
    if not 0 <= holdout_fraction < 1:
        raise ValidationError("holdout_fraction must lie in [0, 1)")
    counts: dict[str, int] = {
        "hops_feed": int(hops.attrs.get("n_hops_feed", len(hops))),
        "hops_region": len(hops),
    }
    pos = hops["time_s"] > 0
    counts["nonpositive_time"] = int((~pos).sum())
    h = hops.loc[pos]
    distinct = h["commune_a"] != h["commune_b"]
    counts["same_commune"] = int((~distinct).sum())
    h = h.loc[distinct].copy()
    speeds = {"hops": _speed_stats(h["dist_m"].to_numpy(), h["time_s"].to_numpy())}

    # One observation per unordered stop-area pair.
    swap = h["stop_a"].to_numpy() > h["stop_b"].to_numpy()
    for col in ("stop", "name", "x", "y", "commune"):
        a, b = h[f"{col}_a"].to_numpy(), h[f"{col}_b"].to_numpy()
        h[f"{col}_a"], h[f"{col}_b"] = np.where(swap, b, a), np.where(swap, a, b)
    grouped = h.groupby(["stop_a", "stop_b"], sort=True)
    pairs = grouped.agg(
        name_a=("name_a", "first"), name_b=("name_b", "first"),
        x_a=("x_a", "first"), y_a=("y_a", "first"), x_b=("x_b", "first"),
        y_b=("y_b", "first"), commune_a=("commune_a", "first"),
        commune_b=("commune_b", "first"), dist_m=("dist_m", "first"),
        time_s=("time_s", "median"), n_trips=("trip_id", "nunique"),
        routes=("route_id", lambda r: tuple(sorted(set(r)))),
    ).reset_index()  # fmt: skip
    counts["pairs"] = len(pairs)
    speeds["pairs"] = _speed_stats(pairs["dist_m"].to_numpy(), pairs["time_s"].to_numpy())
    short = (pairs["dist_m"] < min_dist_m) | (pairs["time_s"] < min_time_s)
    counts["short"] = int(short.sum())
    pairs = pairs.loc[~short]
    fast = pairs["dist_m"] / pairs["time_s"] * 3.6 > max_crowfly_kmh
    counts["implausible"] = int(fast.sum())
    pairs = pairs.loc[~fast].reset_index(drop=True)

    ca = pairs["commune_a"].to_numpy(dtype=np.int64)
    cb = pairs["commune_b"].to_numpy(dtype=np.int64)
    pairs["insee_a"] = skeleton.insee[ca]
    pairs["insee_b"] = skeleton.insee[cb]
    pairs["snap_a_m"] = np.hypot(pairs["x_a"] - skeleton.x[ca], pairs["y_a"] - skeleton.y[ca])
    pairs["snap_b_m"] = np.hypot(pairs["x_b"] - skeleton.x[cb], pairs["y_b"] - skeleton.y[cb])

    all_routes = pd.Series(sorted({r for rs in pairs["routes"] for r in rs}), dtype=object)
    held = dict(
        zip(all_routes, _route_heldout(all_routes, holdout_fraction, split_salt), strict=True)
    )
    is_test = pairs["routes"].map(lambda rs: all(held[r] for r in rs)).to_numpy(dtype=bool)
    commune_key = np.minimum(ca, cb) * skeleton.n_nodes + np.maximum(ca, cb)
    leak = is_test & np.isin(commune_key, commune_key[~is_test])
    counts["test_leak_dropped"] = int(leak.sum())
    pairs["split"] = np.where(is_test, "test", "train")
    pairs = pairs.loc[~leak].reset_index(drop=True)
    counts["train"] = int((pairs["split"] == "train").sum())
    counts["test"] = int((pairs["split"] == "test").sum())
    counts["routes_train"] = int(sum(1 for r in all_routes if not held[r]))
    counts["routes_test"] = int(sum(1 for r in all_routes if held[r]))
    return pairs, counts, speeds


def _by_distance(pairs: pd.DataFrame) -> pd.DataFrame:
    """Error statistics of the held-out pairs by crow-fly distance band."""
    bands = [(0, 5_000, "< 5 km"), (5_000, 15_000, "5-15 km"), (15_000, np.inf, ">= 15 km")]
    rows = []
    for lo, hi, name in bands:
        sel = pairs[(pairs["dist_m"] >= lo) & (pairs["dist_m"] < hi)]
        s = ErrorStats.of(sel["model_s"], sel["time_s"])
        rows.append({"band": name, **dataclasses.asdict(s)})
    return pd.DataFrame(rows)


def calibrate(
    communes: gpd.GeoDataFrame,
    gtfs_path: str | Path | None = None,
    *,
    params: EstimatedNetworkParams | None = None,
    holdout_fraction: float = 0.3,
    min_dist_m: float = 1_000.0,
    min_time_s: float = 120.0,
    max_crowfly_kmh: float = 130.0,
    split_salt: str = SPLIT_SALT,
    include_rail_route_coaches: bool = True,
    fit_stop_overhead: bool = True,
    snap_legs: bool = False,
    f_scale: float = 0.1,
) -> CalibrationReport:
    """Fit the estimated network's class speeds on TER coach hops (deterministic).

    With the defaults this reproduces the fitted constants of
    :class:`~analysis.estimated.network.EstimatedNetworkParams`.

    Parameters
    ----------
    communes
        Commune table (:func:`analysis.communes.load_communes`).
    gtfs_path
        The TER GTFS zip; the shared data mirror's if not given.
    params
        Fixed parameters (circuity, snap rules, adjacency); the speeds start at
        :data:`INITIAL_SPEED_KMH`. Defaults if not given.
    holdout_fraction
        Share of routes held out.
    min_dist_m, min_time_s, max_crowfly_kmh, split_salt
        Cleaning thresholds and split salt, see :func:`hop_pairs`.
    include_rail_route_coaches
        Also use the coach trips published under rail routes (on by default: they are
        coaches on roads, and double the observations), see
        :func:`analysis.estimated.coach_hops.load_coach_hops`.
    fit_stop_overhead
        Fit a fixed time per hop (a coach's stop manoeuvres), see :func:`fit_speeds`.
    snap_legs
        Model a hop as stop → commune node → … → commune node → stop (snap legs at the
        snap speed) instead of commune node to commune node.
    f_scale
        Scale of the robust loss, see :func:`fit_speeds`.

    Returns
    -------
    CalibrationReport
    """
    base = params or EstimatedNetworkParams()
    initial = base.with_speeds(np.full(3, INITIAL_SPEED_KMH))
    skeleton = commune_skeleton(communes, params=base)
    hops = load_coach_hops(
        communes, gtfs_path, include_rail_route_coaches=include_rail_route_coaches
    )
    pairs, counts, speeds = hop_pairs(
        hops, skeleton, holdout_fraction=holdout_fraction, min_dist_m=min_dist_m,
        min_time_s=min_time_s, max_crowfly_kmh=max_crowfly_kmh, split_salt=split_salt,
    )  # fmt: skip
    train = pairs["split"] == "train"
    fit = fit_speeds(
        skeleton, pairs.loc[train], initial=initial, fit_stop_overhead=fit_stop_overhead,
        snap_legs=snap_legs, f_scale=f_scale,
    )  # fmt: skip
    pairs["network_s"] = pair_times(skeleton, fit.params, pairs, snap_legs=snap_legs)
    pairs["model_s"] = pairs["network_s"] + fit.stop_overhead_s
    pairs["baseline_s"] = pair_times(skeleton, initial, pairs, snap_legs=snap_legs)
    ca = pairs["commune_a"].to_numpy()
    cb = pairs["commune_b"].to_numpy()
    node_dist = np.hypot(skeleton.x[ca] - skeleton.x[cb], skeleton.y[ca] - skeleton.y[cb])
    pace = float(np.median(pairs.loc[train, "time_s"] / node_dist[train.to_numpy()]))
    pairs["crowfly_s"] = node_dist * pace
    test = pairs.loc[~train]
    report = CalibrationReport(
        params=fit.params,
        initial_params=initial,
        stop_overhead_s=fit.stop_overhead_s,
        counts=counts,
        crowfly_speed_kmh=speeds,
        train=ErrorStats.of(pairs.loc[train, "model_s"], pairs.loc[train, "time_s"]),
        test=ErrorStats.of(test["model_s"], test["time_s"]),
        test_network_only=ErrorStats.of(test["network_s"], test["time_s"]),
        baseline_test=ErrorStats.of(test["baseline_s"], test["time_s"]),
        crowfly_test=ErrorStats.of(test["crowfly_s"], test["time_s"]),
        test_by_distance=_by_distance(test),
        iterations=fit.rounds,
        converged=fit.converged,
        pairs=pairs,
    )
    logger.info("calibration: %s", report.summary())
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the calibration with its defaults and print the report."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.estimated.calibration",
        description="Fit the estimated road network on TER coach timetables.",
    )
    parser.add_argument("--gtfs", type=Path, default=None, help="TER GTFS zip")
    parser.add_argument(
        "--route-type-3-only", action="store_true",
        help="only coach routes (route_type 3), not coach trips published under rail routes",
    )  # fmt: skip
    parser.add_argument("--pairs-csv", type=Path, default=None, help="write the pairs here")
    args = parser.parse_args(argv)
    from ..communes import load_communes

    report = calibrate(
        load_communes(), args.gtfs, include_rail_route_coaches=not args.route_type_3_only
    )
    print(report.to_text())
    if args.pairs_csv is not None:
        from ..io import write_csv

        write_csv(report.pairs.drop(columns="routes"), args.pairs_csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
