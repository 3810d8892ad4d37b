"""Labelling application (what-if): what a candidate site adds, and what a closure loses.

A planner enters one or more candidate sites (network, kind, position) and/or existing sites
to remove. :class:`WhatIf` computes, once per profile and mode, today's times (the
*baseline*), then gives each candidate a *card* per profile it serves and per mode: newly
covered demand, the demand whose time improves and by how much, demand-weighted P50/P90
before and after, the share of the candidate's catchment already served by existing sites
(overlap), the communes that change status, and a rank among the candidates. A closure gets
the same card, with losses.

On a road model the answer is incremental and exact:

- addition: :func:`~analysis.planning.paths.pruned_search` from the candidate only, pruned
  where it is no better than today's time (new time = min(old, candidate));
- closure: :func:`~analysis.planning.paths.closure_pass`, recomputing only the nodes whose
  nearest site was the closed one.

Other access models (transit, best of road and transit) are answered by a full recompute
through their ``.nearest`` (exact by construction). ``incremental=False`` forces the full
recompute everywhere (the reference the tests and benchmarks compare against).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import access
from ..crs import locate_points, to_lonlat
from ..engine import NearestResult, times_for_origins
from ..errors import UnknownNameError, ValidationError
from ..present.outputs import OutputSet, write_output_set
from ..present.planner_maps import whatif_map
from ..road_model import SiteSnap
from . import common
from .cardstats import CardBase, card_figures
from .paths import closure_pass, pruned_search_arrays

logger = logging.getLogger(__name__)

#: Columns of a card (one row per candidate × profile × mode).
CARD_COLUMNS = (
    "candidate_id",
    "candidate_name",
    "action",
    "network",
    "kind",
    "profile",
    "profile_label",
    "mode",
    "threshold_min",
    "on_network",
    "demand_newly_covered",
    "demand_losing_cover",
    "communes_newly_covered",
    "communes_losing_cover",
    "demand_time_improved",
    "population_time_improved",
    "demand_time_worsened",
    "population_time_worsened",
    "mean_gain_min",
    "max_gain_min",
    "mean_loss_min",
    "max_loss_min",
    "person_minutes_saved",
    "p50_before_min",
    "p50_after_min",
    "p90_before_min",
    "p90_after_min",
    "catchment_demand",
    "overlap_share",
    "score",
    "rank",
    "times_are",
    "model",
    "provenance",
)


@dataclass
class Baseline:
    """Today's times for one profile and one mode.

    Attributes
    ----------
    profile
        The public.
    mode
        The access model's mode.
    threshold_s
        Coverage threshold, seconds.
    demand
        The profile's demand per commune.
    sites
        The profile's eligible sites (row positions are the ``site`` values below).
    origin_time_s, origin_site
        Time from every commune to its nearest eligible site and which site.
    card
        Today's figures prepared for sparse card computations.
    snap, node
        Road models only: the sites' snap and the node-level pass (for incremental passes).
    host_rows
        Road models only: the commune row hosting each eligible site (``-1`` unknown), for
        the host-commune rule (:meth:`analysis.road_model.RoadModel.apply_host_rule`).
    """

    profile: Any
    mode: str
    threshold_s: float
    demand: np.ndarray
    sites: pd.DataFrame
    origin_time_s: np.ndarray
    origin_site: np.ndarray
    card: CardBase
    snap: Any = None
    node: NearestResult | None = None
    host_rows: np.ndarray | None = None

    @property
    def covered(self) -> np.ndarray:
        """Communes within the threshold today."""
        return self.origin_time_s <= self.threshold_s


@dataclass
class Change:
    """What one candidate or closure does for one profile and mode.

    Attributes
    ----------
    rows
        Communes whose time changes.
    after_s
        Their new time, seconds.
    on_network
        False when the candidate is too far from the road network (no effect computed).
    """

    rows: np.ndarray
    after_s: np.ndarray
    on_network: bool = True

    @classmethod
    def dense(cls, before_s: np.ndarray, after_s: np.ndarray) -> Change:
        """Build a change from full before/after arrays."""
        after_s = np.asarray(after_s, dtype=float)
        rows = np.flatnonzero(after_s != before_s)
        return cls(rows=rows, after_s=after_s[rows])

    @classmethod
    def none(cls, *, on_network: bool = True) -> Change:
        """No commune changes."""
        return cls(rows=np.zeros(0, np.int64), after_s=np.zeros(0), on_network=on_network)


@dataclass
class WhatIfResult:
    """Cards for the candidates and closures of one what-if question.

    Attributes
    ----------
    cards
        One row per candidate (or closure) × profile × mode, columns :data:`CARD_COLUMNS`.
    changes
        One row per candidate × profile × mode × commune whose time changes: ``insee, nom,
        dep, before_min, after_min, gain_min, covered_before, covered_after, status_change``,
        polygon geometry (EPSG:4326).
    candidates
        The candidates and closed sites (``candidate_id, name, action, network, kind, lon,
        lat, provenance`` …), point geometry.
    ranking
        One row per candidate: ``candidate_id, action, score, rank``.
    models
        Mode → model label.
    estimated
        Whether any of the times is estimated.
    provenance
        What is real, modelled, estimated.
    """

    cards: pd.DataFrame
    changes: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    ranking: pd.DataFrame
    models: dict[str, str]
    estimated: bool
    provenance: str
    times_are: str = "estimated"
    notes: list[str] = field(default_factory=list)

    def side_by_side(self, *, profile: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """Return the cards as a table with one column per candidate (metrics as rows).

        Parameters
        ----------
        profile, mode
            Restrict to one profile and/or mode (default: every card, columns
            ``candidate · profile · mode``).

        Returns
        -------
        pandas.DataFrame
        """
        c = self.cards
        if profile is not None:
            c = c[c["profile"] == profile]
        if mode is not None:
            c = c[c["mode"] == mode]
        metrics = [
            "action",
            "network",
            "kind",
            "on_network",
            "demand_newly_covered",
            "demand_losing_cover",
            "communes_newly_covered",
            "communes_losing_cover",
            "demand_time_improved",
            "mean_gain_min",
            "demand_time_worsened",
            "mean_loss_min",
            "p50_before_min",
            "p50_after_min",
            "p90_before_min",
            "p90_after_min",
            "catchment_demand",
            "overlap_share",
            "rank",
            "times_are",
        ]
        cols = {}
        for _, row in c.iterrows():
            name = f"{row['candidate_name']} · {row['profile']} · {row['mode']}"
            cols[name] = [row[m] for m in metrics]
        return pd.DataFrame(cols, index=metrics)

    def export(self, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write cards, changed communes, candidates (CSV + GeoPackage) and the map (HTML).

        Parameters
        ----------
        out_dir
            Output folder (created if needed).
        overwrite
            Replace existing files; otherwise refuse before writing anything.

        Returns
        -------
        dict of str to pathlib.Path
        """
        return write_output_set(out_dir, self.output_set(), overwrite=overwrite)

    def output_set(self) -> OutputSet:
        """Return what :meth:`export` writes (the app's downloads are the same files)."""
        return OutputSet(
            tables={
                "cards": self.cards,
                "changes": self.changes,
                "candidates": self.candidates,
                "ranking": self.ranking,
            },
            layers={"changes": self.changes, "candidates": self.candidates},
            kind="whatif",
            map_builder=self.map,
            metadata={
                "tool": "what-if (labelling application)",
                "models": self.models,
                "times_are": self.times_are,
                "provenance": self.provenance,
                "notes": self.notes,
            },
            provenance=self.provenance,
            times_are=self.times_are,
        )

    def map(
        self, *, profile: str | None = None, mode: str | None = None, basemap: str = "none"
    ) -> Any:
        """Return a folium map of the candidates and the communes whose status changes."""
        return whatif_map(self, profile=profile, mode=mode, basemap=basemap)


