"""Printable labelling reports: one A4 page per application, an index, and their PDFs.

Each report says what the application is (candidate, network, commune, position), draws the
communes it newly covers (an inline SVG of the commune polygons in Lambert-93: no tiles, no
script, works offline and in PDF), gives the demand newly covered per profile it serves and
per mode — with the modelled completion and with the open-data sites only where modelled
sites serve the profile (the two-number rule) —, the overlap with existing sites (the
nearest site of its network and its time; the share of its catchment already covered) and
the labels: what the times are (``times_are``), which sites are real or modelled, which
demand is estimated.

Every value that comes from a user's file or the directory is escaped with
:func:`html.escape`; the pages hold no script and no remote resource. PDFs are drawn by
WeasyPrint with a URL fetcher that refuses everything but ``data:`` URLs.
"""

from __future__ import annotations

import functools
import html
import math
from typing import Any

import numpy as np
import pandas as pd
import shapely

from ..crs import polygons_l93
from .documents import page

#: Width of the map's SVG view box (its height follows the area's shape, at most
#: :data:`MAP_MAX_H`).
MAP_W = 1000.0
MAP_MAX_H = 620.0
#: Smallest side of the map's area, metres (a candidate changing one commune still shows
#: its neighbours).
MAP_MIN_SIDE_M = 16_000.0
#: Printed height of the map: at most MAP_MAX_MM, less MAP_MM_PER_ROW per row of the figures
#: table beyond two, at least MAP_MIN_MM (one page per report).
MAP_MAX_MM, MAP_MM_PER_ROW, MAP_MIN_MM = 66.0, 9.0, 28.0
#: Beyond this many rows in the figures table, the report is set in smaller type.
DENSE_ROWS = 4
#: Outline simplification, in view-box units (the view box is :data:`MAP_W` wide).
SIMPLIFY_PX = 1.5

MODE_LABELS = {"road": "road (car)", "transit": "public transport", "best": "best of both"}

#: Colours of the map (newly covered, faster only, other communes, sites, candidate).
COLOURS = {
    "new": "#1b7837",
    "faster": "#a6dba0",
    "other": "#f4f4f4",
    "edge": "#9a9a9a",
    "site": "#555555",
    "candidate": "#c0392b",
}

_CSS = """
<style>
@page { size: A4; margin: 10mm 11mm; }
.report h2 { font-size: 11pt; margin: 8pt 0 3pt; }
.report p { margin: 2pt 0; }
.report ul { margin: 2pt 0; padding-left: 14pt; }
.report table { font-size: 8pt; }
.report table.figures td, .report table.figures th { padding: 1pt 3pt; }
.report .facts td, .report .facts th { border: none; padding: 1pt 6pt 1pt 0; }
.report .facts th { background: none; color: #555; font-weight: normal; white-space: nowrap; }
.report .figure { margin: 4pt 0; }
.report .figure svg { width: 100%; height: auto; border: 1px solid #ddd; }
.report .legend span { display: inline-block; width: 9pt; height: 9pt; margin: 0 3pt 0 8pt;
  vertical-align: middle; border: 1px solid #999; }
.report .small { font-size: 8pt; color: #555; }
.report.dense { font-size: 8.5pt; } .report.dense table { font-size: 7.5pt; }
.report.dense .small { font-size: 7pt; } .report.dense h2 { margin: 5pt 0 2pt; }
.report .two { white-space: nowrap; }
</style>
"""


