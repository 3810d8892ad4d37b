"""Permanence siting: where a network's next ``k`` permanences should go.

A maximal covering location problem (MCLP): among candidate hosts (town halls, France
Services sites, other networks' SPRO sites), choose ``k`` new sites maximising the demand of
the network's profile that becomes covered (within the threshold), today's sites staying
fixed (communes already covered count for nothing).

- :func:`cost_matrix` gives candidate × commune travel times within the threshold: one
  limited scipy pass per unique candidate node, or one per commune still to cover (the
  "origins" side), whichever is fewer (``method="auto"``).
- :class:`MCLP` is built ``from_cost_matrix`` (in the manner of ``spopt``) and solved by a
  lazy greedy (submodular objective: stale gains are upper bounds) and, on instances small
  enough, exactly by an integer program (PuLP with HiGHS, or CBC), reporting the greedy's gap.
- :func:`site_permanences` runs the whole question and returns a :class:`SitingResult`.
"""

from __future__ import annotations

import heapq
import logging
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import access
from ..access import AccessModel
from ..crs import to_l93, to_lonlat
from ..errors import DataMissingError, UnknownNameError, ValidationError
from ..present.outputs import OutputSet, write_output_set
from ..present.planner_maps import siting_map
from ..schools import load_colleges
from ..sites.directory import load_france_services
from . import common
from .paths import limited_times

logger = logging.getLogger(__name__)

#: Kinds of candidate hosts.
HOSTS = ("town_halls", "france_services", "spro_sites", "colleges")

#: Methods of :func:`cost_matrix`.
COST_METHODS = ("auto", "candidates", "origins")


# ---------------------------------------------------------------------------------- costs
@dataclass(frozen=True)
class CostMatrix:
    """Travel times from communes to candidates, within a limit.

    Attributes
    ----------
    times_s
        ``n_candidates × n_origins`` sparse matrix of times (seconds) within the limit;
        stored entries are times (an explicit zero is a zero time).
    on_network
        Candidates that snap to the road network (the others have no entry).
    method
        ``"candidates"`` or ``"origins"`` (which side the passes ran from), or
        ``"nearest"`` (one ``.nearest`` call per candidate, for non-road models).
    passes
        Number of single-source passes run.
    seconds
        Wall time of the computation.
    """

    times_s: sp.csr_matrix
    on_network: np.ndarray
    method: str
    passes: int
    seconds: float


def cost_matrix(
    model: AccessModel,
    cand_x: np.ndarray,
    cand_y: np.ndarray,
    *,
    limit_s: float,
    origins: np.ndarray | None = None,
    method: str = "auto",
) -> CostMatrix:
    """Door-to-door times from communes to candidate sites, kept when within ``limit_s``.

    Parameters
    ----------
    model
        A road model (:class:`~analysis.road_model.RoadModel`); any other access model is
        answered with one ``.nearest`` call per candidate (slow).
    cand_x, cand_y
        Candidate coordinates, Lambert-93 metres.
    limit_s
        Keep times up to this (the coverage threshold), seconds.
    origins
        Row positions of the communes (model origins) to compute; default all.
    method
        ``"candidates"``: one pass per unique candidate node on the reversed graph;
        ``"origins"``: one pass per unique origin node on the forward graph; ``"auto"``:
        the side with fewer unique nodes.

    Returns
    -------
    CostMatrix
        ``times_s`` has one column per entry of ``origins``.
    """
    if method not in COST_METHODS:
        raise UnknownNameError("cost-matrix method", method, COST_METHODS)
    t0 = time.perf_counter()
    cand_x = np.asarray(cand_x, float)
    cand_y = np.asarray(cand_y, float)
    n_c = len(cand_x)
    if origins is None:
        n_all = len(model.origin_ids) if hasattr(model, "origin_ids") else None
        if n_all is None:
            raise ValidationError("give the origins for a model without origin_ids")
        origins = np.arange(n_all)
    origins = np.asarray(origins, dtype=np.int64)
    if not common.is_road_model(model):
        rows, cols, vals = [], [], []
        for j in range(n_c):
            t = np.asarray(model.nearest(cand_x[j : j + 1], cand_y[j : j + 1]).time_s)[origins]
            hit = np.flatnonzero(t <= limit_s)
            rows.append(np.full(len(hit), j))
            cols.append(hit)
            vals.append(t[hit])
        m = _csr(rows, cols, vals, (n_c, len(origins)))
        return CostMatrix(m, np.ones(n_c, bool), "nearest", n_c, time.perf_counter() - t0)

    snap = model.snap_sites(cand_x, cand_y)
    on = ~snap.too_far
    c_nodes = snap.node[on]
    c_off = snap.offset_s[on]
    o_nodes = np.asarray(model.origin_nodes, np.int64)[origins]
    o_off = np.asarray(model.origin_offsets_s, float)[origins]
    g = model.graph
    n_cu = len(np.unique(c_nodes))
    n_ou = len(np.unique(o_nodes))
    if method == "auto":
        method = "candidates" if n_cu <= n_ou else "origins"
    reach = (
        limit_s
        - (float(o_off.min()) if len(o_off) else 0.0)
        - (float(c_off.min()) if len(c_off) else 0.0)
    )
    if method == "candidates":
        raw = limited_times(g.csr_reverse, c_nodes, o_nodes, limit_s=reach)
        passes = n_cu
    else:
        raw = limited_times(g.csr, o_nodes, c_nodes, limit_s=reach).T.tocsr()
        passes = n_ou
    coo = raw.tocoo()
    t = coo.data + c_off[coo.row] + o_off[coo.col]
    keep = t <= limit_s
    on_idx = np.flatnonzero(on)
    m = _csr([on_idx[coo.row[keep]]], [coo.col[keep]], [t[keep]], (n_c, len(origins)))
    secs = time.perf_counter() - t0
    logger.info(
        "cost matrix %d×%d by %s: %d passes, %d entries, %.2f s",
        n_c,
        len(origins),
        method,
        passes,
        m.nnz,
        secs,
    )
    return CostMatrix(m, on, method, passes, secs)


