"""Coverage of one profile by one mode: who is within the threshold of an eligible site.

:func:`compute_coverage` runs ONE pass of the access model (road, transit or best of the
two) from the profile's eligible sites and returns a :class:`CoverageResult`: the time
from every commune to its nearest eligible site and which site, the covered flag, the
population-weighted P50/P90 time, the share of the profile's demand beyond the threshold
by department, EPCI and urban/rural class, and the under-served clusters (contiguous
communes beyond the threshold) with their population, rural clusters first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

from .access import (
    UNASSESSED,
    AccessModel,
    AccessPass,
    baseline_pass,
    nearest_to,
    times_are_label,
)
from .access import covered as access_covered
from .adjacency import adjacency_matrix, commune_adjacency
from .communes import with_class_columns
from .errors import EmptyProfileError, UnknownNameError, ValidationError
from .profiles import Profile, profile_demand_status
from .stats import weighted_quantile
from .territory import RURAL_DENSITY_LEVELS

logger = logging.getLogger(__name__)

__all__ = ["UNASSESSED", "AccessModel", "CoverageResult", "compute_coverage"]

#: Groupings offered by :meth:`CoverageResult.summary`.
GROUPINGS = {
    "region": None,
    "dep": "dep",
    "epci": "epci_nom",
    "urban_class": "urban_class",
    "density": "density_level",
    "frr": "frr_zone",
}


def data_status(model: AccessModel, sites: pd.DataFrame) -> str:
    """Say how far the numbers rest on real data.

    Parameters
    ----------
    model
        The access model used.
    sites
        The sites used.

    Returns
    -------
    str
        E.g. ``"estimated road network; sites: 420 real, 310 modelled"``.
    """
    times = times_are_label(model)
    return f"times {times} ({model.label}); sites: {site_provenance_counts(sites)}"


def site_provenance_counts(sites: pd.DataFrame) -> str:
    """Count the sites that are real open data, user-supplied and modelled.

    Parameters
    ----------
    sites
        Sites with a ``provenance`` column.

    Returns
    -------
    str
        E.g. ``"420 real (open data), 310 modelled"``.
    """
    prov = sites["provenance"].astype(str) if len(sites) else pd.Series([], dtype=str)
    n_mod = int((prov == "modelled").sum())
    n_user = int((prov == "user").sum())
    parts = [f"{len(prov) - n_mod - n_user} real (open data)"]
    if n_user:
        parts.append(f"{n_user} user-supplied")
    if n_mod:
        parts.append(f"{n_mod} modelled")
    return ", ".join(parts)


@dataclass
class CoverageResult:
    """Coverage of one profile by one mode at one threshold.

    Attributes
    ----------
    communes
        One row per commune: ``insee, nom, dep, epci, epci_nom, urban_class, pop_mun, demand,
        time_min, nearest_site_id, nearest_site_name, nearest_network, nearest_provenance,
        covered, assessed, status, cluster_id, times_are, geometry``. ``assessed`` is false
        where the model has no data (e.g. outside an OSM extract).
    sites
        The eligible sites used, with their snap distance and a ``used`` flag.
    profile, mode, threshold_min
        What was asked.
    model_label
        Which road/transit model produced the times.
    estimated
        Whether the times come from a model, not street-level routing (labelled so).
    times_are
        ``"estimated"``, ``"modelled"`` or ``"measured"`` (:func:`analysis.access.times_are_label`).
    provenance
        One line saying what is real, modelled and estimated.
    """

    communes: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    profile: Profile
    mode: str
    threshold_min: float
    model_label: str
    estimated: bool
    times_are: str
    provenance: str
    _adjacency: Any = field(default=None, repr=False)

    def headline(self) -> dict[str, float]:
        """Regional figures: demand, share beyond the threshold, weighted P50/P90 (min)."""
        row = self.summary("region").iloc[0]
        return {
            str(k): float(v)
            for k, v in row.items()
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        }

    def summary(self, by: str = "dep") -> pd.DataFrame:
        """Coverage figures per group.

        Parameters
        ----------
        by
            One of ``region``, ``dep``, ``epci``, ``urban_class``, ``density`` (INSEE's 7
            density levels, ``"5 bourgs ruraux"``…) and ``frr`` (France Ruralités
            Revitalisation: ``FRR`` or ``outside FRR``).

        Returns
        -------
        pandas.DataFrame
            Per group: ``communes``, ``demand``, ``demand_beyond``, ``share_beyond``,
            ``communes_beyond``, ``p50_min``, ``p90_min`` (demand-weighted), and
            ``communes_unassessed`` (outside the model's data, left out of the figures);
            the same shares with the open-data sites only (``demand_beyond_open_data_only``,
            ``share_beyond_open_data_only``) and ``sites_modelled``: a figure resting on
            modelled sites is always given beside its open-data-only counterpart.
        """
        if by not in GROUPINGS:
            raise UnknownNameError("grouping", by, GROUPINGS)
        df = pd.DataFrame(self.communes.drop(columns="geometry"))
        key = GROUPINGS[by]
        groups = [("Auvergne-Rhône-Alpes", df)] if key is None else df.groupby(key, sort=True)
        rows = []
        statuses = []  # each group's demand: official, estimated, or mixed if both
        for name, g_all in groups:
            statuses.append(_demand_status_of(g_all, self.profile))
            assessed = g_all["assessed"].to_numpy(bool)
            g = g_all[assessed]
            d = g["demand"].to_numpy(float)
            t = g["time_min"].to_numpy(float)
            beyond = ~g["covered"].to_numpy(bool)
            beyond_open = ~g["covered_open_data_only"].to_numpy(bool)
            total = float(d.sum())
            rows.append(
                {
                    "group": name,
                    "communes": len(g),
                    "demand": total,
                    "demand_beyond": float(d[beyond].sum()),
                    "share_beyond": float(d[beyond].sum() / total) if total > 0 else np.nan,
                    "communes_beyond": int(beyond.sum()),
                    "p50_min": weighted_quantile(t, d, 0.5),
                    "p90_min": weighted_quantile(t, d, 0.9),
                    "communes_unassessed": int((~assessed).sum()),
                    "demand_beyond_open_data_only": float(d[beyond_open].sum()),
                    "share_beyond_open_data_only": float(d[beyond_open].sum() / total)
                    if total > 0
                    else np.nan,
                }
            )
        out = pd.DataFrame(rows)
        out.insert(1, "grouping", by)
        out["times_are"] = self.times_are
        out["demand_is"] = statuses
        out["sites_modelled"] = self.modelled_sites
        return out

    @property
    def modelled_sites(self) -> int:
        """How many of the eligible sites are modelled (0: every figure rests on open data)."""
        if "provenance" not in self.sites.columns:
            return 0
        return int((self.sites["provenance"].astype(str) == "modelled").sum())

    @property
    def rests_on_modelled(self) -> bool:
        """Whether modelled sites serve the profile, so the open-data-only figure differs."""
        return self.modelled_sites > 0

    def clusters(self) -> gpd.GeoDataFrame:
        """Under-served clusters: contiguous communes beyond the threshold.

        Returns
        -------
        geopandas.GeoDataFrame
            One row per cluster, rural clusters first then by demand beyond the threshold:
            ``cluster_id, name, communes, insee_list, deps, population, demand,
            rural_share, max_time_min, mean_time_min, rural, geometry``.
        """
        df = self.communes
        flagged = df[df["cluster_id"] >= 0]
        cols = [
            "cluster_id", "name", "communes", "insee_list", "deps", "population", "demand",
            "rural_share", "max_time_min", "mean_time_min", "rural", "rural_share_insee",
            "rural_insee", "frr_share", "in_frr", "times_are",
        ]  # fmt: skip
        if flagged.empty:
            return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=df.crs)
        rows = []
        geoms = []
        for cid, g in flagged.groupby("cluster_id", sort=True):
            pop = g["pop_mun"].to_numpy(float)
            rural_pop = float(pop[g["urban_class"].to_numpy() == "rural"].sum())
            insee_rural = float(pop[g["density7"].isin(RURAL_DENSITY_LEVELS).to_numpy(bool)].sum())
            frr_pop = float(pop[g["frr_zone"].to_numpy() == "FRR"].sum())
            biggest = g.iloc[int(np.argmax(pop))]
            d = g["demand"].to_numpy(float)
            t = g["time_min"].to_numpy(float)
            finite = np.isfinite(t)
            rows.append(
                {
                    "cluster_id": int(cid),
                    "name": f"around {biggest['nom']} ({biggest['dep']})",
                    "communes": len(g),
                    "insee_list": " ".join(g["insee"]),
                    "deps": " ".join(sorted(set(g["dep"]))),
                    "population": float(pop.sum()),
                    "demand": float(d.sum()),
                    "rural_share": rural_pop / float(pop.sum()) if pop.sum() > 0 else 0.0,
                    "rural_share_insee": insee_rural / float(pop.sum()) if pop.sum() else 0.0,
                    "frr_share": frr_pop / float(pop.sum()) if pop.sum() > 0 else 0.0,
                    "max_time_min": float(t.max()) if len(t) else np.nan,
                    "mean_time_min": float(
                        np.average(t[finite], weights=np.maximum(pop[finite], 1))
                    )
                    if finite.any()
                    else np.inf,
                    "times_are": self.times_are,
                }
            )
            geoms.append(g.geometry.union_all())
        out = gpd.GeoDataFrame(rows, geometry=geoms, crs=df.crs)
        out["rural"] = out["rural_share"] >= 0.5
        # Most rural first: INSEE density 5-7 for most people, then FRR, then demand beyond.
        out["rural_insee"] = out["rural_share_insee"] >= 0.5
        out["in_frr"] = out["frr_share"] >= 0.5
        out = out.sort_values(
            ["rural_insee", "in_frr", "rural", "demand"],
            ascending=[False, False, False, False],
            kind="stable",
        )
        return out[[*cols, "geometry"]].reset_index(drop=True)


#: Commune columns the results carry (besides those every access pass reads).
COMMUNE_COLUMNS = ("insee", "nom", "dep", "epci", "epci_nom", "urban_class", "pop_mun")


def density_levels(communes: pd.DataFrame) -> np.ndarray:
    """Label each commune's INSEE density level, e.g. ``"5 bourgs ruraux"`` (sorts 1 → 7)."""
    d7 = communes["density7"].to_numpy().astype(int)
    labels = communes["density7_label"].to_numpy().astype(str)
    return np.array([f"{d} {lab}" if d else "unknown" for d, lab in zip(d7, labels, strict=True)],
                    dtype=object)  # fmt: skip


def _cluster_ids(
    flagged: np.ndarray, communes: gpd.GeoDataFrame, adjacency: Any | None
) -> tuple[np.ndarray, Any]:
    """Label contiguous flagged communes; ``-1`` for covered ones."""
    n = len(communes)
    if adjacency is None:
        i, j = commune_adjacency(communes)
        adjacency = adjacency_matrix(n, i, j)
    ids = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(flagged)
    if len(idx):
        sub = adjacency[idx][:, idx]
        _, labels = connected_components(sub, directed=False)
        ids[idx] = labels
    return ids, adjacency


def _open_data_times(model: AccessModel, base: AccessPass) -> np.ndarray:
    """Return the times to the nearest eligible site that is not modelled (open data only).

    Equal to the baseline's times when no modelled site serves the profile (no second
    pass); ``inf`` everywhere when only modelled sites do.
    """
    prov = base.sites["provenance"].astype(str).to_numpy() if len(base.sites) else np.array([])
    real = prov != "modelled"
    if real.all():
        return base.time_s
    if not real.any():
        return np.full(len(base.time_s), np.inf)
    sub = base.sites[real]
    try:
        ans = nearest_to(model, sub)
    except EmptyProfileError:  # no open-data site lies on the model's network
        return np.full(len(base.time_s), np.inf)
    return np.where(base.assessed, np.asarray(ans.time_s, dtype=float), np.inf)


def _demand_status_of(group: pd.DataFrame, profile: Profile) -> str:
    """``official``/``estimated`` if every commune of the group says so, else ``mixed``."""
    if "demand_is" not in group.columns:
        return profile.demand_status
    seen = set(group["demand_is"].astype(str))
    return seen.pop() if len(seen) == 1 else "mixed"


def compute_coverage(
    model: AccessModel,
    sites: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    profile: Profile,
    *,
    threshold_min: float | None = None,
    adjacency: Any | None = None,
) -> CoverageResult:
    """Coverage of ``profile`` by ``model``: one pass from the profile's eligible sites.

    Parameters
    ----------
    model
        A road model (:class:`~analysis.road_model.RoadModel`) or a transit/best-of model;
        its origins must be ``communes`` in the same order.
    sites
        The site directory (all networks); the profile's eligible ones are used.
    communes
        The communes (see :func:`analysis.communes.load_communes`).
    profile
        The public concerned.
    threshold_min
        Time (minutes) beyond which a commune is under-served; default: the profile's
        threshold for the model's mode.
    adjacency
        Precomputed commune adjacency matrix (from a previous result), to skip rebuilding it.

    Returns
    -------
    CoverageResult

    Raises
    ------
    EmptyProfileError
        If no site of the directory serves the profile.
    ValidationError
        If the threshold is not a positive number, or the model's origins are not the communes.
    """
    missing = [c for c in COMMUNE_COLUMNS if c not in communes.columns]
    if missing:
        raise ValidationError(
            f"the commune table lacks the column(s) {', '.join(missing)}; load it with "
            "analysis.communes.load_communes"
        )
    communes = with_class_columns(communes)  # "unknown" classes for tables built otherwise
    base = baseline_pass(model, sites, communes, profile, threshold_min=threshold_min)
    mode = base.mode
    threshold_min = base.threshold_min
    elig = base.sites
    demand = base.demand
    time_min = base.time_s / 60.0
    covered = base.covered
    assessed = base.assessed
    open_time_s = _open_data_times(model, base)
    open_covered = access_covered(open_time_s, base.threshold_s)

    times_are = times_are_label(model)
    out = gpd.GeoDataFrame(
        {
            "insee": communes["insee"].to_numpy(),
            "nom": communes["nom"].to_numpy(),
            "dep": communes["dep"].to_numpy(),
            "epci": communes["epci"].to_numpy(),
            "epci_nom": communes["epci_nom"].to_numpy(),
            "urban_class": communes["urban_class"].to_numpy(),
            "density7": communes["density7"].to_numpy(),
            "density_level": density_levels(communes),
            "frr_zone": np.where(communes["frr"].to_numpy().astype(bool), "FRR", "outside FRR"),
            "pop_mun": communes["pop_mun"].to_numpy(),
            "demand": demand,
            "time_min": time_min,
            "nearest_site_id": base.nearest("site_id"),
            "nearest_site_name": base.nearest("name"),
            "nearest_network": base.nearest("network"),
            "nearest_provenance": base.nearest("provenance"),
            "covered": covered,
            "assessed": assessed,
            "status": base.status,
            "time_min_open_data_only": open_time_s / 60.0,
            "covered_open_data_only": open_covered,
        },
        geometry=communes.geometry.to_numpy(),
        crs=communes.crs,
    )
    cluster_id, adjacency = _cluster_ids(~covered & assessed, communes, adjacency)
    out["cluster_id"] = cluster_id
    out["profile"] = profile.key
    out["mode"] = mode
    out["threshold_min"] = threshold_min
    out["times_are"] = times_are
    out["demand_is"] = profile_demand_status(profile, communes)  # the commune's own
    out["model"] = model.label

    has = base.site >= 0
    used = np.zeros(len(elig), dtype=bool)
    used[np.unique(base.site[has])] = True
    elig = elig.copy()
    if hasattr(model, "snap_sites"):  # road models: say how each site joins the network
        snap = model.snap_sites(elig["x_l93"].to_numpy(float), elig["y_l93"].to_numpy(float))
        elig["snap_m"] = np.round(snap.dist_m, 1)
        elig["too_far_from_network"] = snap.too_far
    elig["nearest_for_communes"] = np.bincount(base.site[has], minlength=len(elig))
    elig["used"] = used
    logger.info(
        "coverage %s/%s at %.0f min: %.1f%% of demand beyond",
        profile.key, mode, threshold_min,
        100 * demand[~covered & assessed].sum() / max(demand[assessed].sum(), 1e-9),
    )  # fmt: skip
    return CoverageResult(
        communes=out,
        sites=elig,
        profile=profile,
        mode=mode,
        threshold_min=threshold_min,
        model_label=model.label,
        estimated=bool(model.estimated),
        times_are=times_are,
        provenance=data_status(model, elig),
        _adjacency=adjacency,
    )