def _e(v: Any) -> str:
    """Escape any value as text (``""`` for missing values)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return html.escape(str(v), quote=True)


def fmt_people(v: Any) -> str:
    """Format a demand figure as the what-if cards show it (``12,345``; ``—`` when missing)."""
    return "—" if v is None or pd.isna(v) else f"{float(v):,.0f}"


def fmt_share(v: Any) -> str:
    """Format a share as the cards show it (``37 %``; ``—`` when missing)."""
    return "—" if v is None or pd.isna(v) else f"{100 * float(v):.0f} %"


def fmt_min(v: Any) -> str:
    """Minutes with one decimal (``—`` when missing or infinite)."""
    if v is None or pd.isna(v) or not math.isfinite(float(v)):
        return "—"
    return f"{float(v):.1f}"


def _cell(value: str, key: str, *, cls: str = "num") -> str:
    return f"<td class='{cls}' data-k='{_e(key)}'>{value}</td>"


# ----------------------------------------------------------------------------- the map
def commune_map_svg(call: Any, app: Any, *, merged: bool = False) -> str:
    """Return an inline SVG of the communes an application newly covers (Lambert-93).

    ``merged`` draws one path per colour instead of one per commune (named in a tooltip):
    the same picture, several times faster for WeasyPrint to draw in a PDF.

    Dark green: communes newly covered (for at least one profile, primary mode); light
    green: communes whose time only improves; the other communes of the area in outline;
    grey dots: today's sites of the candidate's network (hollow: modelled); red: the
    candidate.
    """
    communes = call.communes
    geoms = polygons_l93(communes)
    ch = app.changes[app.changes["mode"] == call.primary_mode]
    rows = ch["row"].dropna().astype(int).unique()
    new_rows = set(ch.loc[ch["status_change"] == "newly covered", "row"].dropna().astype(int))
    cx, cy = float(app.candidate["x_l93"]), float(app.candidate["y_l93"])
    if len(rows):
        b = shapely.bounds(geoms.values[rows])
        x0, y0 = min(b[:, 0].min(), cx), min(b[:, 1].min(), cy)
        x1, y1 = max(b[:, 2].max(), cx), max(b[:, 3].max(), cy)
    else:
        x0 = x1 = cx
        y0 = y1 = cy
    # Pad, give a minimum side, then the view box's shape.
    w, h = max(x1 - x0, MAP_MIN_SIDE_M), max(y1 - y0, MAP_MIN_SIDE_M)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = w * 1.12, h * 1.12
    if h / w > MAP_MAX_H / MAP_W:
        w = h * MAP_W / MAP_MAX_H
    height = MAP_W * h / w
    x0, x1, y0, y1 = mx - w / 2, mx + w / 2, my - h / 2, my + h / 2
    k = MAP_W / w

    def tx(x: np.ndarray) -> np.ndarray:
        return (x - x0) * k

    def ty(y: np.ndarray) -> np.ndarray:
        return (y1 - y) * k

    idx = geoms.sindex.query(shapely.box(x0, y0, x1, y1))
    idx = np.sort(idx)
    # Outlines simplified to about a pixel and a half of the view box (the PDF's cost).
    simple = shapely.simplify(geoms.values[idx], w / MAP_W * SIMPLIFY_PX)
    changed = set(rows.tolist())
    paths = []
    others = []  # the communes of the area that do not change: one path, drawn first
    by_class: dict[tuple[str, str], list[str]] = {}
    for r, g in zip(idx.tolist(), simple, strict=True):
        d = _path_d(g, tx, ty)
        if not d:
            continue
        if r in new_rows:
            fill, cls = COLOURS["new"], "new"
        elif r in changed:
            fill, cls = COLOURS["faster"], "faster"
        else:
            others.append(d)
            continue
        if merged:
            by_class.setdefault((cls, fill), []).append(d)
            continue
        name = _e(communes["nom"].iloc[r])
        paths.append(
            f"<path class='commune {cls}' d='{d}' fill='{fill}' stroke='{COLOURS['edge']}' "
            f"stroke-width='0.6' fill-rule='evenodd'><title>{name}</title></path>"
        )
    for (cls, fill), ds in by_class.items():
        paths.append(
            f"<path class='communes {cls}' d='{''.join(ds)}' fill='{fill}' "
            f"stroke='{COLOURS['edge']}' stroke-width='0.6' fill-rule='evenodd'/>"
        )
    if others:
        paths.insert(
            0,
            f"<path class='others' d='{''.join(others)}' fill='{COLOURS['other']}' "
            f"stroke='{COLOURS['edge']}' stroke-width='0.6'/>",
        )
    sites = call.sites
    net = sites[sites["network"].astype(str) == str(app.candidate["network"])]
    sx, sy = net["x_l93"].to_numpy(float), net["y_l93"].to_numpy(float)
    inside = (sx >= x0) & (sx <= x1) & (sy >= y0) & (sy <= y1)
    dots = []
    provs = net["provenance"].astype(str).to_numpy() if "provenance" in net else None
    for i in np.flatnonzero(inside):
        modelled = provs is not None and provs[i] == "modelled"
        fill = "none" if modelled else COLOURS["site"]
        dots.append(
            f"<circle class='site{' modelled' if modelled else ''}' cx='{tx(sx[i]):.1f}' "
            f"cy='{ty(sy[i]):.1f}' r='5' fill='{fill}' stroke='{COLOURS['site']}' "
            f"stroke-width='1.5'><title>{_e(net['name'].iloc[i])}</title></circle>"
        )
    px, py = tx(np.array(cx)), ty(np.array(cy))
    star = (
        f"<circle class='candidate' cx='{px:.1f}' cy='{py:.1f}' r='8' "
        f"fill='{COLOURS['candidate']}' stroke='white' stroke-width='2'>"
        f"<title>{_e(app.candidate['name'])}</title></circle>"
    )
    km = _scale_km(w)
    bar = km * 1000 * k
    scale = (
        f"<g class='scale'><rect x='12' y='{height - 22:.1f}' width='{bar:.1f}' height='5' "
        f"fill='#333'/><text x='12' y='{height - 28:.1f}' font-size='16' "
        f"font-family='DejaVu Sans, Arial, sans-serif'>{km:g} km</text></g>"
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='commune-map' viewBox='0 0 {MAP_W:.0f} "
        f"{height:.0f}' width='{MAP_W:.0f}' height='{height:.0f}' role='img' "
        f"aria-label='communes newly covered'>"
        f"<rect width='100%' height='100%' fill='white'/>{''.join(paths)}{''.join(dots)}"
        f"{star}{scale}</svg>"
    )


def _scale_km(width_m: float) -> float:
    """Return a round scale-bar length, about a fifth of the map's width."""
    target = width_m / 5000.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200):
        if step >= target:
            return float(step)
    return 500.0


