"""A labelling call: every application evaluated, ranked, and one printable report each.

A call for applications (twice a year) brings a batch of candidate sites, in the candidate
CSV format of :func:`analysis.planning.candidates.read_candidates_csv`. :func:`evaluate_call`
evaluates them with the what-if (:class:`analysis.planning.whatif.WhatIf`: each candidate
alone against today's sites, one card per profile it serves and per mode), and adds what a
committee's file needs beside the cards:

- the **two-number rule**: where modelled sites serve a profile, the newly covered demand is
  given with the modelled completion *and* with the open-data sites only (a second what-if on
  the directory without its ``modelled`` rows, as ``--real-only`` loads it);
- the **nearest existing site of the candidate's network** from the candidate's commune, and
  its time, per mode (the overlap with the network's own sites), beside the card's overlap
  share (the share of the candidate's catchment already covered today);
- the communes it newly covers (for the report's map) and the ranking of the call.

The reports themselves are drawn by :mod:`analysis.present.reports`; :meth:`CallResult.export`
writes the ranked table, the index and the reports as one output set
(:func:`analysis.present.outputs.write_output_set`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import access
from ..errors import OverwriteRefusedError, ValidationError
from ..present.outputs import OutputSet
from . import common
from .whatif import WhatIf, WhatIfResult

logger = logging.getLogger(__name__)

#: Prefix of each application's report (``report_<candidate id>.html``/``.pdf``).
REPORT_PREFIX = "report_"

#: Columns of the ranked table of a call.
RANKING_COLUMNS = (
    "rank",
    "candidate_id",
    "name",
    "network",
    "kind",
    "commune",
    "insee",
    "lon",
    "lat",
    "position",
    "profiles_served",
    "demand_newly_covered",
    "demand_newly_covered_open_data_only",
    "communes_newly_covered",
    "person_minutes_saved",
    "nearest_network_site",
    "nearest_network_site_status",
    "nearest_network_site_min",
    "report",
    "times_are",
    "provenance",
)


def report_name(candidate_id: str) -> str:
    """Return the file stem of a candidate's report (``report_<id>``, safe characters only)."""
    return REPORT_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", str(candidate_id))


@dataclass
class Application:
    """One application of the call: its candidate, its cards and what the report shows.

    Attributes
    ----------
    candidate
        The candidate (``candidate_id, name, network, kind, address, insee, commune, lon,
        lat, x_l93, y_l93, position, provenance``).
    rank
        Its rank in the call (1 = most demand newly covered, primary mode).
    cards
        Its what-if cards (one row per profile × mode), with
        ``demand_newly_covered_open_data_only`` and ``modelled_sites_serving`` (eligible
        modelled sites of the profile today; the open-data figure differs only then).
    changes
        The communes whose time it changes (every profile and mode; ``row`` = commune row).
    nearest
        Per mode: ``mode, site_id, site_name, site_commune, site_status, time_min`` — the
        nearest existing site of its network from the candidate's commune.
    host_row
        Row of the commune the candidate stands in (``-1`` none).
    """

    candidate: dict[str, Any]
    rank: int
    cards: pd.DataFrame
    changes: pd.DataFrame
    nearest: pd.DataFrame
    host_row: int

    @property
    def report(self) -> str:
        """File stem of its report."""
        return report_name(self.candidate["candidate_id"])


