"""Edge speeds of OpenStreetMap roads: French defaults per highway class.

The rule is osmnx's (:func:`osmnx.routing.add_edge_speeds`), applied to whole edge
columns at once instead of edge by edge:

1. an edge's speed is its ``maxspeed`` tag when the tag can be read: a number in km/h
   (``"50"``, ``"50 km/h"``), mph converted (``"30 mph"``), several lane values
   (``"50|70"``) or a list of values after graph simplification are averaged; French
   implicit values (``"FR:urban"``...) are read through :data:`IMPLICIT_MAXSPEEDS_KMH`;
2. otherwise the default speed of its highway class, :data:`FRENCH_SPEEDS_KMH`
   (the first class when simplification merged several);
3. a class missing from that table takes the mean tagged speed of its class in the graph,
   and failing that :data:`FALLBACK_SPEED_KMH`.

Times are free-flow: no congestion, no delay at junctions, so OSM times are a lower bound
of real driving times, most so in cities.

Walking ignores the tags: every walkable edge is walked at :data:`WALK_SPEED_KMH`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Default speed (km/h) of each OSM ``highway`` class on French roads, used where an edge
#: has no readable ``maxspeed`` tag. Where a class maps to a French legal default limit,
#: that limit is used; elsewhere a typical free-flow speed.
FRENCH_SPEEDS_KMH: dict[str, float] = {
    # Autoroute: 130 km/h legal limit in dry weather (Code de la route R413-2).
    "motorway": 130.0,
    # Bretelles: commonly signed 70 (90 on some); 70 also absorbs the junction slow-down.
    "motorway_link": 70.0,
    # Route à chaussées séparées / voie express: 110 km/h legal limit.
    "trunk": 110.0,
    "trunk_link": 70.0,
    # Two-way roads outside built-up areas: 80 km/h since 1 July 2018 (some departments
    # restored 90 on parts of their network since 2020; those roads carry a maxspeed tag).
    "primary": 80.0,
    "primary_link": 50.0,
    "secondary": 80.0,
    "secondary_link": 50.0,
    # Tertiary (local departmental) roads: 80 outside villages, 50 through them.
    "tertiary": 70.0,
    "tertiary_link": 40.0,
    # Minor public roads: narrow, often through hamlets.
    "unclassified": 50.0,
    # Streets in built-up areas: 50 legal default, but many French towns (Grenoble, Lyon,
    # Clermont-Ferrand...) are "ville 30" and residential streets are slow in practice.
    "residential": 30.0,
    # Zone de rencontre: 20 km/h legal limit.
    "living_street": 20.0,
    # Unknown road type (mapping in progress).
    "road": 30.0,
    "busway": 30.0,
}

#: Speed (km/h) of an edge whose class is neither in the table nor tagged anywhere.
FALLBACK_SPEED_KMH: float = 50.0

#: Walking speed (km/h) on the walk network (a slow-adult pace; 5 km/h is a brisk one).
WALK_SPEED_KMH: float = 4.5

#: Implicit ``maxspeed`` values (OSM wiki, Key:maxspeed, France) in km/h.
#: ``FR:motorway`` is 130 (osmnx's own table says 120, the wet-weather limit).
IMPLICIT_MAXSPEEDS_KMH: dict[str, float] = {
    "FR:urban": 50.0,
    "FR:rural": 80.0,
    "FR:motorway": 130.0,
    "FR:zone30": 30.0,
    "FR:zone20": 20.0,
    "FR:living_street": 20.0,
    "FR:walk": 6.0,
    "walk": 6.0,
    "living_street": 20.0,
}

_MPH_TO_KMH = 1.60934
_NUMBER = re.compile(r"^([0-9][\.,0-9]*?)(?:[ ]?(?:km/h|kmh|kph|mph|knots))?$")


def parse_maxspeed(value: Any, *, agg: Callable[[Any], Any] = np.mean) -> float:
    """Read one ``maxspeed`` tag value in km/h, NaN when it cannot be read.

    Parameters
    ----------
    value
        A tag value (string), a list of them (after graph simplification), or a missing
        value (``None``/NaN).
    agg
        How several values (lanes ``"50|70"`` or a list) are combined; the mean by default.

    Returns
    -------
    float
        The speed in km/h, or NaN.
    """
    if isinstance(value, (list, tuple)):
        vals = [parse_maxspeed(v, agg=agg) for v in value]
        vals = [v for v in vals if np.isfinite(v)]
        return float(agg(vals)) if vals else np.nan
    if not isinstance(value, str):
        return np.nan
    text = value.strip()
    parts = text.split("|")
    out = []
    for part in parts:
        m = _NUMBER.match(part.strip())
        if m is None:
            break
        try:
            v = float(m.group(1).replace(",", "."))
        except ValueError:
            break
        if "mph" in text.lower():
            v *= _MPH_TO_KMH
        out.append(v)
    else:
        return float(agg(out))
    return float(IMPLICIT_MAXSPEEDS_KMH.get(text, np.nan))


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_to_tuples = np.frompyfunc(_as_tuple, 1, 1)


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorise an object column; lists (from simplification) are compared as tuples."""
    arr = np.asarray(values, dtype=object)
    try:
        return pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # unhashable lists: only in simplified graphs
        return pd.factorize(np.asarray(_to_tuples(arr), dtype=object), use_na_sentinel=True)