def _path_d(geom: Any, tx: Any, ty: Any) -> str:
    """SVG path data of a (multi)polygon."""
    parts = []
    for poly in shapely.get_parts(geom):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in (poly.exterior, *poly.interiors):
            c = np.asarray(ring.coords)
            if len(c) < 3:
                continue
            xs, ys = tx(c[:, 0]), ty(c[:, 1])
            pts = " ".join(f"{a:.0f},{b:.0f}" for a, b in zip(xs, ys, strict=True))
            parts.append(f"M{pts}Z")
    return "".join(parts)


# ----------------------------------------------------------------------------- the report
def _labels(call: Any, app: Any = None) -> list[str]:
    keys = call.demand_estimated if app is None else set(app.cards["profile"].astype(str))
    est = sorted(k for k in keys if call.demand_estimated.get(k))
    lines = [
        f"Times are {call.times_are.upper()} ({', '.join(call.whatif.models)}).",
        f"Run: {call.provenance}.",
    ]
    if est:
        lines.append(
            "Demand ESTIMATED (age bands or regional rates) for: "
            + ", ".join(call.profile_labels.get(k, k) for k in est)
            + "."
        )
    if call.open_data is not None:
        lines.append(
            "Where modelled sites serve a profile, two numbers: with the modelled completion · "
            "with the open-data sites only."
        )
    else:
        lines.append("Every site used is open data or user-supplied (no modelled site).")
    return lines


