"""Printable pages (HTML, A4, no script, no remote resource).

The caravane's programme (and later the labelling reports); every value from a user's file
is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from .leaflet import esc

if TYPE_CHECKING:
    from ..planning.caravane import CaravaneResult

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #222; }
h1 { font-size: 15pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 12pt 0 4pt; }
.labels { font-size: 8.5pt; color: #555; border-left: 3px solid #c0392b; padding-left: 6pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0; page-break-inside: auto; }
th, td { border-bottom: 1px solid #ccc; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; }
tr { page-break-inside: avoid; } .day { page-break-inside: avoid; }
.figure svg { width: 100%; height: auto; }
"""


def page(title: str, body: str, *, labels: Sequence[str] = ()) -> str:
    """Return a whole printable HTML page.

    Parameters
    ----------
    title
        Title (escaped).
    body
        Inner HTML, already escaped by the caller.
    labels
        Provenance lines shown under the title (escaped): what is real, modelled, estimated.
    """
    lab = "".join(f"<div>{esc(x)}</div>" for x in labels)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><div class='labels'>{lab}</div>{body}</body></html>"
    )


def table(
    df: pd.DataFrame, columns: Sequence[tuple[str, str]], *, numeric: Sequence[str] = ()
) -> str:
    """Return an HTML table of ``df``: ``columns`` = (column, header) pairs; values escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for _, h in columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c, _ in columns:
            v = r[c]
            if c in numeric and isinstance(v, int | float) and pd.notna(v):
                cells.append(f"<td class='num'>{v:,.0f}</td>")
            else:
                cells.append(f"<td>{esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def caravane_programme(result: CaravaneResult) -> str:
    """Return the caravane's printable programme: one block per day (date when dated)."""
    it = result.itinerary
    s = result.summary
    blocks = []
    for day, g in it.groupby("day", sort=True):
        date = str(g["date"].iloc[0]) if "date" in g.columns and str(g["date"].iloc[0]) else ""
        head = f"Day {day}" + (f" — {date}" if date else "")
        stops = g[g["kind"] == "stop"]
        back = g[g["kind"] == "return"]
        rows = table(
            stops,
            [("arrive", "arrive"), ("depart", "leave"), ("name", "stop"), ("insee", "commune"),
             ("audience", "pupils met"), ("target_reached", "under-served people in reach")],
            numeric=("audience", "target_reached"),
        )  # fmt: skip
        ret = f"back at {esc(back['arrive'].iloc[0])}" if len(back) else ""
        drive = f"{float(g['day_drive_min'].iloc[0]):.0f} min driving"
        blocks.append(
            f"<div class='day'><h2>{esc(head)}</h2>{rows}<p>{esc(ret)}, {esc(drive)}</p></div>"
        )
    intro = (
        f"<p>Base: {esc(result.base['name'])}. Profile: {esc(result.profile_key)}. "
        f"{esc(s.get('season') or '')} Stops: {int(s['stops'])}; pupils met: "
        f"{float(s.get('audience_met', 0)):,.0f}; under-served people reached: "
        f"{float(s['target_reached']):,.0f} of {float(s['target_total']):,.0f}.</p>"
    )
    labels = [f"Times: {s.get('model', '')} ({result.times_are})", result.provenance]
    return page("Caravane programme", intro + "".join(blocks), labels=labels)