@dataclass
class CallResult:
    """A whole call: the what-if cards, the ranked table and one application per candidate.

    Attributes
    ----------
    whatif
        The what-if on the directory used (with the modelled completion unless the sites
        were loaded open-data only).
    open_data
        The same what-if on the open-data sites only (``None`` when the directory has no
        modelled site: then both numbers are the same).
    applications
        In rank order.
    ranking
        One row per application, columns :data:`RANKING_COLUMNS`, in rank order.
    communes
        The communes (polygons for the maps).
    sites
        The directory used.
    primary_mode
        The mode that ranks (the first one).
    demand_estimated
        Profile key → whether its demand is estimated.
    profile_labels
        Profile key → label.
    """

    whatif: WhatIfResult
    open_data: WhatIfResult | None
    applications: list[Application]
    ranking: pd.DataFrame
    communes: gpd.GeoDataFrame
    sites: pd.DataFrame
    primary_mode: str
    demand_estimated: dict[str, bool]
    profile_labels: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def times_are(self) -> str:
        """What the times are (``estimated``/``modelled``/``measured``)."""
        return self.whatif.times_are

    @property
    def provenance(self) -> str:
        """The run's provenance line (models and sites)."""
        return self.whatif.provenance

    @property
    def cards(self) -> pd.DataFrame:
        """Every application's cards, in rank order."""
        parts = [a.cards for a in self.applications if len(a.cards)]
        if not parts:
            return self.whatif.cards.iloc[0:0]
        return pd.concat(parts, ignore_index=True)

    def output_set(self, *, pdf: bool = False) -> OutputSet:
        """Return the set :meth:`export` writes: ranked table, cards, index, reports.

        Parameters
        ----------
        pdf
            Also write each report as PDF (WeasyPrint; no resource fetched).
        """
        from ..present import reports

        docs: dict[str, Any] = {"index": lambda: reports.index_page(self, pdf=pdf)}
        binary: dict[str, Any] = {}
        for app in self.applications:
            docs[app.report] = _bind(reports.report_page, self, app)
            if pdf:
                binary[f"{app.report}.pdf"] = _bind(reports.report_pdf, self, app)
        changes = self.whatif.changes
        return OutputSet(
            kind="label_reports",
            tables={"ranking": self.ranking, "cards": self.cards},
            layers={"candidates": self.whatif.candidates, "changes": changes},
            metadata={
                "tool": "labelling call reports",
                "models": self.whatif.models,
                "times_are": self.times_are,
                "provenance": self.provenance,
                "open_data_only_run": self.open_data is not None,
                "applications": len(self.applications),
                "notes": self.notes,
            },
            provenance=self.provenance,
            times_are=self.times_are,
            documents=docs,
            binary_documents=binary,
        )

    def export(
        self, out_dir: str | os.PathLike[str], *, overwrite: bool = False, pdf: bool = False
    ) -> dict[str, Path]:
        """Write the call's set into ``out_dir`` as a whole.

        An existing folder that is not empty is refused unless ``overwrite`` (files of the
        folder that are not part of the previous set are never touched).

        Raises
        ------
        OverwriteRefusedError
            ``out_dir`` exists, is not empty and ``overwrite`` is false.
        """
        from ..present.outputs import write_output_set

        check_out_dir(out_dir, overwrite=overwrite)
        return write_output_set(out_dir, self.output_set(pdf=pdf), overwrite=overwrite)

    def zip_bytes(self, *, pdf: bool = False) -> bytes:
        """Return the exported set (reports, index, tables) as a zip, for a download."""
        import io
        import tempfile
        import zipfile

        with tempfile.TemporaryDirectory(prefix="spro-call-") as tmp:
            files = self.export(Path(tmp) / "reports", pdf=pdf)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for p in sorted(files.values()):
                    zf.write(p, arcname=p.name)
            return buf.getvalue()


def _bind(fn: Any, *args: Any) -> Any:
    return lambda: fn(*args)