def report_body(call: Any, app: Any, *, merged_map: bool = False) -> str:
    """Return the inner HTML of an application's report (everything escaped)."""
    c = app.candidate
    pos = "at the commune's origin point" if c.get("position") == "commune" else "exact point"
    facts = [
        ("Application", c["name"]),
        ("Network", c["network"]),
        ("Kind", c.get("kind", "")),
        ("Commune", f"{c.get('commune', '')} ({c.get('insee', '')})"),
        ("Position", f"{float(c['lon']):.5f}, {float(c['lat']):.5f} — {pos}"),
        ("Address", c.get("address", "") or "—"),
        ("Rank in the call", f"{app.rank} of {len(call.applications)}"),
        ("Provenance", f"{c.get('provenance', 'user')} (entered by the applicant)"),
    ]
    half = (len(facts) + 1) // 2
    facts_html = "".join(
        "<tr>"
        + "".join(
            f"<th>{_e(a)}</th><td>{_e(b)}</td>" for a, b in (facts[i], *facts[i + half :][:1])
        )
        + "</tr>"
        for i in range(half)
    )
    dense = " dense" if len(app.cards) > DENSE_ROWS else ""  # many rows: smaller type
    parts = [_CSS, f"<div class='report{dense}'>", f"<table class='facts'>{facts_html}</table>"]

    # The map.
    ch = app.changes[app.changes["mode"] == call.primary_mode]
    new = ch[ch["status_change"] == "newly covered"].drop_duplicates("insee")
    parts.append(
        f"<h2>Communes newly covered ({_e(MODE_LABELS.get(call.primary_mode, call.primary_mode))})"
        "</h2>"
    )
    # The map gives way to the table so that the report stays on one page.
    max_h = max(MAP_MIN_MM, MAP_MAX_MM - MAP_MM_PER_ROW * max(0, len(app.cards) - 2))
    svg = commune_map_svg(call, app, merged=merged_map).replace(
        "<svg ", f"<svg style='max-height: {max_h:.0f}mm' ", 1
    )
    parts.append(f"<div class='figure'>{svg}</div>")
    legend = (
        f"<span style='background:{COLOURS['new']}'></span>newly covered "
        f"<span style='background:{COLOURS['faster']}'></span>faster, not newly covered "
        f"<span style='background:{COLOURS['site']}; border-radius: 50%'></span>today's "
        f"{_e(c['network'])} sites (hollow: modelled) "
        f"<span style='background:{COLOURS['candidate']}; border-radius: 50%'></span>"
        "the application"
    )
    parts.append(f"<p class='legend small'>{legend}</p>")
    if len(new):
        names = [f"{n} ({i})" for n, i in zip(new["nom"], new["insee"], strict=True)]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        parts.append(f"<p class='small'>Newly covered: {_e(shown)}.</p>")
    else:
        parts.append("<p class='small'>No commune is newly covered.</p>")

    # The figures.
    parts.append("<h2>Demand newly covered, per profile and mode</h2>")
    parts.append(figures_table(call, app))

    # The overlap.
    parts.append("<h2>Overlap with existing sites</h2>")
    parts.append(overlap_html(app))
    parts.append(
        "<p class='small'>Newly covered: demand within the threshold with the application, "
        "not today. Catchment: the communes for which it becomes the nearest eligible site "
        "within the threshold; already covered: the share of that demand today's sites "
        "cover (the share of its reach that overlaps existing sites). Each application is "
        "evaluated alone against today's sites.</p>"
    )
    parts.append("</div>")
    return "".join(parts)