def _csr(rows: list, cols: list, vals: list, shape: tuple[int, int]) -> sp.csr_matrix:
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    m = sp.csr_matrix((v.astype(float), (r.astype(np.int64), c.astype(np.int64))), shape=shape)
    m.sort_indices()
    return m


# ---------------------------------------------------------------------------------- MCLP
@dataclass(frozen=True)
class GreedySolution:
    """A greedy MCLP solution.

    Attributes
    ----------
    picks
        Candidate positions in pick order.
    gains
        Marginal gain (newly covered demand) of each pick.
    objective
        Total newly covered demand.
    evaluations
        Number of gain evaluations (lazy greedy's saving shows here).
    """

    picks: list[int]
    gains: list[float]
    objective: float
    evaluations: int


@dataclass(frozen=True)
class ExactSolution:
    """An integer-programming MCLP solution.

    Attributes
    ----------
    picks
        Candidate positions chosen (sorted).
    objective
        Newly covered demand.
    status
        Solver status (``"Optimal"`` when proved optimal).
    solver
        Solver used.
    seconds
        Solve time.
    """

    picks: list[int]
    objective: float
    status: str
    solver: str
    seconds: float


@dataclass
class MCLP:
    """Maximal covering location problem on a coverage matrix.

    Parameters
    ----------
    coverage
        Boolean ``n_candidates × n_points`` matrix: candidate ``j`` covers point ``i``.
    weights
        Demand of each point still to cover (zero for points already covered).
    candidate_ids
        Optional identifiers of the candidates.
    """

    coverage: sp.csr_matrix
    weights: np.ndarray
    candidate_ids: np.ndarray | None = None

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: np.ndarray | sp.spmatrix | sp.sparray,
        weights: np.ndarray,
        service_radius: float,
        *,
        already_covered: np.ndarray | None = None,
        candidate_ids: Sequence[Any] | None = None,
    ) -> MCLP:
        """Build the problem from a candidate × point cost matrix (spopt style).

        Parameters
        ----------
        cost_matrix
            Dense array (``inf``/``nan`` = unreachable) or sparse matrix whose *stored*
            entries are costs (explicit zeros are zero costs; absent entries unreachable),
            shape ``n_candidates × n_points``.
        weights
            Demand of each point.
        service_radius
            A candidate covers a point when the cost is ``<= service_radius``.
        already_covered
            Points covered by existing sites (their demand does not count).
        candidate_ids
            Identifiers of the candidates.

        Returns
        -------
        MCLP
        """
        w = np.asarray(weights, dtype=float).copy()
        if sp.issparse(cost_matrix):
            coo = sp.coo_matrix(cost_matrix)
            keep = coo.data <= service_radius
            n_c, n_p = coo.shape
            cov = sp.csr_matrix(
                (np.ones(int(keep.sum()), bool), (coo.row[keep], coo.col[keep])),
                shape=(n_c, n_p),
            )
        else:
            arr = np.asarray(cost_matrix, dtype=float)
            if arr.ndim != 2:
                raise ValidationError("the cost matrix must be 2-D (candidates × points)")
            n_c, n_p = arr.shape
            with np.errstate(invalid="ignore"):
                cov = sp.csr_matrix(np.nan_to_num(arr, nan=np.inf) <= service_radius)
        if len(w) != n_p:
            raise ValidationError(
                f"{len(w)} weights for {n_p} points: give one demand per column of the matrix"
            )
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValidationError("demand weights must be finite and non-negative")
        if already_covered is not None:
            w[np.asarray(already_covered, dtype=bool)] = 0.0
        ids = None if candidate_ids is None else np.asarray(candidate_ids, dtype=object)
        if ids is not None and len(ids) != n_c:
            raise ValidationError("one candidate id per row of the cost matrix is needed")
        cov.sum_duplicates()
        cov.sort_indices()
        return cls(coverage=cov.astype(bool).tocsr(), weights=w, candidate_ids=ids)

    @property
    def n_candidates(self) -> int:
        """Number of candidates."""
        return self.coverage.shape[0]

    def objective(self, picks: Sequence[int]) -> float:
        """Demand covered by a set of candidates (each point counted once)."""
        picks = list(picks)
        if not picks:
            return 0.0
        cov = np.zeros(self.coverage.shape[1], dtype=bool)
        for j in picks:
            cov[self.coverage.indices[self.coverage.indptr[j] : self.coverage.indptr[j + 1]]] = True
        return float(self.weights[cov].sum())

    def _check_k(self, k: int) -> None:
        if int(k) != k or k < 1:
            raise ValidationError(f"k must be a positive whole number, not {k}")
        if k > self.n_candidates:
            raise ValidationError(
                f"k = {k} is larger than the number of candidate sites ({self.n_candidates})"
            )

    def greedy(self, k: int, *, lazy: bool = True, stop_at_zero: bool = True) -> GreedySolution:
        """Pick ``k`` candidates greedily by marginal newly covered demand.

        Ties go to the lowest candidate position, so the lazy and the plain greedy pick the
        same sites.

        Parameters
        ----------
        k
            Number of sites to pick.
        lazy
            Lazy evaluation (stale gains are upper bounds: re-evaluate only the top).
        stop_at_zero
            Stop when no candidate adds anything (fewer than ``k`` picks).

        Returns
        -------
        GreedySolution
        """
        self._check_k(k)
        cov = self.coverage
        w = self.weights
        covered = np.zeros(cov.shape[1], dtype=bool)
        indptr, indices = cov.indptr, cov.indices

        def gain(j: int) -> float:
            pts = indices[indptr[j] : indptr[j + 1]]
            return float(w[pts[~covered[pts]]].sum())

        picks: list[int] = []
        gains: list[float] = []
        evals = 0
        if lazy:
            heap = []
            for j in range(self.n_candidates):
                heap.append((-gain(j), j))
            evals += self.n_candidates
            heapq.heapify(heap)
            while len(picks) < k and heap:
                _, j = heapq.heappop(heap)
                g = gain(j)
                evals += 1
                if heap and (-g, j) > heap[0]:
                    heapq.heappush(heap, (-g, j))
                    continue
                if g <= 0 and stop_at_zero:
                    break
                picks.append(j)
                gains.append(g)
                pts = indices[indptr[j] : indptr[j + 1]]
                covered[pts] = True
        else:
            available = np.ones(self.n_candidates, dtype=bool)
            while len(picks) < k and available.any():
                best_j, best_g = -1, -1.0
                for j in np.flatnonzero(available).tolist():
                    g = gain(j)
                    evals += 1
                    if g > best_g:
                        best_j, best_g = j, g
                if best_g <= 0 and stop_at_zero:
                    break
                picks.append(best_j)
                gains.append(best_g)
                available[best_j] = False
                covered[indices[indptr[best_j] : indptr[best_j + 1]]] = True
        return GreedySolution(picks, gains, float(sum(gains)), evals)

    def problem_size(self) -> tuple[int, int, int]:
        """Candidates, points and coverage entries of the reduced integer program."""
        useful_pts = self.weights > 0
        sub = self.coverage[:, useful_pts]
        useful_c = np.asarray(sub.sum(axis=1)).ravel() > 0
        sub = sub[useful_c]
        return int(useful_c.sum()), int(useful_pts.sum()), int(sub.nnz)

    def solve_exact(
        self, k: int, *, solver: str = "highs", time_limit_s: float = 60.0
    ) -> ExactSolution:
        """Solve the MCLP exactly with an integer program (PuLP).

        ``max Σ w_i y_i`` s.t. ``y_i <= Σ_{j covers i} x_j``, ``Σ x_j <= k``, ``x`` binary,
        ``0 <= y <= 1``; points with no demand and candidates covering none are dropped first.

        Parameters
        ----------
        k
            Number of sites.
        solver
            ``"highs"`` (HiGHS through highspy) or ``"cbc"``.
        time_limit_s
            Solver time limit; the status then says whether optimality was proved.

        Returns
        -------
        ExactSolution
        """
        import pulp

        self._check_k(k)
        solvers = {"highs": ("HiGHS",), "cbc": ("COIN_CMD", "PULP_CBC_CMD")}
        if solver not in solvers:
            raise UnknownNameError("solver", solver, solvers)
        t0 = time.perf_counter()
        useful_pts = np.flatnonzero(self.weights > 0)
        sub = self.coverage[:, useful_pts].tocsc()
        counts = np.asarray(sub.astype(np.int64).sum(axis=1)).ravel()
        useful_c = np.flatnonzero(counts > 0)
        if len(useful_c) <= k:
            picks = sorted(useful_c.tolist())
            return ExactSolution(picks, self.objective(picks), "Optimal", "trivial", 0.0)
        sub = sub[useful_c].tocsc()
        w = self.weights[useful_pts]
        prob = pulp.LpProblem("mclp", pulp.LpMaximize)
        # PuLP >= 3.3 creates variables through the problem (the 4.0 API); older ones directly.
        new_var = getattr(prob, "add_variable", None) or pulp.LpVariable
        x = [new_var(f"x{j}", 0, 1, cat="Binary") for j in range(len(useful_c))]
        y = [new_var(f"y{i}", 0, 1, cat="Continuous") for i in range(len(useful_pts))]
        prob += pulp.LpAffineExpression([(y[i], float(w[i])) for i in range(len(useful_pts))])
        for i in range(len(useful_pts)):
            js = sub.indices[sub.indptr[i] : sub.indptr[i + 1]]
            expr = pulp.LpAffineExpression([(x[j], 1.0) for j in js.tolist()] + [(y[i], -1.0)])
            prob += pulp.LpConstraint(expr, sense=pulp.LpConstraintGE, rhs=0)
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression([(v, 1.0) for v in x]), sense=pulp.LpConstraintLE, rhs=k
        )
        name, s = _solver(solvers[solver], time_limit_s)
        with warnings.catch_warnings():
            # PuLP 3.3 flags its bundled CBC as deprecated for 4.0; still the offline fallback.
            warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
            prob.solve(s)
        status = pulp.LpStatus[prob.status]
        chosen = [int(useful_c[j]) for j in range(len(x)) if (x[j].value() or 0) > 0.5]
        obj = self.objective(chosen)
        secs = time.perf_counter() - t0
        logger.info("MCLP exact (%s): %s, objective %.1f in %.2f s", name, status, obj, secs)
        return ExactSolution(sorted(chosen), obj, status, name, secs)


