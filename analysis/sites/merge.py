"""Merging a user's directory into the bundled one: replace its networks, or add to them.

Two intents, both explicit (:data:`MERGE_MODES`):

- ``replace`` — every bundled site (real or modelled) of a network the user's file covers
  is removed and the user's sites take their place (the user's file is the network's
  complete, corrected list);
- ``add`` — the bundled sites stay and the user's sites are added (new permanences, a
  network's sites the open data lacks); a user site within :data:`SAME_PLACE_M` of a bundled
  site of its network is the same place: the user's row replaces that one site.

``auto`` (the default) replaces, but refuses a replacement that would drop more than
:data:`analysis.settings.replace_max_drop_share` of a network's bundled sites: two
corrected sites are not the 95 France Travail agencies. The message says how many would be
dropped and names both intents. Every merge logs one warning line per network (what was
replaced or added), which the command line prints on every run.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import settings
from ..errors import UnknownNameError, ValidationError

logger = logging.getLogger(__name__)

#: How a user's directory joins the bundled one.
MERGE_MODES = ("auto", "replace", "add")
#: With ``add``: a user site this close to a bundled site of its network is that site (m).
SAME_PLACE_M = 100.0


def _check_tables(bundled: gpd.GeoDataFrame, user: gpd.GeoDataFrame) -> None:
    for name, table in (("bundled", bundled), ("user", user)):
        missing = [c for c in ("site_id", "network", "x_l93", "y_l93") if c not in table]
        if missing:
            raise ValidationError(f"the {name} directory lacks column(s) {', '.join(missing)}")
    if len(user) == 0:
        raise ValidationError("the user directory has no site; nothing to merge")


def _refuse_large_drops(bundled: gpd.GeoDataFrame, user: gpd.GeoDataFrame, share: float) -> None:
    too_many = []
    for net in sorted(set(user["network"])):
        n_b = int((bundled["network"] == net).sum())
        n_u = int((user["network"] == net).sum())
        if n_b and (n_b - n_u) / n_b > share:
            too_many.append(f"{net}: your file has {n_u} site(s) where the bundled directory "
                            f"has {n_b} (replacing drops {n_b - n_u}, "
                            f"{100 * (n_b - n_u) / n_b:.0f} %)")  # fmt: skip
    if too_many:
        raise ValidationError(
            "the user directory would replace whole networks with far fewer sites — "
            + "; ".join(too_many)
            + f" (more than {100 * share:.0f} % of a network). Pass --replace if your file is "
            "the network's complete list, or --add to add your sites to the bundled ones"
        )


def _same_places(bundled: gpd.GeoDataFrame, user: gpd.GeoDataFrame) -> np.ndarray:
    """Bundled rows (positions) that a user site of the same network stands on."""
    hit: list[int] = []
    bx, by = bundled["x_l93"].to_numpy(float), bundled["y_l93"].to_numpy(float)
    bnet = bundled["network"].to_numpy(object)
    for net, ux, uy in zip(
        user["network"], user["x_l93"].to_numpy(float), user["y_l93"].to_numpy(float), strict=True
    ):
        rows = np.flatnonzero(bnet == net)
        if not len(rows):
            continue
        d = np.hypot(bx[rows] - ux, by[rows] - uy)
        j = int(np.argmin(d))
        if d[j] <= SAME_PLACE_M:
            hit.append(int(rows[j]))
    return np.unique(np.asarray(hit, dtype=np.int64))


def merge_user_directory(
    bundled: gpd.GeoDataFrame,
    user: gpd.GeoDataFrame,
    *,
    how: str = "auto",
    max_drop_share: float | None = None,
) -> gpd.GeoDataFrame:
    """Join a user's directory to the bundled one, replacing its networks or adding to them.

    Parameters
    ----------
    bundled
        The bundled directory (:func:`~analysis.sites.directory.load_bundled_directory`).
    user
        A user's directory (:func:`~analysis.sites.user_import.load_user_directory`).
    how
        One of :data:`MERGE_MODES` (see the module's docstring).
    max_drop_share
        With ``auto``: the largest share of a network's bundled sites a replacement may drop
        (default :data:`analysis.settings.replace_max_drop_share`).

    Returns
    -------
    geopandas.GeoDataFrame
        The merged directory (RangeIndex); ``.attrs["merge_report"]`` says, per network,
        what was replaced or added.

    Raises
    ------
    UnknownNameError
        For an unknown ``how``.
    ValidationError
        If ``user`` is empty or lacks the directory columns, site ids collide, or (``auto``)
        the replacement would drop more than ``max_drop_share`` of a network.
    """
    if how not in MERGE_MODES:
        raise UnknownNameError("merge mode", how, MERGE_MODES)
    _check_tables(bundled, user)
    share = settings.replace_max_drop_share if max_drop_share is None else float(max_drop_share)
    nets = sorted(set(user["network"]))
    if how == "auto":
        _refuse_large_drops(bundled, user, share)
    if how == "add":
        drop = np.zeros(len(bundled), dtype=bool)
        drop[_same_places(bundled, user)] = True
    else:
        drop = bundled["network"].isin(nets).to_numpy()
    kept = bundled.loc[~drop]
    n_mod = int((bundled.loc[drop, "provenance"] == "modelled").sum())
    both = pd.concat([kept, user], ignore_index=True)
    dup = both["site_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(set(both.loc[dup, "site_id"]))[:5]
        raise ValidationError(
            f"site ids used twice after merging: {', '.join(ids)}; give your sites other ids"
        )
    out = gpd.GeoDataFrame(both, geometry="geometry", crs=bundled.crs or user.crs)
    report = []
    for net in nets:
        n_b = int((bundled["network"] == net).sum())
        n_u = int((user["network"] == net).sum())
        if how == "add":
            n_same = int((bundled.loc[drop, "network"] == net).sum())
            same = f", {n_same} of them standing on a bundled site they replace" if n_same else ""
            report.append(f"{net}: {n_u} site(s) from your file added to the {n_b} bundled{same}")
        else:
            report.append(f"{net}: {n_b} bundled site(s) replaced by {n_u} from your file")
    if n_mod:
        report.append(f"{n_mod} modelled site(s) among the replaced ones")
    out.attrs = {"merge_report": report}
    for line in report:
        logger.warning("user directory: %s", line)
    return out