def figures_table(call: Any, app: Any) -> str:
    """Return the card figures of one application, one row per profile × mode."""
    newly_head = (
        "newly covered (people): with modelled sites · open data only"
        if call.open_data is not None
        else "newly covered (people)"
    )
    head = (
        f"<tr><th>profile</th><th>mode, threshold</th><th>{newly_head}</th>"
        "<th>communes</th><th>time improves for</th><th>mean gain (min)</th><th>P50 (min) "
        "before → after</th><th>P90 (min) before → after</th><th>catchment</th>"
        "<th>already covered</th></tr>"
    )
    if app.cards.empty:
        return "<p>Its network serves none of the profiles evaluated: no figure.</p>"
    rows = []
    for _, r in app.cards.iterrows():
        k = str(r["profile"])
        label = call.profile_labels.get(k, k) + (" *" if call.demand_estimated.get(k) else "")
        two = int(r.get("modelled_sites_serving", 0) or 0) > 0 and call.open_data is not None
        newly = fmt_people(r["demand_newly_covered"])
        if two:
            newly_html = (
                f"<span class='two'><span data-k='demand_newly_covered'>{newly}</span> · "
                f"<span data-k='demand_newly_covered_open_data_only'>"
                f"{fmt_people(r['demand_newly_covered_open_data_only'])}</span></span>"
            )
        else:
            newly_html = f"<span data-k='demand_newly_covered'>{newly}</span>"
        rk = f" data-profile='{_e(k)}' data-mode='{_e(r['mode'])}'"
        rows.append(
            f"<tr class='card'{rk}><td>{_e(label)}</td>"
            f"<td class='two'>{_e(r['mode'])}, {float(r['threshold_min']):g} min</td>"
            f"<td class='num'>{newly_html}</td>"
            + _cell(f"{int(r['communes_newly_covered'])}", "communes_newly_covered")
            + _cell(fmt_people(r["demand_time_improved"]), "demand_time_improved")
            + _cell(fmt_min(r["mean_gain_min"]), "mean_gain_min")
            + _cell(
                f"{fmt_min(r['p50_before_min'])} → {fmt_min(r['p50_after_min'])}",
                "p50_min",
                cls="num two",
            )
            + _cell(
                f"{fmt_min(r['p90_before_min'])} → {fmt_min(r['p90_after_min'])}",
                "p90_min",
                cls="num two",
            )
            + _cell(fmt_people(r["catchment_demand"]), "catchment_demand")
            + _cell(fmt_share(r["overlap_share"]), "overlap_share")
            + "</tr>"
        )
    star = (
        "<p class='small'>* demand estimated (age bands or regional rates).</p>"
        if any(call.demand_estimated.get(str(k)) for k in app.cards["profile"])
        else ""
    )
    return (
        f"<table class='figures'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>" + star
    )


def overlap_html(app: Any) -> str:
    """Return the nearest existing site of the application's network, per mode, and the overlap."""
    c = app.candidate
    items = []
    for _, n in app.nearest.iterrows():
        mode = MODE_LABELS.get(str(n["mode"]), n["mode"])
        if not n["site_name"]:
            items.append(f"<li>{_e(mode)}: no {_e(c['network'])} site reachable today.</li>")
            continue
        items.append(
            f"<li class='nearest' data-mode='{_e(n['mode'])}'>{_e(mode)}: "
            f"<b>{_e(n['site_name'])}</b> ({_e(n['site_commune'])}; {_e(n['site_status'])}), "
            f"<span data-k='nearest_min'>{fmt_min(n['time_min'])}</span> min from "
            f"{_e(c.get('commune', ''))}</li>"
        )
    return (
        f"<p>Nearest existing {_e(c['network'])} site from the application's commune:</p>"
        f"<ul>{''.join(items)}</ul>"
    )


def report_page(call: Any, app: Any, *, for_pdf: bool = False) -> str:
    """Return an application's whole printable report (HTML, A4, no script).

    ``for_pdf`` draws the map with one path per colour (see :func:`commune_map_svg`).
    """
    title = f"Labelling call — application #{app.rank}: {app.candidate['name']}"
    return page(title, report_body(call, app, merged_map=for_pdf), labels=_labels(call, app))


