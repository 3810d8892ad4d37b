"""What the coverage page shows beside the map: headline, bands, commune card, banners."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .styles import NO_TIME_COLOUR, TimeBands, provenance_label, time_bands, time_text

if TYPE_CHECKING:
    from ..coverage import CoverageResult

logger = logging.getLogger(__name__)


def band_table(result: CoverageResult, bands: TimeBands | None = None) -> pd.DataFrame:
    """Count communes, population and demand per time band: the data behind the map's colours.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    bands
        The bands (default: :func:`time_bands` of the result's threshold).

    Returns
    -------
    pandas.DataFrame
        One row per band (plus ``no time`` if any): ``band`` (minutes), ``beyond``,
        ``colour``, ``communes``, ``population``, ``demand``, ``share_of_demand``.
    """
    bands = time_bands(result.threshold_min) if bands is None else bands
    df = result.communes
    b = bands.band(df["time_min"].to_numpy(float))
    pop = df["pop_mun"].to_numpy(float)
    dem = df["demand"].to_numpy(float)
    total = max(float(dem.sum()), 1e-12)
    rows = []
    for i, (label, colour, beyond) in enumerate(
        zip(bands.labels, bands.colours, bands.beyond(), strict=True)
    ):
        m = b == i
        rows.append((label, bool(beyond), colour, int(m.sum()), pop[m].sum(), dem[m].sum()))
    m = b < 0
    if m.any():
        rows.append(("no time", True, NO_TIME_COLOUR, int(m.sum()), pop[m].sum(), dem[m].sum()))
    out = pd.DataFrame(
        rows, columns=["band", "beyond", "colour", "communes", "population", "demand"]
    )
    out["share_of_demand"] = out["demand"] / total
    return out


@dataclass(frozen=True)
class ProvenanceFacts:
    """What a view rests on, in three sentences for the banner.

    Attributes
    ----------
    real, modelled, estimated
        What is real (open data), modelled (sites) and estimated (times).
    n_real, n_modelled, n_user
        Site counts among the sites of the view.
    estimated_times
        Whether the times are estimated.
    """

    real: str
    modelled: str
    estimated: str
    n_real: int
    n_modelled: int
    n_user: int
    estimated_times: bool


def provenance_facts(
    result: CoverageResult, directory: pd.DataFrame | None = None
) -> ProvenanceFacts:
    """Say what is real, modelled and estimated in a coverage view.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    directory
        The whole site directory (to give its modelled networks), optional.

    Returns
    -------
    ProvenanceFacts
    """
    prov = result.sites["provenance"].astype(str)
    n_mod = int((prov == "modelled").sum())
    n_user = int((prov == "user").sum())
    n_real = len(prov) - n_mod - n_user
    sources = sorted({p.split(":", 1)[1] for p in prov if p.startswith("open-data:")})
    n_communes = len(result.communes)
    pop = float(result.communes["pop_mun"].sum())
    real = (
        f"{n_real} sites from open data ({', '.join(sources) or 'none'})"
        + (f", {n_user} from the loaded directory" if n_user else "")
        + f"; {n_communes:,} communes (COG 2026) and their {pop:,.0f} inhabitants "
        "(INSEE legal population 2023)."
    )
    if n_mod:
        nets = (
            result.sites.loc[prov == "modelled", "network"].astype(str).value_counts().sort_index()
        )
        detail = ", ".join(f"{k} {v}" for k, v in nets.items())
        modelled = (
            f"{n_mod} of the {len(prov)} sites serving this public are modelled ({detail}): "
            "they complete networks whose real rows fall short of their known size and are "
            "not real addresses. Load a real directory export to replace them."
        )
    else:
        modelled = "No modelled site serves this public: every site is from a real file."
    if directory is not None and len(directory):
        tot_mod = int((directory["provenance"].astype(str) == "modelled").sum())
        modelled += f" (Whole directory: {tot_mod} modelled of {len(directory)} sites.)"
    if result.times_are == "estimated":
        estimated = (
            f"Travel times are estimated ({result.model_label}), not measured on a real road "
            "graph: use them to compare places, not as exact durations."
        )
    elif result.times_are == "modelled":
        estimated = (
            f"Travel times are {result.model_label}: real roads, car speeds fitted on OSRM "
            "times (a few % off on held-out trips), no local streets or traffic."
        )
    else:
        estimated = f"Travel times are not estimated: they are computed on {result.model_label}."
    profile = result.profile
    if getattr(profile, "estimated", False):
        src = getattr(profile, "demand_source", "")
        mixed = getattr(profile, "demand_status", "") == "mixed"
        how = "partly official, partly estimated" if mixed else None
        estimated += f" The demand of this public per commune is {how or 'estimated'}" + (
            f" ({src})." if src else "."
        )
    return ProvenanceFacts(
        real=real,
        modelled=modelled,
        estimated=estimated,
        n_real=n_real,
        n_modelled=n_mod,
        n_user=n_user,
        estimated_times=bool(result.estimated),
    )


def commune_options(result: CoverageResult) -> list[str]:
    """Return labels ``"Name (dep) — INSEE"`` of every commune, sorted by name, for a picker."""
    df = result.communes
    lab = df["nom"].astype(str) + " (" + df["dep"].astype(str) + ") — " + df["insee"].astype(str)
    return sorted(lab.tolist(), key=lambda s: (s.casefold(), s))


def default_commune(result: CoverageResult) -> str:
    """Return the INSEE code of the commune to show first in a view.

    The commune beyond the threshold with the most demand, or, when every commune is
    covered, the farthest one.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.

    Returns
    -------
    str
    """
    df = result.communes
    beyond = df[~df["covered"].to_numpy(bool)]
    if len(beyond):
        return str(beyond.loc[beyond["demand"].idxmax(), "insee"])
    t = df["time_min"].to_numpy(float)
    return str(df["insee"].iloc[int(np.nanargmax(np.where(np.isfinite(t), t, -1.0)))])


def commune_card(result: CoverageResult, insee: str) -> dict[str, str]:
    """Return the details of one commune in a view, as label → text.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    insee
        The commune's INSEE code.

    Returns
    -------
    dict of str to str
        Commune, department, EPCI, class, population, demand, time, nearest site, network,
        site source, covered, status, cluster. Plain text (escape it before any HTML use).

    Raises
    ------
    KeyError
        If the INSEE code is not in the view.
    """
    df = result.communes
    hit = df.index[df["insee"].astype(str) == str(insee)]
    if not len(hit):
        raise KeyError(f"commune {insee!r} is not in this view")
    r = df.loc[hit[0]]
    t = float(r["time_min"])
    est = f" ({result.times_are})" if result.estimated else ""
    cluster = int(r["cluster_id"])

    def text(col: str, missing: str = "—") -> str:
        v = r[col]
        return missing if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)

    return {
        "Commune": f"{r['nom']} ({r['insee']})",
        "Department": str(r["dep"]),
        "EPCI": str(r["epci_nom"]),
        "Urban/rural class": str(r["urban_class"]),
        "Density level (INSEE 2025)": str(r.get("density_level", "unknown")),
        "France Ruralités Revitalisation": str(r.get("frr_zone", "unknown")),
        "Population": f"{float(r['pop_mun']):,.0f}",
        f"Demand ({result.profile.key})": f"{float(r['demand']):,.0f}",
        "Time to nearest site": time_text(t) + est,
        "Nearest site": text("nearest_site_name", "none reachable"),
        "Network": text("nearest_network"),
        "Site source": (
            provenance_label(r["nearest_provenance"]) if text("nearest_provenance") != "—" else "—"
        ),
        "Covered": (
            f"yes (≤ {result.threshold_min:g} min)"
            if bool(r["covered"])
            else f"no (> {result.threshold_min:g} min)"
        ),
        "Status": str(r["status"]),
        "Under-served cluster": f"#{cluster}" if cluster >= 0 else "—",
    }


def summary_table(result: CoverageResult, by: str) -> pd.DataFrame:
    """Summarise a view, rounded for display (shares in %, times in minutes).

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    by
        ``region``, ``dep``, ``epci``, ``urban_class``, ``density`` or ``frr``.

    Returns
    -------
    pandas.DataFrame
        ``group, grouping, communes, demand, demand_beyond, share_beyond_pct,
        share_beyond_open_data_only_pct, communes_beyond, p50_min, p90_min, times_are``.
    """
    s = result.summary(by).copy()
    s["share_beyond_pct"] = (100 * s["share_beyond"]).round(1)
    s["share_beyond_open_data_only_pct"] = (100 * s["share_beyond_open_data_only"]).round(1)
    for col in ("demand", "demand_beyond"):
        s[col] = s[col].round(0)
    for col in ("p50_min", "p90_min"):
        s[col] = s[col].round(1)
    cols = [
        "group", "grouping", "communes", "demand", "demand_beyond", "share_beyond_pct",
        "share_beyond_open_data_only_pct", "communes_beyond", "p50_min", "p90_min", "times_are",
    ]  # fmt: skip
    return s[cols]


def headline_figures(result: CoverageResult) -> dict[str, float]:
    """Regional headline figures of a view.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.

    Returns
    -------
    dict of str to float
        ``demand``, ``demand_beyond``, ``share_beyond`` (0-1), ``communes_beyond``,
        ``population_beyond``, ``p50_min``, ``p90_min`` (demand-weighted), ``clusters``,
        ``rural_clusters``, and the open-data-only counterparts
        ``share_beyond_open_data_only``, ``demand_beyond_open_data_only`` with
        ``sites_modelled`` (the figures above count that many modelled sites).
    """
    row = result.summary("region").iloc[0]
    df = result.communes
    beyond = ~df["covered"].to_numpy(bool)
    cid = df["cluster_id"].to_numpy()
    rural = df["urban_class"].to_numpy() == "rural"
    pop = df["pop_mun"].to_numpy(float)
    n_rural = 0
    for c in np.unique(cid[cid >= 0]):
        m = cid == c
        total = pop[m].sum()
        n_rural += int(total > 0 and pop[m & rural].sum() / total >= 0.5)
    return {
        "demand": float(row["demand"]),
        "demand_beyond": float(row["demand_beyond"]),
        "share_beyond": float(row["share_beyond"]),
        "communes_beyond": float(row["communes_beyond"]),
        "population_beyond": float(pop[beyond].sum()),
        "p50_min": float(row["p50_min"]),
        "p90_min": float(row["p90_min"]),
        "clusters": float(len(np.unique(cid[cid >= 0]))),
        "rural_clusters": float(n_rural),
        "share_beyond_open_data_only": float(row["share_beyond_open_data_only"]),
        "demand_beyond_open_data_only": float(row["demand_beyond_open_data_only"]),
        "sites_modelled": float(row["sites_modelled"]),
    }
