"""Helpers shared by the three planner tools: access models, labels, profiles, positions.

The access rules themselves (thresholds, covered, eligible sites, demand, the baseline
pass) live in :mod:`analysis.access`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TypeGuard

import numpy as np
import pandas as pd

from .. import settings
from ..access import AccessModel, times_are_label
from ..communes import insee_code
from ..coverage import site_provenance_counts
from ..crs import polygons_l93, to_l93
from ..errors import UnknownNameError, ValidationError
from ..profiles import Profile, load_profiles
from ..road_model import RoadModel
from ..sites.networks import SPRO_NETWORKS
from ..sites.networks import canonical_network as _canon
from ..sites.normalise import code_or_postcode

logger = logging.getLogger(__name__)

#: What the planner tools accept as access models: one, a sequence, or ``{mode: model}``.
ModelsArg = AccessModel | Sequence[AccessModel] | Mapping[str, AccessModel]
#: What they accept as profiles: ``{key: Profile}``, a sequence, or ``None`` (the default file).
ProfilesArg = Mapping[str, Profile] | Sequence[Profile] | None


def as_models(models: ModelsArg) -> dict[str, AccessModel]:
    """Return ``{mode: access model}`` from one model or a mapping/sequence of models.

    Parameters
    ----------
    models
        One access model (a :class:`~analysis.road_model.RoadModel` or any model with
        ``mode``, ``label``, ``estimated`` and ``.nearest``), a sequence of them, or a
        mapping from mode to model.

    Returns
    -------
    dict of str to model
        In the order given; the first one is the primary mode (used for rankings).

    Raises
    ------
    ValidationError
        If no model is given or two models answer the same mode.
    """
    if isinstance(models, Mapping):
        out = dict(models)
    else:
        seq = list(models) if isinstance(models, Sequence) else [models]
        out = {}
        for m in seq:
            mode = str(getattr(m, "mode", "road"))
            if mode in out:
                raise ValidationError(f"two access models were given for the mode {mode!r}")
            out[mode] = m
    if not out:
        raise ValidationError("no access model was given")
    return out


def is_road_model(model: AccessModel) -> TypeGuard[RoadModel]:
    """Whether ``model`` is a road model with a graph for incremental passes."""
    return (
        getattr(model, "mode", "road") == "road"
        and hasattr(model, "graph")
        and hasattr(model, "snap_sites")
        and hasattr(model, "origin_nodes")
    )


def model_line(models: Mapping[str, AccessModel]) -> str:
    """One line naming every access model used and whether its times are estimated."""
    parts = []
    for mode, m in models.items():
        label = getattr(m, "label", "") or mode
        parts.append(f"{mode}: {label} ({times_are_label(m).upper()})")
    return "; ".join(parts)


def sites_line(sites: pd.DataFrame, *, extra: pd.DataFrame | None = None) -> str:
    """Say how many sites are real open data, user-supplied and modelled.

    Parameters
    ----------
    sites
        The site directory used (column ``provenance``).
    extra
        Sites added by the user for this run (candidates), counted as user-supplied.

    Returns
    -------
    str
        E.g. ``"sites: 420 real (open data), 310 modelled; 3 candidate(s) entered by the user"``.
    """
    line = "sites: " + site_provenance_counts(sites)
    if extra is not None and len(extra):
        line += f"; {len(extra)} candidate(s) entered by the user"
    return line


def provenance(
    models: Mapping[str, AccessModel], sites: pd.DataFrame, *, extra: pd.DataFrame | None = None
) -> str:
    """Return the provenance line every planner output carries (models + sites)."""
    return f"times {model_line(models)}; {sites_line(sites, extra=extra)}"


def profile_map(profiles: ProfilesArg) -> dict[str, Profile]:
    """Return ``{key: Profile}`` from a mapping, a sequence or ``None`` (the default file)."""
    if profiles is None:
        profiles = load_profiles()
    if isinstance(profiles, Mapping):
        return dict(profiles)
    return {p.key: p for p in profiles}


def get_profile(key: str | Profile, profiles: Mapping[str, Profile]) -> Profile:
    """Return one profile by key (or the profile itself), listing the valid keys if unknown."""
    if not isinstance(key, str):
        return key
    if key not in profiles:
        raise UnknownNameError("profile", key, profiles)
    return profiles[key]


def profile_for_network(network: str, profiles: Mapping[str, Profile]) -> Profile:
    """Return the most specific profile a network serves (the one with the fewest networks).

    Parameters
    ----------
    network
        Canonical network name.
    profiles
        ``{key: Profile}``.

    Returns
    -------
    Profile

    Raises
    ------
    ValidationError
        If no profile lists the network.
    """
    serving = [p for p in profiles.values() if network in tuple(p.networks)]
    if not serving:
        raise ValidationError(
            f"no profile is served by the network {network!r}; choose a profile explicitly"
        )
    return min(serving, key=lambda p: (len(tuple(p.networks)), p.key))


def canonical_network(name: str) -> str:
    """Canonical network name (through :func:`analysis.sites.networks.canonical_network`)."""
    return _canon(str(name))


def spro_networks() -> tuple[str, ...]:
    """Return the canonical names of the SPRO networks (France Services is not one)."""
    return tuple(SPRO_NETWORKS)


#: Prefix that makes a commune value an INSEE code, never a postcode (``insee:42310``).
INSEE_PREFIX = "insee:"


def commune_position(
    query: str,
    communes: pd.DataFrame,
    *,
    names: Sequence[object] = (),
    addresses: Sequence[object] = (),
) -> tuple[int, float, float]:
    """Find a commune by INSEE code or name and return its row and origin point.

    Parameters
    ----------
    query
        INSEE code (``"43157"``; ``"1053"`` is ``01053``) or name (case and accents must
        match the official name; ``"Le Puy-en-Velay"``); a name shared by several communes
        must be given as a code. A code that is also another commune's postcode (42310:
        Thélis-la-Combe's code, La Pacaudière's postcode) is resolved with the row's other
        fields, and refused with both readings when they do not decide; ``insee:42310`` is
        the code.
    communes
        The communes.
    names, addresses
        The other fields of the row it comes from: names (site, town), and address or
        postcode fields.

    Returns
    -------
    row : int
        Row position in ``communes``.
    x_l93, y_l93 : float
        The commune's origin point (town hall or interior point).

    Raises
    ------
    ValidationError
        If no commune (or several) matches, or a code/postcode is ambiguous; the message
        suggests close names or gives both readings.
    """
    q = str(query).strip()
    explicit = q.lower().startswith(INSEE_PREFIX)
    if explicit:
        q = q[len(INSEE_PREFIX) :].strip()
    q = insee_code(q)
    codes = communes["insee"].astype(str).to_numpy()
    hit = np.flatnonzero(codes == q)
    if len(hit) == 1 and not explicit:
        hit = np.array([code_or_postcode(q, int(hit[0]), communes, names, addresses)])
    if len(hit) == 0:
        official = communes["nom"].astype(str).to_numpy()
        hit = np.flatnonzero(np.char.lower(official.astype(str)) == q.lower())
        if len(hit) > 1:
            options = ", ".join(f"{official[i]} ({codes[i]})" for i in hit[:10])
            raise ValidationError(
                f"several communes are named {q!r}: {options}; give the INSEE code instead"
            )
    if len(hit) == 0:
        import difflib

        names = communes["nom"].astype(str).tolist()
        close = difflib.get_close_matches(q, names, n=5, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValidationError(f"no commune of the region has the INSEE code or name {q!r}{hint}")
    i = int(hit[0])
    row = communes.iloc[i]
    return i, float(row["x_l93"]), float(row["y_l93"])


def in_region(
    lon: np.ndarray, lat: np.ndarray, communes: pd.DataFrame, *, tolerance_m: float = 1_000.0
) -> np.ndarray:
    """Whether points lie inside the region (within ``tolerance_m`` of a commune).

    Parameters
    ----------
    lon, lat
        Points in degrees.
    communes
        Commune polygons (a GeoDataFrame in any CRS).
    tolerance_m
        Points this close to the region's border count as inside.

    Returns
    -------
    numpy.ndarray of bool
    """
    import geopandas as gpd

    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(len(lon), dtype=bool)
    if not ok.any():
        return out
    x, y = to_l93(lon[ok], lat[ok])
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=settings.projected_crs)
    polys = polygons_l93(communes)
    left, _ = polys.sindex.query(pts.values, predicate="dwithin", distance=tolerance_m)
    inside = np.zeros(len(pts), dtype=bool)
    inside[np.unique(left)] = True
    out[np.flatnonzero(ok)] = inside
    return out
