"""Fit the main-road speeds on real car times: the OSRM matrix of Isère's town halls.

Reference: ``roads/osrm_reference/TimeDistCarIsere.csv`` — OSRM car durations (seconds,
``car.lua``, OSM extract of France, July 2021) between the town halls of the 512 communes of
Isère, with ``isere.geojson`` giving the points. Free-flow model times, not observed ones.

Method
------
- The origins are split by a salted hash of their INSEE code: 70 % *training* origins,
  30 % *held-out*. Training pairs join two training origins, held-out pairs two held-out
  origins, so no held-out town hall was seen by the fit.
- Modelled time of a pair: leg(a) + network path + leg(b), with the one first/last-mile
  rule of :meth:`~analysis.mainroads.model.MainRoadParams.leg_s`. It is linear in the
  parameters for given paths: ``Σ_class km_class × s_per_km_class + 2 × leg_fixed +
  (snap_a + snap_b) km × leg_s_per_km``.
- Fit: bounded weighted least squares on the *relative* error (rows divided by the OSRM
  time), then the paths are recomputed with the new times, until the parameters settle
  (a few rounds).
- Report on the held-out pairs: median |ratio − 1|, P90, bias (median of ratio − 1) and
  the mean absolute error in minutes per band of OSRM time (0-20, 20-40, 40-60, 60+), with
  the commune-adjacency network's error on the same pairs for comparison; and, on the TER
  coach hops of the region, the share of stop pairs where the modelled car is slower than
  the scheduled coach.

``python -m analysis.mainroads.calibrate`` reproduces every figure; the defaults of
:class:`~analysis.mainroads.model.MainRoadParams` are the output of that run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear
from scipy.sparse.csgraph import dijkstra

from .. import settings
from ..crs import to_l93
from ..errors import DataMissingError, ValidationError
from ..estimated.calibration import ErrorStats
from ..graph import nearest_nodes
from .model import MainRoadParams, build_mainroad_network, edge_times, timed_graph
from .network import EDGE_CLASSES, MainRoadNetwork

logger = logging.getLogger(__name__)

#: The OSRM reference in the mirror.
OSRM_MATRIX = Path("roads/osrm_reference/TimeDistCarIsere.csv")
OSRM_POINTS = Path("roads/osrm_reference/isere.geojson")

#: Salt of the origin split (change it and the split changes).
SPLIT_SALT = "spro-access-mainroads-v1"

#: Path features: km of each class, then km inside urban-centre communes.
N_FEATURES = len(EDGE_CLASSES) + 1

#: Bands of OSRM time for the error in minutes.
BANDS_MIN = ((0, 20), (20, 40), (40, 60), (60, np.inf))

#: Bounds of the fitted seconds per km (classes) during the fit: 150 km/h … 15 km/h.
S_PER_KM_BOUNDS = (24.0, 240.0)
#: Classes the reference cannot identify share the rate of a class they drive like: Isère
#: has no métropole road system (those are Lyon's, Saint-Étienne's and Clermont's former
#: departmental roads), so "metropole" takes the departmental rate, the urban-centre extra
#: applying on top in the cities.
TIED_CLASSES = {"metropole": "departementale"}
#: Per-class bounds where physics says more than the fit can: exit connectors are ramps
#: (no faster than 80 km/h on their straight length).
CLASS_BOUNDS = {"connector": (45.0, 240.0)}

#: Bounds of the urban extra (s/km) and of the fixed leg (s); (0, 0) switches a term off.
URBAN_BOUNDS = (-10.0, 120.0)
FIXED_BOUNDS = (0.0, 600.0)
#: Bounds of the leg's seconds per straight km. The town halls mostly sit on a main road,
#: so the OSRM pairs hardly identify this term; the floor (60 s per straight km, i.e.
#: 78 km/h on a road 1.3 times the straight line) keeps a commune 5 km from every main road
#: from reaching it at motorway speed.
LEG_BOUNDS = (60.0, 360.0)


@dataclass(frozen=True)
class OsrmReference:
    """The OSRM matrix and its points.

    Attributes
    ----------
    insee
        INSEE code of each point, in the matrix order.
    x, y
        Town hall positions, Lambert-93 metres.
    time_s
        ``(n, n)`` car durations, seconds (row = origin).
    """

    insee: np.ndarray
    x: np.ndarray
    y: np.ndarray
    time_s: np.ndarray


def load_osrm_reference(shared_dir: Path | None = None) -> OsrmReference:
    """Read the OSRM Isère matrix and its town-hall points from the mirror.

    Raises
    ------
    DataMissingError
        If the files are not there.
    ValidationError
        If the matrix is not square, has gaps, or names a code the points lack.
    """
    root = Path(shared_dir) if shared_dir is not None else settings.shared_data_dir
    mpath, ppath = root / OSRM_MATRIX, root / OSRM_POINTS
    for p in (mpath, ppath):
        if not p.exists():
            raise DataMissingError(f"{p}: the OSRM reference is not there (see docs/data.md)")
    mat = pd.read_csv(mpath, dtype={"id": str})
    mat = mat.set_index("id")
    if list(mat.index) != list(mat.columns):
        raise ValidationError(
            f"{mpath}: rows and columns must list the same codes in the same order",
            source=str(mpath),
        )
    values = mat.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or values.min() < 0:
        bad = int((~np.isfinite(values)).sum() + (values < 0).sum())
        raise ValidationError(f"{mpath}: {bad} missing or negative durations", source=str(mpath))
    pts = gpd.read_file(ppath)[["id", "lon", "lat"]].astype({"id": str}).set_index("id")
    missing = [c for c in mat.index if c not in pts.index]
    if missing:
        raise ValidationError(
            f"{ppath}: no point for {len(missing)} code(s) of the matrix "
            f"({', '.join(missing[:5])})",
            source=str(ppath),
        )
    pts = pts.loc[mat.index]
    x, y = to_l93(pts["lon"].to_numpy(float), pts["lat"].to_numpy(float))
    return OsrmReference(insee=mat.index.to_numpy(dtype=object), x=x, y=y, time_s=values)


def heldout_origins(insee: np.ndarray, fraction: float = 0.3, salt: str = SPLIT_SALT) -> np.ndarray:
    """Whether each origin is held out (salted hash of its code, stable across runs)."""
    h = np.array(
        [int(hashlib.sha256(f"{salt}:{c}".encode()).hexdigest()[:8], 16) for c in insee],
        dtype=np.float64,
    )
    return h / 0xFFFFFFFF < fraction


def _edge_lookup(net: MainRoadNetwork, params: MainRoadParams) -> tuple[np.ndarray, np.ndarray]:
    """Sorted directed edge keys (tail × n + head) and their (class, km) — fastest kept."""
    n = net.n_nodes
    t = edge_times(net, params)
    uu = np.concatenate([net.u, net.v]).astype(np.int64)
    vv = np.concatenate([net.v, net.u]).astype(np.int64)
    key = uu * n + vv
    order = np.lexsort((np.concatenate([t, t]), key))
    key = key[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    km = np.concatenate([net.length_m, net.length_m])[order][first] / 1e3
    klass = np.concatenate([net.klass, net.klass])[order][first]
    urban = np.concatenate([net.is_urban, net.is_urban])[order][first]
    onehot = np.zeros((len(km), N_FEATURES), dtype=np.float64)
    onehot[np.arange(len(km)), klass] = km
    onehot[:, -1] = km * urban
    return key[first], onehot


def path_class_km(
    net: MainRoadNetwork,
    params: MainRoadParams,
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    batch: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path times and km per class between nodes, on the network timed by ``params``.

    The class lengths along each shortest-path tree are summed by pointer doubling on the
    predecessor arrays (``log2(depth)`` vectorised steps).

    Parameters
    ----------
    net, params
        The network and its timing.
    sources, targets
        Node indices.

    Returns
    -------
    time_s : numpy.ndarray
        ``(len(sources), len(targets))`` path times, seconds.
    km : numpy.ndarray
        ``(len(sources), len(targets), n_classes)`` km of each class along the path.
    """
    graph = timed_graph(net, params)
    keys, onehot = _edge_lookup(net, params)
    n = net.n_nodes
    out_t = np.empty((len(sources), len(targets)))
    out_km = np.empty((len(sources), len(targets), N_FEATURES))
    nodes = np.arange(n)
    for lo in range(0, len(sources), batch):
        src = sources[lo : lo + batch]
        dist, pred = dijkstra(graph.csr, directed=True, indices=src, return_predecessors=True)
        out_t[lo : lo + len(src)] = dist[:, targets]
        has = pred >= 0
        jump = np.where(has, pred, nodes[None, :])
        acc = np.zeros((len(src), n, N_FEATURES))
        pos = np.searchsorted(keys, jump[has].astype(np.int64) * n + np.nonzero(has)[1])
        acc[has] = onehot[pos]
        while True:
            nxt = np.take_along_axis(jump, jump, axis=1)
            if np.array_equal(nxt, jump):
                break
            acc += np.take_along_axis(acc, jump[:, :, None], axis=1)
            jump = nxt
        out_km[lo : lo + len(src)] = acc[:, targets, :]
    return out_t, out_km