def index_page(call: Any, *, pdf: bool = False) -> str:
    """Return the call's index: the ranked table, each row linking its report."""
    head = (
        "<tr><th>rank</th><th>application</th><th>network</th><th>commune</th>"
        "<th>profiles</th><th>newly covered (people)</th><th>open data only</th>"
        "<th>nearest site of its network</th><th>report</th></tr>"
    )
    rows = []
    for _, r in call.ranking.iterrows():
        stem = str(r["report"]).removesuffix(".html")
        links = f"<a href='{_e(stem)}.html'>HTML</a>" + (
            f" · <a href='{_e(stem)}.pdf'>PDF</a>" if pdf else ""
        )
        near = (
            f"{r['nearest_network_site']} ({r['nearest_network_site_status']}), "
            f"{fmt_min(r['nearest_network_site_min'])} min"
            if r["nearest_network_site"]
            else "—"
        )
        rows.append(
            f"<tr data-id='{_e(r['candidate_id'])}'><td class='num'>{int(r['rank'])}</td>"
            f"<td>{_e(r['name'])}</td><td>{_e(r['network'])}</td>"
            f"<td>{_e(r['commune'])} ({_e(r['insee'])})</td>"
            f"<td>{_e(str(r['profiles_served']).replace(';', ', '))}</td>"
            + _cell(fmt_people(r["demand_newly_covered"]), "demand_newly_covered")
            + _cell(
                fmt_people(r["demand_newly_covered_open_data_only"]),
                "demand_newly_covered_open_data_only",
            )
            + f"<td>{_e(near)}</td><td>{links}</td></tr>"
        )
    notes = "".join(f"<p class='small'>{_e(n)}</p>" for n in call.notes)
    body = (
        f"{_CSS}<div class='report'><p>{len(call.ranking)} application(s), ranked by the "
        f"demand newly covered (summed over the profiles each serves, "
        f"{_e(MODE_LABELS.get(call.primary_mode, call.primary_mode))}); ties by the "
        "person-minutes saved.</p>"
        f"<table class='ranking'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        f"{notes}</div>"
    )
    return page("Labelling call — ranked applications", body, labels=_labels(call))


# ----------------------------------------------------------------------------- PDF
@functools.cache
def pdf_unavailable() -> str | None:
    """Why PDFs cannot be drawn here (``None``: WeasyPrint and its libraries load)."""
    try:
        import weasyprint  # noqa: F401
    except ImportError as exc:
        return f"WeasyPrint is not installed ({exc}); run scripts/setup_env.sh"
    except OSError as exc:  # pango / harfbuzz missing
        return (
            f"WeasyPrint cannot load its libraries ({exc}); install Debian's libpango-1.0-0 "
            "and libpangoft2-1.0-0 (scripts/setup_env.sh does it when run as root)"
        )
    return None


def _fetcher() -> Any:
    """Return a WeasyPrint URL fetcher that refuses everything but ``data:`` URLs."""
    import weasyprint.urls as wu

    if hasattr(wu, "URLFetcher"):  # WeasyPrint >= 68
        return wu.URLFetcher(allowed_protocols=("data",), allow_redirects=False)

    def fetch(url: str, *args: Any, **kw: Any) -> Any:  # older versions: a function
        if not url.startswith("data:"):
            raise ValueError(f"remote resources are refused in reports: {url}")
        return wu.default_url_fetcher(url, *args, **kw)

    return fetch


def html_to_pdf(text: str) -> bytes:
    """Draw a printable page as PDF (no resource fetched but ``data:`` URLs).

    Raises
    ------
    RuntimeError
        WeasyPrint cannot load (the reason says what to install).
    """
    why = pdf_unavailable()
    if why:
        raise RuntimeError(why)
    import weasyprint

    return weasyprint.HTML(string=text, url_fetcher=_fetcher(), base_url=None).write_pdf()


def report_pdf(call: Any, app: Any) -> bytes:
    """Return an application's report as PDF."""
    return html_to_pdf(report_page(call, app, for_pdf=True))
