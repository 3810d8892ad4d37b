"""Time bands around the threshold, the colours of times and networks, and their labels."""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


#: Standard band edges (minutes); the threshold is always added as an edge.
TIME_EDGES_MIN: tuple[float, ...] = (10, 20, 30, 45, 60, 90, 120)


#: Colours of bands within the threshold (fast → threshold): greens to pale yellow.
_WITHIN_COLOURS = ("#006837", "#1a9850", "#66bd63", "#a6d96a", "#d9ef8b")


#: Colours of bands beyond the threshold (just beyond → far): oranges to dark red.
_BEYOND_COLOURS = ("#fdae61", "#f46d43", "#d73027", "#a50026", "#67001f")


#: Colour of communes without a time (unreachable, no service).
NO_TIME_COLOUR = "#9e9e9e"


#: Outline of communes beyond the threshold and of under-served clusters.
BEYOND_OUTLINE = "#5c0011"


#: Colour per network (known SPRO networks); others get :data:`_FALLBACK_COLOURS`.
NETWORK_COLOURS: dict[str, str] = {
    "Mission Locale": "#1f77b4",
    "Info Jeunes": "#ff7f0e",
    "CIO": "#2ca02c",
    "SCUIO": "#17becf",
    "France Travail": "#d62728",
    "Cap Emploi": "#9467bd",
    "APEC": "#8c564b",
    "Avenir Actifs": "#e377c2",
    "CCI": "#7f7f7f",
    "CMA": "#bcbd22",
    "Chambre d'agriculture": "#556b2f",
    "CIDFF": "#ad494a",
    "MIFE": "#6b6ecf",
    "Cité des métiers": "#e7969c",
    "Maison de l'emploi": "#637939",
    "Labelled structure": "#393b79",
    "Campus connecté": "#9edae5",
    "France Services": "#000080",
}


_FALLBACK_COLOURS = (
    "#393b79", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1",
    "#636363", "#bd9e39", "#ad494a",
)  # fmt: skip


@dataclass(frozen=True)
class TimeBands:
    """Colour bands of travel time, with the threshold as an edge.

    Attributes
    ----------
    edges
        Band edges in minutes, starting at 0 and ending with ``inf``.
    colours
        One colour per band.
    labels
        One label per band (e.g. ``"20–30"``, ``"> 120"``).
    threshold_min
        The threshold (an edge): bands after it are beyond.
    """

    edges: tuple[float, ...]
    colours: tuple[str, ...]
    labels: tuple[str, ...]
    threshold_min: float

    def beyond(self) -> np.ndarray:
        """Whether each band lies beyond the threshold."""
        return np.asarray(self.edges[:-1]) >= self.threshold_min

    def band(self, time_min: np.ndarray) -> np.ndarray:
        """Band index of each time; ``-1`` where the time is missing or infinite."""
        t = np.asarray(time_min, dtype=float)
        idx = np.searchsorted(np.asarray(self.edges[1:-1]), t, side="left")
        return np.where(np.isfinite(t), idx, -1)

    def colour(self, time_min: np.ndarray) -> np.ndarray:
        """Colour of each time (grey where missing)."""
        b = self.band(time_min)
        pal = np.asarray([*self.colours, NO_TIME_COLOUR], dtype=object)
        return pal[np.where(b >= 0, b, len(self.colours))]


def _fmt_min(v: float) -> str:
    return f"{v:g}"


def time_bands(threshold_min: float) -> TimeBands:
    """Bands for a threshold: fine below it (greens), coarser beyond (oranges to red).

    Parameters
    ----------
    threshold_min
        The threshold of the view, minutes.

    Returns
    -------
    TimeBands
        A time equal to the threshold falls in the last band within it (covered means
        ``time <= threshold``).
    """
    thr = float(threshold_min)
    within = [e for e in TIME_EDGES_MIN if e < thr]
    within = within[-(len(_WITHIN_COLOURS) - 1) :]
    beyond = [e for e in TIME_EDGES_MIN if e > thr]
    # keep at least one band beyond, and no more than the palette
    if not beyond:
        beyond = [thr * 1.5, thr * 2]
    beyond = beyond[: len(_BEYOND_COLOURS) - 1]
    inner = [*within, thr, *beyond]
    edges = (0.0, *[float(e) for e in inner], math.inf)
    n_within = len(within) + 1
    n_beyond = len(edges) - 1 - n_within
    if n_within >= len(_WITHIN_COLOURS):
        within_colours = list(_WITHIN_COLOURS)
    else:  # spread the greens, from fast (dark) to the threshold (light)
        picks = np.linspace(1, len(_WITHIN_COLOURS) - 1, n_within).round().astype(int)
        within_colours = [_WITHIN_COLOURS[i] for i in picks]
    colours = (*within_colours, *_BEYOND_COLOURS[:n_beyond])
    labels = []
    for lo, hi in itertools.pairwise(edges):
        if math.isinf(hi):
            labels.append(f"> {_fmt_min(lo)}")
        elif lo == 0:
            labels.append(f"≤ {_fmt_min(hi)}")
        else:
            labels.append(f"{_fmt_min(lo)}–{_fmt_min(hi)}")
    return TimeBands(edges=edges, colours=colours, labels=tuple(labels), threshold_min=thr)


def network_colours(networks: Any) -> dict[str, str]:
    """Return a stable colour for each network name.

    Parameters
    ----------
    networks
        Network names.

    Returns
    -------
    dict of str to str
        Known SPRO networks keep their colour; others get a fallback colour by sorted name.
    """
    out: dict[str, str] = {}
    unknown = sorted({str(n) for n in networks} - set(NETWORK_COLOURS))
    for n in {str(n) for n in networks}:
        if n in NETWORK_COLOURS:
            out[n] = NETWORK_COLOURS[n]
    for i, n in enumerate(unknown):
        out[n] = _FALLBACK_COLOURS[i % len(_FALLBACK_COLOURS)]
    return out


def provenance_label(p: Any) -> str:
    """Say in words where a site comes from (real open data, user directory, modelled)."""
    p = str(p)
    if p == "modelled":
        return "modelled (not a real address: completes a network short of its known size)"
    if p == "user":
        return "user directory"
    if p.startswith("open-data:"):
        return "real (open data: " + p.split(":", 1)[1] + ")"
    return p


def time_text(t: float) -> str:
    """Format a time in minutes (``"unreachable"`` when there is none)."""
    if not np.isfinite(t):
        return "unreachable"
    return f"{t:.0f} min"