def _solver(names: Sequence[str], time_limit_s: float) -> tuple[str, Any]:
    """Return an available PuLP solver: one of ``names``, else HiGHS or a CBC."""
    import pulp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
        for cand in dict.fromkeys([*names, "HiGHS", "COIN_CMD", "PULP_CBC_CMD"]):
            try:
                s = pulp.getSolver(cand, msg=False, timeLimit=time_limit_s)
            except pulp.PulpSolverError:
                continue
            if s.available():
                if cand not in names:
                    logger.warning("solver %s is not available; using %s", names[0], cand)
                return cand, s
    raise DataMissingError("no integer-programming solver is available (install highspy)")


# ---------------------------------------------------------------------------------- hosts
def candidate_hosts(
    communes: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    network: str,
    hosts: Sequence[str] = HOSTS,
    france_services: pd.DataFrame | None = None,
    colleges: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the candidate hosts of new permanences.

    Parameters
    ----------
    communes
        The communes: each town hall (the commune's origin point) is a candidate.
    sites
        The SPRO directory: sites of *other* networks are candidate hosts.
    network
        The network siting permanences (its own sites are not candidates).
    hosts
        Which kinds of hosts (:data:`HOSTS`).
    france_services
        France Services sites (default: :func:`analysis.sites.directory.load_france_services`).
    colleges
        Collèges (default: :func:`analysis.schools.load_colleges`, those with a position).

    Returns
    -------
    pandas.DataFrame
        ``candidate_id, name, host, insee, commune, lon, lat, x_l93, y_l93, provenance``.
    """
    for h in hosts:
        if h not in HOSTS:
            raise UnknownNameError("host kind", h, HOSTS)
    parts = []
    if "town_halls" in hosts:
        parts.append(
            pd.DataFrame(
                {
                    "candidate_id": "TH-" + communes["insee"].astype(str),
                    "name": "Mairie de " + communes["nom"].astype(str),
                    "host": "town hall",
                    "insee": communes["insee"].astype(str),
                    "commune": communes["nom"].astype(str),
                    "lon": communes["lon"].astype(float),
                    "lat": communes["lat"].astype(float),
                    "x_l93": communes["x_l93"].astype(float),
                    "y_l93": communes["y_l93"].astype(float),
                    "provenance": "commune origin point",
                }
            )
        )
    if "france_services" in hosts:
        fs = france_services
        if fs is None:
            fs = load_france_services()
        parts.append(_host_table(fs, "France Services", "FS-"))
    if "spro_sites" in hosts:
        other = sites[sites["network"].astype(str) != network]
        parts.append(_host_table(other, "SPRO site", "SP-"))
    if "colleges" in hosts:
        col = colleges
        if col is None:
            col = load_colleges()
        if "has_position" in col.columns:
            col = col[col["has_position"].astype(bool)]
        col = col.assign(
            site_id=col["uai"].astype(str),
            name=col["name"]
            .astype(str)
            .map(
                lambda n: (
                    n if re.match(r"(?i)\s*(coll[eéèê]ge|[eé]cole|lyc[eé]e)", n) else f"Collège {n}"
                )
            ),
            provenance="open-data:colleges_aura_geoloc_2024.csv",
        )
        parts.append(_host_table(col, "collège", "CL-"))
    if not parts:
        raise ValidationError(f"no host kind chosen; choose among {', '.join(HOSTS)}")
    out = pd.concat(parts, ignore_index=True)
    return out.drop_duplicates("candidate_id").reset_index(drop=True)


def _host_table(df: pd.DataFrame, host: str, prefix: str) -> pd.DataFrame:
    if len(df) == 0:
        return pd.DataFrame(
            columns=[
                "candidate_id",
                "name",
                "host",
                "insee",
                "commune",
                "lon",
                "lat",
                "x_l93",
                "y_l93",
                "provenance",
            ]
        )
    ids = (
        df["site_id"].astype(str)
        if "site_id" in df.columns
        else pd.Series([str(i) for i in range(len(df))], index=df.index)
    )
    label: str | pd.Series = host
    if "network" in df.columns and host == "SPRO site":
        label = "SPRO site (" + df["network"].astype(str) + ")"
    x, y = (df["x_l93"], df["y_l93"]) if "x_l93" in df.columns else to_l93(df["lon"], df["lat"])
    return pd.DataFrame(
        {
            "candidate_id": (prefix + ids).to_numpy(),
            "name": df["name"].astype(str).to_numpy(),
            "host": label if isinstance(label, str) else label.to_numpy(),
            "insee": df["insee"].astype(str).to_numpy() if "insee" in df.columns else "",
            "commune": df["commune_name"].astype(str).to_numpy()
            if "commune_name" in df.columns
            else "",
            "lon": df["lon"].astype(float).to_numpy(),
            "lat": df["lat"].astype(float).to_numpy(),
            "x_l93": np.asarray(x, float),
            "y_l93": np.asarray(y, float),
            "provenance": df["provenance"].astype(str).to_numpy()
            if "provenance" in df.columns
            else "",
        }
    )


def greedy_gap(greedy_objective: float, optimum: float) -> float:
    """Relative gap of the greedy to the optimum, never below 0.

    The solver's tolerance can put its optimum a hair under the greedy's objective
    (shown as "-0.00 %"); the greedy cannot beat the optimum, so that is a gap of 0.
    """
    if not optimum > 0:
        return 0.0
    gap = (optimum - greedy_objective) / optimum
    return 0.0 if gap < 1e-9 else float(gap)


# ---------------------------------------------------------------------------------- run
@dataclass
class SitingResult:
    """The proposed permanences for one network.

    Attributes
    ----------
    network, profile_key, k, threshold_min, mode
        What was asked.
    picks
        One row per pick in greedy order: ``order, candidate_id, name, host, insee, commune,
        lon, lat, marginal_gain, cumulative_gain, communes_newly_covered, in_exact,
        times_are, model``.
    communes
        Every commune: ``insee, nom, dep, demand, time_before_min, covered_before,
        newly_covered_by, time_to_pick_min``, polygons.
    existing
        Today's eligible sites of the profile (fixed).
    candidates
        Every candidate host with its standalone gain.
    summary
        Headline figures (demand uncovered before/after, greedy and exact objectives, gap,
        solver status, timings).
    estimated, provenance, notes
        Labels.
    """

    network: str
    profile_key: str
    k: int
    threshold_min: float
    mode: str
    picks: pd.DataFrame
    communes: gpd.GeoDataFrame
    existing: pd.DataFrame
    candidates: pd.DataFrame
    summary: dict[str, Any]
    estimated: bool
    provenance: str
    times_are: str = "estimated"
    notes: list[str] = field(default_factory=list)

    def export(self, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write picks, communes, candidates, summary (CSV + GeoPackage) and the map."""
        return write_output_set(out_dir, self.output_set(), overwrite=overwrite)

    def output_set(self) -> OutputSet:
        """Return what :meth:`export` writes (the app's downloads are the same files)."""
        picks_g = gpd.GeoDataFrame(
            self.picks,
            geometry=gpd.points_from_xy(self.picks["lon"], self.picks["lat"]),
            crs="EPSG:4326",
        )
        summary = pd.DataFrame([self.summary])
        return OutputSet(
            tables={
                "picks": self.picks,
                "communes": self.communes,
                "candidates": self.candidates,
                "summary": summary,
            },
            layers={"picks": picks_g, "communes": self.communes},
            kind="siting",
            map_builder=self.map,
            metadata={
                "tool": "permanence siting (MCLP)",
                "network": self.network,
                "profile": self.profile_key,
                "k": self.k,
                "threshold_min": self.threshold_min,
                "mode": self.mode,
                "times_are": self.times_are,
                "provenance": self.provenance,
                "summary": self.summary,
                "notes": self.notes,
            },
            provenance=self.provenance,
            times_are=self.times_are,
        )

    def map(self, *, basemap: str = "none") -> Any:
        """Return a folium map of the picks and the communes they newly cover."""
        return siting_map(self, basemap=basemap)


def site_permanences(
    model: AccessModel,
    sites: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    network: str,
    k: int,
    threshold_min: float | None = None,
    profile: str | None = None,
    profiles: common.ProfilesArg = None,
    hosts: Sequence[str] = HOSTS,
    candidates: pd.DataFrame | None = None,
    france_services: pd.DataFrame | None = None,
    exact: bool | str = "auto",
    max_exact_entries: int = 200_000,
    exact_time_limit_s: float = 60.0,
    solver: str = "highs",
    method: str = "auto",
) -> SitingResult:
    """Propose ``k`` new permanences of a network maximising newly covered demand.

    Parameters
    ----------
    model
        The access model (road model for the cost matrix; others are slow).
    sites
        The site directory; the profile's eligible sites stay fixed.
    communes
        The communes.
    network
        The network (any known name or alias; unknown names list the valid ones).
    k
        How many new permanences.
    threshold_min
        Coverage threshold (default: the profile's for the model's mode).
    profile
        The public to cover (default: the most specific profile the network serves).
    profiles
        ``{key: Profile}`` (default: the profiles file).
    hosts
        Kinds of candidate hosts, see :func:`candidate_hosts`.
    candidates
        Your own candidate table instead (``candidate_id, name, x_l93, y_l93, lon, lat``…).
    france_services
        France Services sites (default: the bundled file).
    exact
        Also solve exactly: ``True``, ``False`` or ``"auto"`` (when the reduced integer
        program has at most ``max_exact_entries`` coverage entries).
    max_exact_entries
        Size limit of ``exact="auto"``.
    exact_time_limit_s
        Time limit of the exact solver.
    solver
        ``"highs"`` or ``"cbc"``.
    method
        Cost-matrix method (see :func:`cost_matrix`).

    Returns
    -------
    SitingResult

    Raises
    ------
    UnknownNameError
        Unknown network, profile or host kind.
    ValidationError
        ``k`` larger than the number of candidates, or not a positive whole number.
    """
    network = common.canonical_network(network)
    profs = common.profile_map(profiles)
    prof = (
        common.get_profile(profile, profs)
        if profile is not None
        else common.profile_for_network(network, profs)
    )
    mode = str(getattr(model, "mode", "road"))
    access.check_origins(model, communes)
    thr_s = access.threshold_s(prof, mode, threshold_min)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValidationError(f"k must be a positive whole number, not {k}")
    k = int(k)
    cands = (
        candidate_hosts(
            communes, sites, network=network, hosts=hosts, france_services=france_services
        )
        if candidates is None
        else _given_candidates(candidates)
    )
    if k > len(cands):
        raise ValidationError(
            f"k = {k} is larger than the number of candidate sites ({len(cands)}); "
            "choose a smaller k or more host kinds"
        )

    base = access.baseline_pass(
        model, sites, communes, prof, threshold_min=threshold_min, mode=mode, allow_empty=True
    )
    demand = base.demand
    weight = base.weight  # communes outside the model's data carry no weight
    existing = base.sites
    before = base.time_s
    covered = base.covered
    todo = np.flatnonzero(base.underserved & (weight > 0))
    cm = cost_matrix(
        model,
        cands["x_l93"].to_numpy(float),
        cands["y_l93"].to_numpy(float),
        limit_s=thr_s,
        origins=todo,
        method=method,
    )
    prob = MCLP.from_cost_matrix(
        cm.times_s, weight[todo], thr_s, candidate_ids=cands["candidate_id"].tolist()
    )
    t0 = time.perf_counter()
    greedy = prob.greedy(k)
    t_greedy = time.perf_counter() - t0
    notes: list[str] = []
    if len(greedy.picks) < k:
        notes.append(
            f"only {len(greedy.picks)} of the {k} permanences add coverage at "
            f"{thr_s / 60:g} min; the others would cover no one new"
        )
    n_c, n_p, nnz = prob.problem_size()
    ex = _maybe_exact(
        prob, k, exact, nnz=nnz, max_entries=max_exact_entries, solver=solver,
        time_limit_s=exact_time_limit_s, notes=notes,
    )  # fmt: skip

    model_label = getattr(model, "label", mode)
    t_are = access.times_are_label(model)
    picks, covered_by, t_pick = _picks_table(
        greedy, ex, cm, cands, todo, len(communes), t_are=t_are, model_label=model_label
    )
    ctab = gpd.GeoDataFrame(
        {
            "insee": communes["insee"].to_numpy(),
            "nom": communes["nom"].to_numpy(),
            "dep": communes["dep"].to_numpy(),
            "demand": demand,
            "time_before_min": before / 60.0,
            "covered_before": covered,
            "assessed": base.assessed,
            "newly_covered_by": covered_by,
            "time_to_pick_min": t_pick,
            "times_are": t_are,
        },
        geometry=communes.geometry.to_numpy() if hasattr(communes, "geometry") else None,
        crs=getattr(communes, "crs", None),
    )
    standalone = np.asarray(prob.coverage.astype(float) @ prob.weights, dtype=float).ravel()
    cand_table = cands.assign(standalone_gain=standalone, on_network=cm.on_network)
    total = float(weight.sum())
    unc_before = float(weight[~covered].sum())
    unc_after = float(weight[~covered & pd.isna(covered_by)].sum())
    summary = {
        "network": network,
        "profile": prof.key,
        "mode": mode,
        "threshold_min": thr_s / 60.0,
        "k": k,
        "picks": len(greedy.picks),
        "candidates": len(cands),
        "candidates_off_network": int((~cm.on_network).sum()),
        "demand_total": total,
        "communes_unassessed": int((~base.assessed).sum()),
        "demand_uncovered_before": unc_before,
        "demand_uncovered_after": unc_after,
        "share_uncovered_before": unc_before / total if total > 0 else np.nan,
        "share_uncovered_after": unc_after / total if total > 0 else np.nan,
        "greedy_objective": greedy.objective,
        "greedy_evaluations": greedy.evaluations,
        "greedy_seconds": t_greedy,
        "cost_matrix_method": cm.method,
        "cost_matrix_passes": cm.passes,
        "cost_matrix_seconds": cm.seconds,
        "ip_candidates": n_c,
        "ip_points": n_p,
        "ip_entries": nnz,
        "exact_objective": ex.objective if ex else np.nan,
        "exact_status": ex.status if ex else "not run",
        "exact_solver": ex.solver if ex else "",
        "exact_seconds": ex.seconds if ex else np.nan,
        "greedy_gap": greedy_gap(greedy.objective, ex.objective) if ex else np.nan,
        "times_are": t_are,
        "model": model_label,
    }
    prov = common.provenance({mode: model}, existing)
    if t_are == "estimated":
        notes.append("Times come from an ESTIMATED road network; figures are approximations.")
    logger.info(
        "siting %s: %d picks cover %.0f new demand (greedy)", network, len(picks), greedy.objective
    )
    return SitingResult(
        network=network,
        profile_key=prof.key,
        k=k,
        threshold_min=thr_s / 60.0,
        mode=mode,
        picks=picks,
        communes=ctab,
        existing=existing,
        candidates=cand_table,
        summary=summary,
        estimated=t_are != "measured",
        times_are=t_are,
        provenance=prov,
        notes=notes,
    )


def _given_candidates(candidates: pd.DataFrame) -> pd.DataFrame:
    """Return the caller's candidate table, with ids, host kind and lon/lat filled in."""
    cands = pd.DataFrame(candidates.drop(columns="geometry", errors="ignore")).reset_index(
        drop=True
    )
    if "candidate_id" not in cands.columns:
        cands["candidate_id"] = [f"C{i + 1}" for i in range(len(cands))]
    if "host" not in cands.columns:
        cands["host"] = "user candidate"
    if "lon" not in cands.columns:
        cands["lon"], cands["lat"] = to_lonlat(cands["x_l93"], cands["y_l93"])
    return cands


def _maybe_exact(
    prob: MCLP,
    k: int,
    exact: bool | str,
    *,
    nnz: int,
    max_entries: int,
    solver: str,
    time_limit_s: float,
    notes: list[str],
) -> ExactSolution | None:
    """Solve the integer program when asked, or when small enough under ``"auto"``."""
    if exact not in (True, False, "auto"):
        raise ValidationError(f"exact must be True, False or 'auto', not {exact!r}")
    if exact is True or (exact == "auto" and nnz <= max_entries):
        return prob.solve_exact(k, solver=solver, time_limit_s=time_limit_s)
    if exact == "auto":
        notes.append(
            f"exact solution skipped: {nnz:,} coverage entries > {max_entries:,} "
            "(pass exact=True to force it)"
        )
    return None


#: Columns of the siting result's ``picks`` table.
PICK_COLUMNS = [
    "order", "candidate_id", "name", "host", "insee", "commune", "lon", "lat",
    "marginal_gain", "cumulative_gain", "communes_newly_covered", "in_exact",
    "host_provenance", "times_are", "model",
]  # fmt: skip


def _picks_table(
    greedy: GreedySolution,
    ex: ExactSolution | None,
    cm: CostMatrix,
    cands: pd.DataFrame,
    todo: np.ndarray,
    n_communes: int,
    *,
    t_are: str,
    model_label: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Build the picks in greedy order; a commune goes to the first pick that covers it.

    Returns the picks, the pick newly covering each commune (``None`` if none) and the
    time to it (minutes).
    """
    covered_by = np.full(n_communes, None, dtype=object)
    t_pick = np.full(n_communes, np.nan)
    cov_csr = cm.times_s
    rows = []
    cum = 0.0
    for order, (j, g) in enumerate(zip(greedy.picks, greedy.gains, strict=True), start=1):
        cum += g
        lo, hi = cov_csr.indptr[j], cov_csr.indptr[j + 1]
        cols, ts = cov_csr.indices[lo:hi], cov_csr.data[lo:hi]
        com = todo[cols]
        new = np.array([covered_by[c] is None for c in com], dtype=bool)
        covered_by[com[new]] = cands["candidate_id"].iloc[j]
        t_pick[com[new]] = ts[new] / 60.0
        r = cands.iloc[j]
        rows.append(
            {
                "order": order,
                "candidate_id": r["candidate_id"],
                "name": r["name"],
                "host": r.get("host", ""),
                "insee": r.get("insee", ""),
                "commune": r.get("commune", ""),
                "lon": float(r["lon"]),
                "lat": float(r["lat"]),
                "marginal_gain": g,
                "cumulative_gain": cum,
                "communes_newly_covered": int(new.sum()),
                "in_exact": (j in ex.picks) if ex is not None else None,
                "host_provenance": r.get("provenance", ""),
                "times_are": t_are,
                "model": model_label,
            }
        )
    return pd.DataFrame(rows, columns=PICK_COLUMNS), covered_by, t_pick
