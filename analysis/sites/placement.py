"""Site positions and the site table's layout, shared by the bundled and the user directories.

- :func:`place_sites`: commune-level sites to their commune's origin point, spread on a
  golden-angle spiral when several share it;
- :func:`finalise`: internal rows to a site table with :data:`SITE_COLUMNS`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import settings
from ..crs import to_lonlat
from .normalise import CommuneIndex
from .quality import join_flags

#: Columns of every site table, in order (``geometry`` last).
SITE_COLUMNS: list[str] = [
    "site_id", "name", "network", "circle", "kind", "insee", "commune_name", "dep", "address",
    "postcode", "lon", "lat", "x_l93", "y_l93", "position", "provenance", "vintage", "source",
    "flags", "source_id", "subtype", "arrondissement", "merged_from", "n_records",
    "vintage_year", "geometry",
]  # fmt: skip


def place_sites(frame: pd.DataFrame, index: CommuneIndex) -> pd.DataFrame:
    """Fill ``x_l93, y_l93, lon, lat`` of commune-level sites, spread when they share a point.

    Sites with ``position="commune"`` go to their commune's origin point (or their Lyon
    arrondissement's); the k-th site on the same point (ordered real first, then by
    ``site_id``) moves to the k-th point of a golden-angle spiral of step 200 m, kept
    inside the polygon (:meth:`~.normalise.CommuneIndex.jitter`).

    Parameters
    ----------
    frame
        Sites with ``insee``, ``arrondissement``, ``position``, ``x_l93``, ``y_l93``.
    index
        Commune look-ups.

    Returns
    -------
    pandas.DataFrame
        A copy with positions and ``lon``/``lat`` filled.
    """
    out = frame.copy()
    todo = out.index[(out["position"] == "commune").to_numpy()]
    key = (
        out.loc[todo, "insee"].astype(str)
        + "|"
        + out.loc[todo, "arrondissement"].fillna("").astype(str)
    )
    modelled = (out.loc[todo, "provenance"] == "modelled").to_numpy()
    order = pd.DataFrame(
        {"key": key.to_numpy(), "modelled": modelled, "site_id": out.loc[todo, "site_id"]},
        index=todo,
    ).sort_values(["key", "modelled", "site_id"], kind="stable")
    rank = order.groupby("key").cumcount()
    for ix, k in rank.items():
        insee, arr = out.at[ix, "insee"], out.at[ix, "arrondissement"] or ""
        ax, ay, poly = index.anchor(str(insee), str(arr))
        x, y = index.jitter(ax, ay, poly, int(k))
        out.at[ix, "x_l93"], out.at[ix, "y_l93"] = x, y
    lon, lat = to_lonlat(out["x_l93"].to_numpy(float), out["y_l93"].to_numpy(float))
    out["lon"] = np.round(lon, 6)
    out["lat"] = np.round(lat, 6)
    return out


def finalise(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Turn internal rows into a site table with :data:`SITE_COLUMNS` (EPSG:4326).

    Parameters
    ----------
    frame
        Rows with positions filled (see :func:`place_sites`).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    df = frame.copy()
    df["flags"] = df["flag_list"].map(join_flags)
    for col in ("merged_from", "arrondissement", "subtype", "source_id"):
        if col not in df:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str)
    if "n_records" not in df:
        df["n_records"] = 1
    df["n_records"] = df["n_records"].fillna(1).astype("int64")
    df["circle"] = df["circle"].astype("int64")
    df["vintage_year"] = df["vintage_year"].fillna(-1).astype("int64")
    for col in ("name", "network", "kind", "insee", "commune_name", "dep", "address",
                "postcode", "position", "provenance", "vintage", "source", "site_id"):  # fmt: skip
        df[col] = df[col].fillna("").astype(str)
    geom = gpd.points_from_xy(df["lon"], df["lat"], crs=settings.geographic_crs)
    gdf = gpd.GeoDataFrame(df, geometry=geom, crs=settings.geographic_crs)
    gdf = gdf[SITE_COLUMNS].sort_values("site_id", kind="stable").reset_index(drop=True)
    return gdf