# ---------------------------------------------------------------------------------- engine
class WhatIf:
    """A what-if session: today's times per profile and mode, then cards for candidates.

    Parameters
    ----------
    models
        The access model(s): one model, a sequence, or ``{mode: model}``. The first is the
        primary mode (rankings use it).
    sites
        The site directory (all networks), as loaded by
        :func:`analysis.sites.directory.load_bundled_directory`.
    communes
        The communes (origins of the models, same order).
    profiles
        ``{key: Profile}`` or a sequence of profiles (default: the profiles file).
    thresholds_min
        Override of the profiles' thresholds: one number for all, or ``{profile key: min}``.
    incremental
        Use the incremental passes on road models (default). ``False`` recomputes everything
        (the reference).

    Examples
    --------
    >>> session = WhatIf(road_model, sites, communes)  # doctest: +SKIP
    >>> result = session.evaluate(candidates, remove=["ML-0042"])  # doctest: +SKIP
    >>> result.side_by_side(profile="jeunes_16_25")  # doctest: +SKIP
    """

    def __init__(
        self,
        models: common.ModelsArg,
        sites: pd.DataFrame,
        communes: pd.DataFrame,
        profiles: common.ProfilesArg = None,
        *,
        thresholds_min: float | Mapping[str, float] | None = None,
        incremental: bool = True,
    ) -> None:
        self.models = common.as_models(models)
        for m in self.models.values():
            access.check_origins(m, communes)
        self.sites = sites
        self.communes = communes
        self.profiles = common.profile_map(profiles)
        self.thresholds_min = thresholds_min
        self.incremental = incremental
        self._baselines: dict[tuple[str, str], Baseline] = {}
        self._origin_index: dict[str, tuple[dict[int, list[int]], list[float]]] = {}
        self.population = communes["pop_mun"].to_numpy(float)

    # ------------------------------------------------------------------ baselines
    def _threshold_min(self, key: str) -> float | None:
        t = self.thresholds_min
        if t is None:
            return None
        if isinstance(t, Mapping):
            return t.get(key)
        return float(t)

    def baseline(self, profile: str, mode: str) -> Baseline:
        """Today's times for one profile and mode (computed once, then cached).

        Parameters
        ----------
        profile
            Profile key.
        mode
            One of the session's modes.

        Returns
        -------
        Baseline
        """
        if mode not in self.models:
            raise UnknownNameError("mode", mode, self.models)
        prof = common.get_profile(profile, self.profiles)
        key = (prof.key, mode)
        if key in self._baselines:
            return self._baselines[key]
        model = self.models[mode]
        thr = access.threshold_s(prof, mode, self._threshold_min(prof.key))
        ok = access.origin_assessed(model, len(self.communes))
        # Communes outside the model's data carry no weight in the cards.
        demand = np.where(ok, access.profile_demand(prof, self.communes), 0.0)
        population = np.where(ok, self.population, 0.0)
        elig = access.eligible(prof, self.sites, allow_empty=True)
        x = elig["x_l93"].to_numpy(float)
        y = elig["y_l93"].to_numpy(float)
        snap = node = host_rows = None
        if common.is_road_model(model):
            snap = model.snap_sites(x, y)
            if len(elig) == 0 or snap.too_far.all():
                n = model.graph.n_nodes
                node = NearestResult(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
            else:
                node = model.pass_from_snap(snap)
            t, s = times_for_origins(node, model.origin_nodes, model.origin_offsets_s)
            hosts = access.host_ids(elig)
            if hosts is not None:
                t, s = model.apply_host_rule(t, s, hosts)
                host_rows = model.origin_rows(hosts)
        elif len(elig) == 0:
            t = np.full(len(self.communes), np.inf)
            s = np.full(len(self.communes), -1, dtype=np.int64)
        else:
            ans = access.nearest_to(model, elig)
            t, s = ans.time_s, ans.site
        t = np.asarray(t, float)
        b = Baseline(
            profile=prof,
            mode=mode,
            threshold_s=thr,
            demand=demand,
            sites=elig,
            origin_time_s=t,
            origin_site=np.asarray(s, np.int64),
            card=CardBase.build(t, demand, population, thr),
            snap=snap,
            node=node,
            host_rows=host_rows,
        )
        self._baselines[key] = b
        logger.info("what-if baseline %s/%s: %d eligible sites", prof.key, mode, len(elig))
        return b

    def _origins_at(self, mode: str) -> tuple[dict[int, list[int]], list[float]]:
        """Origin rows standing on each node, and the origins' access times (cached)."""
        if mode not in self._origin_index:
            model = self.models[mode]
            assert common.is_road_model(model)  # only road passes are incremental
            at: dict[int, list[int]] = {}
            for r, v in enumerate(np.asarray(model.origin_nodes).tolist()):
                at.setdefault(v, []).append(r)
            self._origin_index[mode] = (at, np.asarray(model.origin_offsets_s, float).tolist())
        return self._origin_index[mode]

    # ------------------------------------------------------------------ one change
    def host_row(self, x: float, y: float) -> int:
        """Row of the commune containing the point (Lambert-93), ``-1`` if none or unknown."""
        if not isinstance(self.communes, gpd.GeoDataFrame):  # no polygons: host unknown
            return -1
        return int(locate_points(self.communes, np.array([x]), np.array([y]))[0])

    def _host_ids(self, b: Baseline, keep: np.ndarray | None = None, extra: int = -1) -> Any:
        """INSEE codes hosting the (kept) eligible sites, plus a candidate's commune."""
        hosts = access.host_ids(b.sites)
        if hosts is None:  # sites without a commune code: only the candidate's is known
            hosts = np.full(len(b.sites), "", dtype=object)
        if keep is not None:
            hosts = hosts[keep]
        if extra >= 0:
            hosts = np.append(hosts, str(self.communes["insee"].iloc[extra]))
        return hosts

    def change_for_addition(
        self,
        b: Baseline,
        x: float,
        y: float,
        *,
        snap: SiteSnap | None = None,
        host_row: int | None = None,
    ) -> Change:
        """Which communes a new site at ``(x, y)`` (Lambert-93) speeds up, and their new times.

        Road models with ``incremental=True``: one pruned pass from the new site
        (:func:`~analysis.planning.paths.pruned_search`); otherwise a full recompute.

        Parameters
        ----------
        b
            The baseline (profile and mode).
        x, y
            The new site, Lambert-93 metres.
        snap
            The site already snapped to the road model (skips snapping it again).
        host_row
            Row of the commune containing the new site (located if not given): it gets at
            most its first-mile time (the host-commune rule).

        Returns
        -------
        Change
        """
        model = self.models[b.mode]
        before = b.origin_time_s
        if host_row is None:
            host_row = self.host_row(x, y)

        def full() -> Change:
            xs = np.append(b.sites["x_l93"].to_numpy(float), x)
            ys = np.append(b.sites["y_l93"].to_numpy(float), y)
            hosts = self._host_ids(b, extra=host_row)
            return Change.dense(before, model.nearest(xs, ys, host_ids=hosts).time_s)

        if not common.is_road_model(model):
            return full()
        if snap is None:
            snap = model.snap_sites(np.array([x]), np.array([y]))
        if snap.too_far[0]:
            return Change.none(on_network=False)
        if not self.incremental:
            return full()
        assert b.node is not None  # a road baseline keeps its node search
        nodes, times = pruned_search_arrays(
            model.graph.csr_reverse, int(snap.node[0]), float(snap.offset_s[0]), b.node.time_s
        )
        at, o_off = self._origins_at(b.mode)
        before_l = b.card.before_list
        pairs = []
        # The host-commune rule: the candidate's commune gets at most its first-mile time.
        cap = host_row if host_row >= 0 and o_off[host_row] < before_l[host_row] else -1
        for v, t in zip(nodes.tolist(), times.tolist(), strict=True):
            for r in at.get(v, ()):
                nt = t + o_off[r]
                if nt < before_l[r] and r != cap:
                    pairs.append((r, nt))
        if cap >= 0:
            pairs.append((cap, o_off[cap]))
        pairs.sort()  # rows ascending, as a full recompute lists them
        return Change(
            rows=np.fromiter((r for r, _ in pairs), np.int64, len(pairs)),
            after_s=np.fromiter((t for _, t in pairs), float, len(pairs)),
        )

    def change_for_closure(self, b: Baseline, pos: int) -> Change:
        """Which communes lose time if the eligible site at row ``pos`` closes.

        Road models with ``incremental=True``: a pass restricted to the nodes whose nearest
        site it was (:func:`~analysis.planning.paths.closure_pass`); otherwise a full
        recompute without the site.
        """
        model = self.models[b.mode]
        before = b.origin_time_s
        road = common.is_road_model(model)
        if road and b.snap.too_far[pos]:
            return Change.none(on_network=False)
        if self.incremental and common.is_road_model(model):
            g = model.graph
            assert b.node is not None  # a road baseline keeps its node search
            nodes, t, _ = closure_pass(
                g.csr_reverse, g.csr, b.node.time_s, b.node.site, pos, b.snap.node,
                b.snap.offset_s,
            )  # fmt: skip
            at, o_off = self._origins_at(b.mode)
            rows: list[int] = []
            vals: list[float] = []
            for v, tv in zip(nodes.tolist(), t.tolist(), strict=True):
                for r in at.get(v, ()):
                    rows.append(r)
                    vals.append(tv + o_off[r])
            if b.host_rows is not None:
                rows, vals = self._host_rule_after_closure(b, pos, rows, vals, o_off)
            rows_a = np.asarray(rows, np.int64)
            vals_a = np.asarray(vals, float)
            moved = vals_a != before[rows_a]
            return Change(rows=rows_a[moved], after_s=vals_a[moved])
        keep = np.arange(len(b.sites)) != pos
        if road:
            keep &= ~b.snap.too_far
        if not keep.any():
            return Change.dense(before, np.full(len(before), np.inf))
        xs = b.sites["x_l93"].to_numpy(float)[keep]
        ys = b.sites["y_l93"].to_numpy(float)[keep]
        hosts = self._host_ids(b, keep) if road else access.host_ids(b.sites[keep])
        return Change.dense(before, model.nearest(xs, ys, host_ids=hosts).time_s)

    def _host_rule_after_closure(
        self, b: Baseline, pos: int, rows: list[int], vals: list[float], o_off: list[float]
    ) -> tuple[list[int], list[float]]:
        """Apply the host-commune rule to a closure's new times.

        The closed site's commune loses its cap unless another site stays there; communes
        hosting a remaining site keep theirs.
        """
        assert b.host_rows is not None and b.node is not None
        model = self.models[b.mode]
        assert common.is_road_model(model)  # the host rule is a road rule
        remaining = set(np.delete(b.host_rows, pos).tolist()) - {-1}
        own = int(b.host_rows[pos])
        if own >= 0 and own not in rows:  # its network time did not change, its cap may
            node = int(np.asarray(model.origin_nodes)[own])
            rows = [*rows, own]
            vals = [*vals, float(b.node.time_s[node]) + o_off[own]]
        vals = [min(v, o_off[r]) if r in remaining else v for r, v in zip(rows, vals, strict=True)]
        return rows, vals

    def serves(self, network: str, keys: Sequence[str] | None = None) -> list[str]:
        """Keys of the profiles (among ``keys``, default all) that ``network`` serves."""
        keys = list(self.profiles) if keys is None else list(keys)
        return [k for k in keys if network in tuple(self.profiles[k].networks)]

    def addition_card(
        self,
        x: float,
        y: float,
        network: str,
        *,
        profiles: Sequence[str] | None = None,
    ) -> list[tuple[str, str, Change, dict[str, float]]]:
        """Figures of one candidate's card: every profile its network serves × every mode.

        The candidate is snapped once per road model.

        Parameters
        ----------
        x, y
            The candidate, Lambert-93 metres.
        network
            Its (canonical) network.
        profiles
            Restrict to these profile keys.

        Returns
        -------
        list of (profile key, mode, Change, figures)
        """
        snaps: dict[str, SiteSnap] = {}
        host_row = self.host_row(x, y)
        for mode, model in self.models.items():
            if common.is_road_model(model):
                snaps[mode] = model.snap_sites(np.array([x]), np.array([y]))
        out = []
        for k in self.serves(network, profiles):
            for mode in self.models:
                b = self.baseline(k, mode)
                ch = self.change_for_addition(b, x, y, snap=snaps.get(mode), host_row=host_row)
                out.append((k, mode, ch, card_figures(b.card, ch.rows, ch.after_s, addition=True)))
        return out

    def figures(
        self, profile: str, mode: str, *, add: tuple[float, float] | None = None,
        remove: str | None = None,
    ) -> dict[str, float]:  # fmt: skip
        """Compute the figures of one card: one addition or closure, one profile, one mode.

        Parameters
        ----------
        profile, mode
            Which baseline.
        add
            ``(x_l93, y_l93)`` of a new site.
        remove
            ``site_id`` of an eligible site to close.

        Returns
        -------
        dict of str to float
            See :mod:`analysis.planning.cardstats` for the definitions.
        """
        b = self.baseline(profile, mode)
        if (add is None) == (remove is None):
            raise ValidationError("give exactly one of add= and remove=")
        if add is not None:
            ch = self.change_for_addition(b, float(add[0]), float(add[1]))
        else:
            pos = np.flatnonzero(b.sites["site_id"].astype(str).to_numpy() == str(remove))
            if len(pos) == 0:
                raise _unknown_site(str(remove), b.sites["site_id"].astype(str).to_numpy())
            ch = self.change_for_closure(b, int(pos[0]))
        return card_figures(b.card, ch.rows, ch.after_s, addition=add is not None)

    # ------------------------------------------------------------------ public
    def evaluate(
        self,
        candidates: pd.DataFrame | None = None,
        *,
        remove: Iterable[str] = (),
        profiles: Sequence[str] | None = None,
        rank_by: str | None = None,
    ) -> WhatIfResult:
        """Cards for each candidate (addition) and each removed site (closure).

        Parameters
        ----------
        candidates
            Candidate sites: ``name, network, kind, x_l93, y_l93`` (and ``lon, lat``),
            e.g. from :func:`analysis.planning.candidates.read_candidates_csv`. Each is
            evaluated alone against today's sites.
        remove
            ``site_id`` of existing sites to close, each evaluated alone.
        profiles
            Restrict the cards to these profile keys (default: every profile the
            candidate's network serves).
        rank_by
            Profile key whose newly covered demand ranks the candidates (default: the sum
            over the profiles of each card, primary mode). Ties: person-minutes saved.

        Returns
        -------
        WhatIfResult

        Raises
        ------
        UnknownNameError
            An unknown profile key, or a ``site_id`` not in the directory.
        ValidationError
            If nothing is asked.
        """
        cands = _prepare_candidates(candidates)
        remove = [str(r) for r in remove]
        if len(cands) == 0 and not remove:
            raise ValidationError("nothing to evaluate: give at least one candidate or closure")
        if profiles is not None:
            for k in profiles:
                common.get_profile(k, self.profiles)
        if rank_by is not None:
            common.get_profile(rank_by, self.profiles)
        ids = self.sites["site_id"].astype(str).to_numpy()
        for r in remove:
            if r not in ids:
                raise _unknown_site(r, ids)
        keys = list(profiles) if profiles is not None else list(self.profiles)

        rows: list[dict[str, Any]] = []
        change_parts: list[pd.DataFrame] = []
        cand_rows: list[dict[str, Any]] = []
        prov = common.provenance(self.models, self.sites, extra=cands)
        for _, c in cands.iterrows():
            cand_rows.append({**{str(k): v for k, v in c.items()}, "action": "add"})
            card = self.addition_card(
                float(c["x_l93"]), float(c["y_l93"]), str(c["network"]), profiles=keys
            )
            if not card:
                logger.warning("candidate %r serves none of the profiles asked", c["name"])
            for k, mode, ch, fig in card:
                b = self.baseline(k, mode)
                rows.append(self._card(c, "add", b, ch, prov, figures=fig))
                change_parts.append(self._changes(c["candidate_id"], b, ch))
        for sid in remove:
            site = self.sites[ids == sid].iloc[0]
            c = pd.Series(
                {
                    "candidate_id": f"close:{sid}",
                    "name": str(site["name"]),
                    "network": site["network"],
                    "kind": site.get("kind", ""),
                    "x_l93": site["x_l93"],
                    "y_l93": site["y_l93"],
                    "lon": site["lon"],
                    "lat": site["lat"],
                    "provenance": site.get("provenance", ""),
                    "site_id": sid,
                }
            )
            cand_rows.append({**{str(k): v for k, v in c.items()}, "action": "remove"})
            for k in keys:
                for mode in self.models:
                    b = self.baseline(k, mode)
                    pos = np.flatnonzero(b.sites["site_id"].astype(str).to_numpy() == sid)
                    if len(pos) == 0:
                        continue  # this site does not serve the profile
                    ch = self.change_for_closure(b, int(pos[0]))
                    rows.append(self._card(c, "remove", b, ch, prov))
                    change_parts.append(self._changes(c["candidate_id"], b, ch))

        cards = pd.DataFrame(rows, columns=[col for col in CARD_COLUMNS])
        ranking = _rank(cards, primary=next(iter(self.models)), rank_by=rank_by)
        if len(ranking):
            cards = cards.drop(columns=["score", "rank"]).merge(
                ranking[["candidate_id", "score", "rank"]], on="candidate_id", how="left"
            )[list(CARD_COLUMNS)]
        changes = _concat_changes(change_parts, self.communes)
        cgdf = _candidates_gdf(cand_rows)
        t_are = access.times_are_label(*self.models.values())
        notes = []
        if t_are == "estimated":
            notes.append(
                "Times come from an ESTIMATED road network: they are approximations, "
                "labelled 'estimated' in every table and export."
            )
        off = cards.loc[~cards["on_network"].astype(bool), "candidate_name"].unique()
        for name in off:
            notes.append(f"{name}: too far from the road network; no effect computed")
        return WhatIfResult(
            cards=cards,
            changes=changes,
            candidates=cgdf,
            ranking=ranking,
            models={m: getattr(v, "label", m) for m, v in self.models.items()},
            estimated=t_are != "measured",
            provenance=prov,
            times_are=t_are,
            notes=notes,
        )

    # ------------------------------------------------------------------ assembly
    def _card(
        self,
        c: pd.Series,
        action: str,
        b: Baseline,
        ch: Change,
        prov: str,
        *,
        figures: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        model = self.models[b.mode]
        stats = figures or card_figures(b.card, ch.rows, ch.after_s, addition=action == "add")
        return {
            "candidate_id": c["candidate_id"],
            "candidate_name": c["name"],
            "action": action,
            "network": c["network"],
            "kind": c.get("kind", ""),
            "profile": b.profile.key,
            "profile_label": getattr(b.profile, "label", b.profile.key),
            "mode": b.mode,
            "threshold_min": b.threshold_s / 60.0,
            "on_network": ch.on_network,
            **stats,
            "score": np.nan,
            "rank": np.nan,
            "times_are": access.times_are_label(model),
            "model": getattr(model, "label", b.mode),
            "provenance": prov,
        }

    def _changes(self, cand_id: str, b: Baseline, ch: Change) -> pd.DataFrame:
        idx = ch.rows
        before = b.origin_time_s[idx]
        after = ch.after_s
        cov_b = before <= b.threshold_s
        cov_a = after <= b.threshold_s
        status = np.where(
            cov_a & ~cov_b,
            "newly covered",
            np.where(cov_b & ~cov_a, "loses cover", np.where(after < before, "faster", "slower")),
        )
        return pd.DataFrame(
            {
                "candidate_id": cand_id,
                "profile": b.profile.key,
                "mode": b.mode,
                "row": idx,
                "before_min": before / 60.0,
                "after_min": after / 60.0,
                "gain_min": (before - after) / 60.0,
                "demand": b.demand[idx],
                "covered_before": cov_b,
                "covered_after": cov_a,
                "status_change": status,
                "times_are": access.times_are_label(self.models[b.mode]),
            }
        )


def _unknown_site(site_id: str, ids: Sequence[str] | np.ndarray) -> ValidationError:
    """Build the error for an unknown ``site_id``: close ids, and where ids are listed."""
    import difflib

    close = difflib.get_close_matches(site_id, list(ids), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ValidationError(
        f"unknown site_id {site_id!r}{hint} (site ids are in the site directory's site_id "
        "column, e.g. sites.csv of a `spro-access coverage` export)"
    )


def _prepare_candidates(candidates: pd.DataFrame | None) -> pd.DataFrame:
    if candidates is None:
        return pd.DataFrame(columns=["candidate_id", "name", "network", "kind", "x_l93", "y_l93"])
    c = pd.DataFrame(candidates.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    missing = [k for k in ("name", "network", "x_l93", "y_l93") if k not in c.columns]
    if missing:
        raise ValidationError(f"candidates lack the column(s) {', '.join(missing)}")
    if "candidate_id" not in c.columns:
        c["candidate_id"] = [f"C{i + 1}" for i in range(len(c))]
    c["candidate_id"] = c["candidate_id"].astype(str)
    if c["candidate_id"].duplicated().any():
        raise ValidationError("candidate ids must be unique")
    if "kind" not in c.columns:
        c["kind"] = "permanence"
    if "lon" not in c.columns or "lat" not in c.columns:
        c["lon"], c["lat"] = to_lonlat(c["x_l93"], c["y_l93"])
    if "provenance" not in c.columns:
        c["provenance"] = "user"
    return c


def _rank(cards: pd.DataFrame, *, primary: str, rank_by: str | None) -> pd.DataFrame:
    if cards.empty:
        return pd.DataFrame(columns=["candidate_id", "candidate_name", "action", "score", "rank"])
    c = cards[cards["mode"] == primary]
    if rank_by is not None:
        c = c[c["profile"] == rank_by]
    score = (c["demand_newly_covered"] - c["demand_losing_cover"]).groupby(c["candidate_id"]).sum()
    tie = c.groupby("candidate_id")["person_minutes_saved"].sum()
    base = cards.drop_duplicates("candidate_id")[["candidate_id", "candidate_name", "action"]]
    out = base.assign(
        score=base["candidate_id"].map(score).fillna(0.0).to_numpy(),
        tie=base["candidate_id"].map(tie).fillna(0.0).to_numpy(),
    )
    out = out.sort_values(["action", "score", "tie"], ascending=[True, False, False], kind="stable")
    out["rank"] = out.groupby("action").cumcount() + 1
    return out.drop(columns="tie").reset_index(drop=True)


def _concat_changes(parts: list[pd.DataFrame], communes: pd.DataFrame) -> gpd.GeoDataFrame:
    cols = ["insee", "nom", "dep", "urban_class"]
    cols = [c for c in cols if c in communes.columns]
    if parts:
        ch = pd.concat(parts, ignore_index=True)
    else:
        ch = pd.DataFrame(columns=["candidate_id", "profile", "mode", "row"])
    rows = ch["row"].to_numpy(np.int64)
    info = communes.iloc[rows]
    for col in reversed(cols):
        ch.insert(3, col, info[col].to_numpy())
    geom = info.geometry.to_numpy() if hasattr(communes, "geometry") else None
    crs = getattr(communes, "crs", None)
    return gpd.GeoDataFrame(ch.drop(columns="row"), geometry=geom, crs=crs)


def _candidates_gdf(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["candidate_id", "name", "action", "lon", "lat"])
    df = df.drop(columns=[c for c in ("geometry",) if c in df.columns])
    return gpd.GeoDataFrame(
        df,
        geometry=gpd.points_from_xy(df["lon"].astype(float), df["lat"].astype(float)),
        crs="EPSG:4326",
    )


def what_if(
    models: common.ModelsArg,
    sites: pd.DataFrame,
    communes: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    *,
    remove: Iterable[str] = (),
    profiles: common.ProfilesArg = None,
    only_profiles: Sequence[str] | None = None,
    thresholds_min: float | Mapping[str, float] | None = None,
    rank_by: str | None = None,
    incremental: bool = True,
) -> WhatIfResult:
    """One-shot what-if: build a :class:`WhatIf` session and evaluate candidates/closures.

    Parameters
    ----------
    models, sites, communes, profiles, thresholds_min, incremental
        See :class:`WhatIf`.
    candidates, remove, rank_by
        See :meth:`WhatIf.evaluate`.
    only_profiles
        Restrict the cards to these profile keys.

    Returns
    -------
    WhatIfResult
    """
    session = WhatIf(
        models, sites, communes, profiles, thresholds_min=thresholds_min, incremental=incremental
    )
    return session.evaluate(candidates, remove=remove, profiles=only_profiles, rank_by=rank_by)