@dataclass
class MainRoadCalibration:
    """Fitted parameters and their error.

    Attributes
    ----------
    params
        The fitted :class:`MainRoadParams`.
    train, test
        Error on training and held-out pairs (:class:`~analysis.estimated.calibration.ErrorStats`).
    test_bands
        Held-out error per band of OSRM time (mean absolute error in minutes and the
        relative statistics).
    adjacency_test
        The commune-adjacency network's error on the same held-out pairs.
    coach
        Share of TER coach stop pairs where the modelled car is slower than the coach.
    rounds
        Parameters after each fitting round.
    """

    params: MainRoadParams
    train: ErrorStats
    test: ErrorStats
    test_bands: pd.DataFrame
    adjacency_test: ErrorStats | None = None
    coach: dict[str, Any] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Plain summary stored with the model (``CALIBRATION_SUMMARY``)."""
        return {
            "source": "OSRM car durations between the 512 town halls of Isère (2021, car.lua)",
            "method": "python -m analysis.mainroads.calibrate",
            "counts": self.counts,
            "train": self.train.as_dict(),
            "test": self.test.as_dict(),
            "test_mae_min_by_band": {
                r["band"]: round(float(r["mae_min"]), 2) for _, r in self.test_bands.iterrows()
            },
            "adjacency_test": self.adjacency_test.as_dict() if self.adjacency_test else None,
            "coach_hops": dict(self.coach),
            "params": self.params.to_dict(),
        }

    def to_text(self) -> str:
        """Return the report printed by the command (and quoted in the README)."""
        p = self.params
        lines = [
            "Main-road model calibrated on OSRM car times (Isère town halls)",
            f"pairs: {self.counts}",
            "seconds per km (effective km/h): "
            + ", ".join(
                f"{c} {s:.1f} ({3600 / s:.0f})"
                for c, s in zip(EDGE_CLASSES, p.s_per_km, strict=True)
            ),
            f"urban-centre extra: {p.urban_extra_s_per_km:+.1f} s per km",
            f"first/last mile: {p.leg_fixed_s:.0f} s + {p.leg_s_per_km:.0f} s per straight km",
            f"train:    {self.train.as_dict()}",
            f"held out: {self.test.as_dict()}",
        ]
        if self.adjacency_test is not None:
            lines.append(
                f"commune-adjacency network, same held-out pairs: {self.adjacency_test.as_dict()}"
            )
        lines.append("held-out error by band of OSRM time:")
        lines.append(self.test_bands.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        if self.coach:
            lines.append(f"TER coach hops: {self.coach}")
        return "\n".join(lines)


def stats_by_band(model_s: np.ndarray, ref_s: np.ndarray) -> pd.DataFrame:
    """Error per band of reference time (:data:`BANDS_MIN`): MAE in minutes and % stats."""
    rows = []
    for lo, hi in BANDS_MIN:
        sel = (ref_s >= lo * 60) & (ref_s < hi * 60)
        s = ErrorStats.of(model_s[sel], ref_s[sel])
        rows.append(
            {
                "band": f"{lo}-{hi:.0f} min" if np.isfinite(hi) else f"{lo}+ min",
                "n": s.n,
                "mae_min": float(np.mean(np.abs(model_s[sel] - ref_s[sel])) / 60)
                if sel.any()
                else np.nan,
                "median_abs_pct": s.median_abs_pct,
                "bias_pct": s.bias_pct,
                "p90_abs_pct": s.p90_abs_pct,
            }
        )
    return pd.DataFrame(rows)


def _fit_round(
    km: np.ndarray,
    snap_km: np.ndarray,
    ref: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    *,
    urban: bool = True,
    fixed_leg: bool = True,
) -> np.ndarray:
    """One bounded weighted least-squares fit.

    Returns ``[s_per_km of each class..., urban_extra, leg_fixed, leg_s_per_km]``.
    """
    i, j = pairs
    feats = km[i, j, :].copy()
    # Tied classes share a rate: their km are counted in the class they are tied to.
    for klass, to in TIED_CLASSES.items():
        feats[:, EDGE_CLASSES.index(to)] += feats[:, EDGE_CLASSES.index(klass)]
    free = [k for k, c in enumerate(EDGE_CLASSES) if c not in TIED_CLASSES]
    a_cls = feats[:, [*free, len(EDGE_CLASSES)]]  # free classes, then the urban km
    a_fix = np.full((len(i), 1), 2.0)
    a_leg = (snap_km[i] + snap_km[j])[:, None]
    a = np.hstack([a_cls, a_fix, a_leg])
    b = ref[i, j]
    w = 1.0 / b
    ub = URBAN_BOUNDS if urban else (0.0, 1e-9)
    fb = FIXED_BOUNDS if fixed_leg else (0.0, 1e-9)
    lo = [CLASS_BOUNDS.get(EDGE_CLASSES[k], S_PER_KM_BOUNDS)[0] for k in free]
    hi = [CLASS_BOUNDS.get(EDGE_CLASSES[k], S_PER_KM_BOUNDS)[1] for k in free]
    lo += [ub[0], fb[0], LEG_BOUNDS[0]]
    hi += [ub[1], fb[1], LEG_BOUNDS[1]]
    x = lsq_linear(a * w[:, None], b * w, bounds=(lo, hi), method="trf").x
    rates = np.empty(len(EDGE_CLASSES))
    rates[free] = x[: len(free)]
    for klass, to in TIED_CLASSES.items():
        rates[EDGE_CLASSES.index(klass)] = rates[EDGE_CLASSES.index(to)]
    return np.concatenate([rates, x[len(free) :]])


def calibrate_mainroads(
    communes: gpd.GeoDataFrame,
    *,
    params: MainRoadParams | None = None,
    reference: OsrmReference | None = None,
    holdout_fraction: float = 0.3,
    rounds: int = 4,
    compare_adjacency: bool = True,
    coach_check: bool = True,
    urban: bool = True,
    fixed_leg: bool = True,
) -> MainRoadCalibration:
    """Fit the main-road speeds on the OSRM matrix and report their held-out error.

    Parameters
    ----------
    communes
        The commune layer (the network is built around it, as in production).
    params
        Starting parameters (extent and exit rules are kept; speeds are fitted).
    reference
        The OSRM reference; the mirror's if not given.
    holdout_fraction
        Share of origins held out.
    rounds
        Fit / re-route rounds.
    compare_adjacency
        Also report the commune-adjacency network on the held-out pairs.
    coach_check
        Also report the share of TER coach hops the car would drive slower.
    urban, fixed_leg
        Fit the urban-centre extra and the fixed part of the leg (else held at 0): the
        terms kept are those that lower the held-out error.

    Returns
    -------
    MainRoadCalibration
    """
    params = params or MainRoadParams()
    ref = reference or load_osrm_reference()
    net = build_mainroad_network(communes, params=params)
    graph = timed_graph(net, params)
    nodes, snap_m = nearest_nodes(graph, ref.x, ref.y)
    snap_km = snap_m / 1e3
    held = heldout_origins(ref.insee, holdout_fraction)
    n = len(ref.insee)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    off = ii != jj
    train = off & ~held[ii] & ~held[jj]
    test = off & held[ii] & held[jj]
    tr = (ii[train], jj[train])
    history = []
    for r in range(rounds):
        _, km = path_class_km(net, params, nodes, nodes)
        x = _fit_round(km, snap_km, ref.time_s, tr, urban=urban, fixed_leg=fixed_leg)
        params = MainRoadParams(
            **{
                **params.to_dict(),
                "s_per_km": tuple(round(float(v), 2) for v in x[: len(EDGE_CLASSES)]),
                "urban_extra_s_per_km": round(float(x[-3]), 2),
                "leg_fixed_s": round(float(x[-2]), 1),
                "leg_s_per_km": round(float(x[-1]), 1),
            }
        )
        history.append({"round": r + 1, **params.speeds_kmh(),
                        "urban_extra_s_per_km": params.urban_extra_s_per_km,
                        "leg_fixed_s": params.leg_fixed_s,
                        "leg_s_per_km": params.leg_s_per_km})  # fmt: skip
        logger.info("calibration round %d: %s", r + 1, history[-1])
    t_net, _ = path_class_km(net, params, nodes, nodes)
    legs = params.leg_s(snap_m)
    model = t_net + legs[:, None] + legs[None, :]
    cal = MainRoadCalibration(
        params=params,
        train=ErrorStats.of(model[train], ref.time_s[train]),
        test=ErrorStats.of(model[test], ref.time_s[test]),
        test_bands=stats_by_band(model[test], ref.time_s[test]),
        rounds=history,
        counts={
            "origins": n,
            "origins_held_out": int(held.sum()),
            "train_pairs": int(train.sum()),
            "test_pairs": int(test.sum()),
        },
    )
    if compare_adjacency:
        adj = _adjacency_times(communes, ref)
        if adj is not None:
            cal.adjacency_test = ErrorStats.of(adj[test], ref.time_s[test])
    if coach_check:
        cal.coach = _coach_check(net, params, communes)
    return cal


def _adjacency_times(communes: gpd.GeoDataFrame, ref: OsrmReference) -> np.ndarray | None:
    """Return the times between the reference communes on the commune-adjacency network."""
    from ..estimated.network import load_or_build_estimated_network

    est = load_or_build_estimated_network(communes)
    index = {c: k for k, c in enumerate(est.origin_ids)}
    if any(c not in index for c in ref.insee):
        return None
    k = np.array([index[c] for c in ref.insee])
    nodes = est.origin_nodes[k]
    d = dijkstra(est.graph.csr, directed=True, indices=nodes)[:, nodes]
    off = est.origin_offsets_s[k]
    return d + off[:, None] + off[None, :]


def _coach_check(
    net: MainRoadNetwork, params: MainRoadParams, communes: gpd.GeoDataFrame
) -> dict[str, Any]:
    """Share of TER coach stop pairs (scheduled hops) the modelled car drives slower."""
    try:
        from ..estimated.coach_hops import load_coach_hops

        hops = load_coach_hops(communes)
    except (DataMissingError, ValidationError, OSError) as exc:
        return {"skipped": str(exc)}
    cols = {"x_a", "y_a", "x_b", "y_b", "time_s"}
    if not cols <= set(hops.columns):
        return {"skipped": "coach hop table without stop coordinates"}
    hops = hops[hops["time_s"] > 0]
    pairs = hops.groupby(["x_a", "y_a", "x_b", "y_b"], sort=False)["time_s"].median().reset_index()
    dist = np.hypot(pairs["x_a"] - pairs["x_b"], pairs["y_a"] - pairs["y_b"])
    pairs = pairs[dist >= 1_000].reset_index(drop=True)
    graph = timed_graph(net, params)
    na, da = nearest_nodes(graph, pairs["x_a"].to_numpy(), pairs["y_a"].to_numpy())
    nb, db = nearest_nodes(graph, pairs["x_b"].to_numpy(), pairs["y_b"].to_numpy())
    ua, inv = np.unique(na, return_inverse=True)
    d = dijkstra(graph.csr, directed=True, indices=ua)
    road = d[inv, nb]
    door = road + params.leg_s(da) + params.leg_s(db)
    # On the road: the coach stops on the road, so only the distance part of the legs.
    on_road = road + (da + db) / 1e3 * params.leg_s_per_km
    coach = pairs["time_s"].to_numpy(float)
    dist = np.hypot(
        (pairs["x_a"] - pairs["x_b"]).to_numpy(float), (pairs["y_a"] - pairs["y_b"]).to_numpy(float)
    )
    out: dict[str, Any] = {
        "stop_pairs": len(pairs),
        "car_slower_pct": round(float((door > coach).mean() * 100), 1),
        "car_slower_on_road_pct": round(float((on_road > coach).mean() * 100), 1),
        "median_car_over_coach": round(float(np.median(door / coach)), 3),
    }
    for lo, hi, name in ((1e3, 5e3, "1-5 km"), (5e3, 15e3, "5-15 km"), (15e3, np.inf, "15+ km")):
        sel = (dist >= lo) & (dist < hi)
        if sel.any():
            out[f"car_slower_pct_{name}"] = round(float((door[sel] > coach[sel]).mean() * 100), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the calibration with its defaults and print the report."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.mainroads.calibrate",
        description="Fit the main-road speeds on the OSRM Isère car times and report the error.",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-urban", action="store_true", help="no urban-centre extra")
    parser.add_argument("--no-fixed-leg", action="store_true", help="no fixed leg time")
    args = parser.parse_args(argv)
    from ..communes import load_communes

    cal = calibrate_mainroads(
        load_communes(),
        rounds=args.rounds,
        urban=not args.no_urban,
        fixed_leg=not args.no_fixed_leg,
    )
    print(cal.to_text())
    print("params:", json.dumps(cal.params.to_dict()))
    if args.json is not None:
        args.json.write_text(json.dumps(cal.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