def _first(values: np.ndarray) -> np.ndarray:
    """Return the first element of list values (simplified highway classes), else the value."""
    codes, uniques = _factorize(values)
    firsts = np.array(
        [u[0] if isinstance(u, tuple) and len(u) else u for u in uniques], dtype=object
    )
    out = np.full(len(codes), None, dtype=object)
    ok = codes >= 0
    out[ok] = firsts[codes[ok]]
    return out


def maxspeed_kmh(values: np.ndarray, *, agg: Callable[[Any], Any] = np.mean) -> np.ndarray:
    """Read a column of ``maxspeed`` tags in km/h (NaN where unreadable).

    Each distinct value is parsed once, so the cost does not grow with the number of
    edges beyond one factorisation.

    Parameters
    ----------
    values
        The ``maxspeed`` attribute of each edge (strings, lists, or missing).
    agg
        How several values are combined (mean by default).

    Returns
    -------
    numpy.ndarray
        Float speeds, km/h.
    """
    codes, uniques = _factorize(values)
    parsed = np.array(
        [parse_maxspeed(list(u) if isinstance(u, tuple) else u, agg=agg) for u in uniques],
        dtype=float,
    )
    out = np.full(len(codes), np.nan)
    ok = codes >= 0
    out[ok] = parsed[codes[ok]]
    return out


def edge_speeds_kmh(
    highway: np.ndarray,
    maxspeed: np.ndarray | None,
    *,
    hwy_speeds: Mapping[str, float] | None = None,
    fallback: float = FALLBACK_SPEED_KMH,
) -> np.ndarray:
    """Speed of every edge in km/h, by osmnx's rule with French defaults.

    Parameters
    ----------
    highway
        The ``highway`` class of each edge (a string, or a list after simplification).
    maxspeed
        The ``maxspeed`` tag of each edge, or ``None`` if no edge has one.
    hwy_speeds
        Default speed per highway class; :data:`FRENCH_SPEEDS_KMH` if not given.
    fallback
        Speed of classes neither in ``hwy_speeds`` nor tagged on any edge of the graph.

    Returns
    -------
    numpy.ndarray
        Positive finite speeds, km/h.
    """
    table = dict(FRENCH_SPEEDS_KMH if hwy_speeds is None else hwy_speeds)
    hw = _first(np.asarray(highway, dtype=object))
    n = len(hw)
    tagged = maxspeed_kmh(maxspeed) if maxspeed is not None else np.full(n, np.nan)
    # Invalid tags (0, negative) are treated as missing.
    tagged = np.where(tagged > 0, tagged, np.nan)
    codes, classes = pd.factorize(hw, use_na_sentinel=True)
    class_speed = np.array([table.get(c, np.nan) for c in classes], dtype=float)
    missing = ~np.isfinite(class_speed)
    if missing.any():
        # osmnx: a class without a default takes the mean tagged speed of its edges.
        ok = codes >= 0
        means = pd.Series(tagged[ok]).groupby(codes[ok]).mean()
        observed = means.reindex(np.arange(len(classes))).to_numpy()
        class_speed = np.where(missing, observed, class_speed)
        class_speed = np.where(np.isfinite(class_speed), class_speed, fallback)
    default = np.full(n, float(fallback))
    ok = codes >= 0
    default[ok] = class_speed[codes[ok]]
    return np.where(np.isfinite(tagged), tagged, default)


def travel_times_s(length_m: np.ndarray, speed_kmh: np.ndarray) -> np.ndarray:
    """Free-flow travel time of each edge, seconds (``length / speed``)."""
    return np.asarray(length_m, dtype=float) / (np.asarray(speed_kmh, dtype=float) / 3.6)


def add_french_speeds(G: Any, *, fallback: float = FALLBACK_SPEED_KMH) -> Any:
    """Add osmnx ``speed_kph`` and ``travel_time`` edge attributes with French defaults.

    This runs osmnx itself (edge by edge, slow on large graphs); it is meant for users who
    want an osmnx graph to explore. The tool's own conversion
    (:func:`analysis.osm.convert.graph_to_roadgraph`) computes the same speeds column-wise;
    the one difference is ``maxspeed=FR:motorway``, 120 km/h in osmnx's table of implicit
    values and 130 in :data:`IMPLICIT_MAXSPEEDS_KMH`.

    Parameters
    ----------
    G
        An osmnx ``MultiDiGraph``; modified in place.
    fallback
        Speed of classes without a default and without tagged edges.

    Returns
    -------
    networkx.MultiDiGraph
        ``G``.
    """
    import osmnx as ox

    ox.routing.add_edge_speeds(G, hwy_speeds=FRENCH_SPEEDS_KMH, fallback=fallback)
    ox.routing.add_edge_travel_times(G)
    return G