def check_out_dir(out_dir: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Refuse an existing non-empty folder unless ``overwrite`` (and a file given as folder)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is a file, not a folder; give an output folder with --out")
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise OverwriteRefusedError(
            f"{out} is not empty; choose a new folder with --out, or add --overwrite to replace "
            "a previous set of reports there"
        )


def read_call_csv(path: Any, communes: pd.DataFrame) -> gpd.GeoDataFrame:
    """Read a call's applications: every row must be good (a call leaves none out).

    Parameters
    ----------
    path
        The candidate CSV (path or bytes), see
        :func:`analysis.planning.candidates.read_candidates_csv`.
    communes
        The communes.

    Returns
    -------
    geopandas.GeoDataFrame
        The candidates.

    Raises
    ------
    ValidationError
        The first bad row's message (file, row, what to fix), with how many rows are bad.
    """
    from . import candidates as cand_mod

    log = logging.getLogger(cand_mod.__name__)
    was = log.disabled
    log.disabled = True  # its "n rows rejected" warning: the error below says it in one line
    try:
        load = cand_mod.read_candidates_csv(path, communes)
    finally:
        log.disabled = was
    if load.problems:
        first = load.problems[0]
        rows = [r for p in load.problems for r in p.rows]
        more = (
            f" ({len(load.problems) - 1} other bad row(s): {', '.join(map(str, rows[1:11]))}"
            + ("…" if len(rows) > 11 else "")
            + ")"
            if len(load.problems) > 1
            else ""
        )
        raise ValidationError(
            f"{first.detail}{more}; fix the row(s) and run again (every application of a call "
            "gets a report)",
            source=first.source,
            rows=first.rows,
        )
    return load.candidates


def open_data_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """Return the directory without its modelled rows (what the open data alone say)."""
    if "provenance" not in sites.columns:
        return sites
    return sites[sites["provenance"].astype(str) != "modelled"]


def evaluate_call(
    models: common.ModelsArg,
    sites: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    candidates: pd.DataFrame,
    *,
    profiles: common.ProfilesArg = None,
    thresholds_min: float | Mapping[str, float] | None = None,
    only_profiles: Sequence[str] | None = None,
    session: WhatIf | None = None,
    open_session: WhatIf | None = None,
) -> CallResult:
    """Evaluate every application of a call and rank them.

    Parameters
    ----------
    models
        The access model(s) (see :class:`~analysis.planning.whatif.WhatIf`); the first
        mode ranks.
    sites
        The directory (with its modelled completion, or open-data only).
    communes
        The communes (origins of the models, with polygons).
    candidates
        The applications (:func:`read_call_csv` or a what-if candidate table).
    profiles, thresholds_min
        As :class:`~analysis.planning.whatif.WhatIf`.
    only_profiles
        Restrict the cards to these profiles.
    session, open_session
        Existing what-if sessions on ``sites`` and on its open-data rows (their baselines
        are reused; the app caches them). Built when not given.

    Returns
    -------
    CallResult
    """
    if candidates is None or len(candidates) == 0:
        raise ValidationError("the call has no application: give at least one candidate")
    if session is None:
        session = WhatIf(models, sites, communes, profiles, thresholds_min=thresholds_min)
    profiles_map = session.profiles
    result = session.evaluate(candidates, profiles=only_profiles)
    real = open_data_sites(session.sites)
    open_result = None
    if len(real) < len(session.sites):
        if open_session is None:
            open_session = WhatIf(
                session.models, real, communes, profiles_map, thresholds_min=session.thresholds_min
            )
        open_result = open_session.evaluate(candidates, profiles=only_profiles)
    primary = next(iter(session.models))
    cards = _with_open_numbers(result.cards, open_result, session)
    cands = pd.DataFrame(result.candidates.drop(columns="geometry"))
    nearest_cache: dict[tuple[str, str], Any] = {}
    apps: list[Application] = []
    order = {cid: i for i, cid in enumerate(result.ranking["candidate_id"].astype(str))}
    last = len(order)
    ranked = sorted(
        cands.to_dict("records"),
        key=lambda c: (order.get(str(c["candidate_id"]), last), str(c["candidate_id"])),
    )
    changes_all = pd.DataFrame(result.changes.drop(columns="geometry"))
    changes_all["row"] = _rows_of(changes_all, communes)
    for rank, cand in enumerate(ranked, start=1):
        cid = str(cand["candidate_id"])
        x, y = float(cand["x_l93"]), float(cand["y_l93"])
        host = session.host_row(x, y)
        if host < 0:  # not inside a polygon: the commune of the nearest origin point
            d2 = (communes["x_l93"].to_numpy(float) - x) ** 2 + (
                communes["y_l93"].to_numpy(float) - y
            ) ** 2
            host = int(np.argmin(d2))
        near = _nearest_network_site(session, str(cand["network"]), host, nearest_cache)
        apps.append(
            Application(
                candidate={str(k): v for k, v in cand.items()},
                rank=rank,
                cards=cards[cards["candidate_id"].astype(str) == cid].assign(rank=rank),
                changes=changes_all[changes_all["candidate_id"].astype(str) == cid],
                nearest=near,
                host_row=host,
            )
        )
    notes = list(result.notes)
    for a in apps:
        if a.cards.empty:
            notes.append(
                f"{a.candidate['name']}: its network serves none of the profiles asked; "
                "ranked last, nothing newly covered"
            )
    ranking = _ranking_table(apps, primary, result)
    return CallResult(
        whatif=result,
        open_data=open_result,
        applications=apps,
        ranking=ranking,
        communes=communes,
        sites=session.sites,
        primary_mode=primary,
        demand_estimated={k: bool(getattr(p, "estimated", True)) for k, p in profiles_map.items()},
        profile_labels={k: str(getattr(p, "label", k)) for k, p in profiles_map.items()},
        notes=notes,
    )


def _rows_of(changes: pd.DataFrame, communes: pd.DataFrame) -> np.ndarray:
    """Commune row of each changed commune (by INSEE code)."""
    pos = pd.Series(np.arange(len(communes)), index=communes["insee"].astype(str).to_numpy())
    return pos.reindex(changes["insee"].astype(str).to_numpy()).to_numpy()


def _with_open_numbers(
    cards: pd.DataFrame, open_result: WhatIfResult | None, session: WhatIf
) -> pd.DataFrame:
    """Add the open-data-only newly covered demand and the modelled sites serving each card."""
    out = cards.copy()
    modelled: dict[tuple[str, str], int] = {}
    for k, mode in set(zip(out["profile"], out["mode"], strict=True)):
        elig = session.baseline(k, mode).sites
        prov = elig["provenance"].astype(str) if "provenance" in elig.columns else pd.Series([])
        modelled[(k, mode)] = int((prov == "modelled").sum())
    out["modelled_sites_serving"] = [
        modelled[(k, m)] for k, m in zip(out["profile"], out["mode"], strict=True)
    ]
    if open_result is None:
        out["demand_newly_covered_open_data_only"] = out["demand_newly_covered"]
        out["communes_newly_covered_open_data_only"] = out["communes_newly_covered"]
        out["overlap_share_open_data_only"] = out["overlap_share"]
        return out
    key = ["candidate_id", "profile", "mode"]
    o = open_result.cards[
        [*key, "demand_newly_covered", "communes_newly_covered", "overlap_share"]
    ].rename(
        columns={
            "demand_newly_covered": "demand_newly_covered_open_data_only",
            "communes_newly_covered": "communes_newly_covered_open_data_only",
            "overlap_share": "overlap_share_open_data_only",
        }
    )
    return out.merge(o, on=key, how="left")


def _nearest_network_site(
    session: WhatIf, network: str, host: int, cache: dict[tuple[str, str], Any]
) -> pd.DataFrame:
    """Nearest existing site of ``network`` from commune ``host``, per mode of the session."""
    sites = session.sites
    net = sites[sites["network"].astype(str) == network]
    rows = []
    for mode, model in session.models.items():
        if len(net) == 0:
            rows.append(
                {"mode": mode, "site_id": "", "site_name": "", "site_commune": "",
                 "site_status": "", "time_min": np.nan}
            )  # fmt: skip
            continue
        key = (mode, network)
        if key not in cache:
            cache[key] = access.nearest_to(model, net)
        ans = cache[key]
        s = int(np.asarray(ans.site)[host])
        t = float(np.asarray(ans.time_s, float)[host])
        if s < 0 or not np.isfinite(t):
            rows.append(
                {"mode": mode, "site_id": "", "site_name": "", "site_commune": "",
                 "site_status": "", "time_min": np.nan}
            )  # fmt: skip
            continue
        site = net.iloc[s]
        prov = str(site.get("provenance", ""))
        rows.append(
            {
                "mode": mode,
                "site_id": str(site["site_id"]),
                "site_name": str(site["name"]),
                "site_commune": str(site.get("commune_name", "") or site.get("insee", "")),
                "site_status": "modelled"
                if prov == "modelled"
                else ("user" if prov == "user" else "real"),
                "time_min": t / 60.0,
            }
        )
    return pd.DataFrame(rows)


def _ranking_table(apps: list[Application], primary: str, result: WhatIfResult) -> pd.DataFrame:
    rows = []
    for a in apps:
        c = a.candidate
        cards = a.cards[a.cards["mode"] == primary]
        near = a.nearest[a.nearest["mode"] == primary]
        n = near.iloc[0] if len(near) else None
        rows.append(
            {
                "rank": a.rank,
                "candidate_id": c["candidate_id"],
                "name": c["name"],
                "network": c["network"],
                "kind": c.get("kind", ""),
                "commune": c.get("commune", ""),
                "insee": c.get("insee", ""),
                "lon": c["lon"],
                "lat": c["lat"],
                "position": c.get("position", ""),
                "profiles_served": ";".join(cards["profile"].astype(str)),
                "demand_newly_covered": float(cards["demand_newly_covered"].sum()),
                "demand_newly_covered_open_data_only": float(
                    cards["demand_newly_covered_open_data_only"].sum()
                ),
                "communes_newly_covered": int(
                    a.changes.loc[
                        (a.changes["mode"] == primary)
                        & (a.changes["status_change"] == "newly covered"),
                        "insee",
                    ].nunique()
                ),
                "person_minutes_saved": float(cards["person_minutes_saved"].sum()),
                "nearest_network_site": "" if n is None else n["site_name"],
                "nearest_network_site_status": "" if n is None else n["site_status"],
                "nearest_network_site_min": np.nan if n is None else n["time_min"],
                "report": f"{a.report}.html",
                "times_are": result.times_are,
                "provenance": c.get("provenance", "user"),
            }
        )
    return pd.DataFrame(rows, columns=list(RANKING_COLUMNS))


def load_open_session(session: WhatIf) -> WhatIf | None:
    """Return a what-if session on the open-data rows of ``session``'s directory.

    ``None`` when the directory has no modelled site (both numbers are then the same).
    """
    real = open_data_sites(session.sites)
    if len(real) == len(session.sites):
        return None
    return WhatIf(
        session.models, real, session.communes, session.profiles,
        thresholds_min=session.thresholds_min,
    )  # fmt: skip
