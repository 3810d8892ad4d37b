"""The directory of SPRO access points: one normalised, de-duplicated table.

:func:`load_bundled_directory` builds it from the real open-data files of the local
mirror (``<shared>/access_points``, never copied into the repository):

1. read and check every SPRO file (:mod:`.records`): canonical network, commune,
   coordinates, postcode and vintage checks, with ``flags``;
2. merge the records of one place (:mod:`.dedupe`), keeping their ids in ``merged_from``;
3. complete the networks that fall short of their known size with ``modelled`` sites
   (:mod:`.modelled`; ``complete_modelled=False`` gives real rows only);
4. place the sites without coordinates inside their commune (the commune's origin point,
   or the Lyon arrondissement's; several sites on one point are spread on a small
   deterministic spiral inside the polygon) with ``position="commune"``.

The result is cached in ``data/processed`` (atomic write + checksum) under a hash of the
input files and of this package's code. :func:`load_france_services` gives the France
Services sites (not SPRO: candidate hosts). A user's own export is read by
:func:`~.user_import.load_user_directory` and replaces the bundled sites of its networks
through :func:`~.merge.merge_user_directory` (both re-exported here).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import settings
from ..cache import cache_key, load_or_build
from ..communes import communes_path, load_communes
from ..errors import DataMissingError
from ..manifest import file_digest, verify_input
from .dedupe import merge_duplicates
from .merge import merge_user_directory
from .modelled import complete_modelled
from .normalise import CommuneIndex
from .placement import SITE_COLUMNS, finalise, place_sites
from .records import (
    ACCESS_POINTS_DIR,
    FRANCE_SERVICES_FILE,
    SOURCE_FILES,
    read_source,
    region_postcode_pairs,
    resolve_records,
)
from .user_import import load_user_directory, read_user_directory

logger = logging.getLogger(__name__)


#: Bump to invalidate cached directories when the output layout changes.
CACHE_VERSION = "1"

__all__ = [
    "SITE_COLUMNS",
    "BundledDirectory",
    "build_bundled_directory",
    "load_bundled_directory",
    "load_france_services",
    "load_user_directory",
    "merge_user_directory",
    "read_user_directory",
]


@dataclass
class BundledDirectory:
    """A full build of the bundled directory, with what was left out.

    Attributes
    ----------
    sites
        The directory (real + modelled sites), see :data:`SITE_COLUMNS`.
    dropped
        Rows of the files left out: ``file, row, source_id, name, reason``.
    records
        Every usable record before merging (one row per file row), for auditing.
    """

    sites: gpd.GeoDataFrame
    dropped: pd.DataFrame
    records: pd.DataFrame


def _access_dir(shared_dir: str | os.PathLike[str] | None) -> Path:
    base = Path(settings.shared_data_dir) if shared_dir is None else Path(shared_dir)
    folder = base / ACCESS_POINTS_DIR
    if not folder.is_dir():
        raise DataMissingError(
            f"access-point folder not found: {folder}; the bundled directory is built from "
            "the local mirror ../shared/data/access_points (set analysis.settings."
            "shared_data_dir or pass shared_dir=), or load your own directory export with "
            "load_user_directory()"
        )
    return folder


def _index(folder: Path) -> CommuneIndex:
    return CommuneIndex(load_communes(), extra_postcodes=region_postcode_pairs(folder))


def build_bundled_directory(
    *, shared_dir: str | os.PathLike[str] | None = None, complete_modelled_sites: bool = True
) -> BundledDirectory:
    """Build the bundled directory from the raw files, without cache.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).
    complete_modelled_sites
        Add the ``modelled`` sites.

    Returns
    -------
    BundledDirectory

    Raises
    ------
    DataMissingError
        If the access-point folder or a file is missing.
    """
    folder = _access_dir(shared_dir)
    index = _index(folder)
    recs, drops = [], []
    for sf in SOURCE_FILES:
        r, d = resolve_records(
            read_source(folder / sf.file, mirror=folder.parent),
            index,
            file=sf.file,
            short=sf.short,
            priority=sf.priority,
            file_flags=sf.flags,
        )
        recs.append(r)
        drops.append(d)
    records = pd.concat(recs, ignore_index=True)
    records, superseded = supersede_records(records, folder)
    dropped = pd.concat([*drops, superseded], ignore_index=True)
    real = merge_duplicates(records, index)
    parts = [real]
    if complete_modelled_sites:
        mod = complete_modelled(real, index)
        if len(mod):
            parts.append(mod)
    sites = finalise(place_sites(pd.concat(parts, ignore_index=True), index))
    logger.info(
        "bundled directory: %d real sites from %d records (%d rows dropped), %d modelled",
        int((sites["provenance"] != "modelled").sum()), len(records), len(dropped),
        int((sites["provenance"] == "modelled").sum()),
    )  # fmt: skip
    return BundledDirectory(sites=sites, dropped=dropped, records=records)


#: Networks for which the DILA annuaire of 2026 is the primary source.
DILA26_NETWORKS = ("CCI", "CMA")

#: The 2022 France Travail referential (names only) and its column of 2019 matches.
FT22_FILE, FT22_MATCH = "france_travail_agences_2022_names.csv", "matched_2019"


def supersede_records(records: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the precedence rules between files of different vintages (docs/data.md §2.3).

    * ``SUP-CCI``: a CCI or CMA record of the 2019 annuaire is dropped when the 2026 DILA
      annuaire holds a record of the same network in the same commune (2026 is the primary
      source; the 2026 row's declared commune code counts too; 2019 rows are kept only
      where 2026 has none, e.g. CCI Savoie, Villefranche,
      Riom).
    * ``SUP-FT``: a 2022 France Travail row with a ``matched_2019`` row is that 2019 agency
      (its coordinates were copied from it): dropped, the 2019 row stands. An ``agence`` with no
      ``matched_2019`` row, in a commune that already holds a 2019 France Travail agency, is
      taken as a renaming or move of that agency and dropped (the 2019 row keeps its
      coordinates); in a commune without a 2019 agency it is kept, placed at commune level.
      *Relais* points are always kept.

    Returns
    -------
    (records kept, dropped rows with ``file, row, source_id, name, reason``)
    """
    drop = np.zeros(len(records), dtype=bool)
    reasons = np.array([""] * len(records), dtype=object)
    new = records["file"] == "annuaire_dila_2026_cci_cma.csv"
    have = set(zip(records.loc[new, "network"], records.loc[new, "insee"], strict=True))
    # the declared code too (``dila:<network>:<insee>:<slug>``): a 2026 row placed in a
    # neighbouring commune (Annonay delegation at Davézieux) still supersedes its 2019 row
    declared = records.loc[new, "source_id"].str.split(":").str[2]
    have |= set(zip(records.loc[new, "network"], declared, strict=True))
    old = (records["file"] == "annuaire_service_public_2019.csv") & records["network"].isin(
        DILA26_NETWORKS
    )
    for ix in records.index[old]:
        if (records.at[ix, "network"], records.at[ix, "insee"]) in have:
            drop[ix] = True
            reasons[ix] = "SUP-CCI: superseded by the 2026 DILA annuaire (same network, commune)"
    ft22 = records["file"] == FT22_FILE
    if ft22.any():
        raw = read_source_raw(folder / FT22_FILE)
        has_match = raw[FT22_MATCH].fillna("").str.strip() != ""
        matched = set(raw.loc[has_match, "source_id"])
        unmatched = set(raw.loc[(raw["subtype"] == "agence") & ~has_match, "source_id"])
        ft19 = set(records.loc[records["file"] == "france_travail_2019.csv", "insee"])
        for ix in records.index[ft22]:
            if records.at[ix, "source_id"] in matched:
                drop[ix] = True
                reasons[ix] = "SUP-FT: the same agency as its matched_2019 row (kept from 2019)"
            elif records.at[ix, "source_id"] in unmatched and records.at[ix, "insee"] in ft19:
                drop[ix] = True
                reasons[ix] = (
                    "SUP-FT: unmatched 2022 agency in a commune with a 2019 agency "
                    "(renamed or moved)"
                )
    gone = records.loc[drop]
    dropped = pd.DataFrame(
        {
            "file": gone["file"].to_numpy(),
            "row": gone["row"].to_numpy(),
            "source_id": gone["source_id"].to_numpy(),
            "name": gone["name"].to_numpy(),
            "reason": reasons[drop],
        }
    )
    return records.loc[~drop].reset_index(drop=True), dropped


def read_source_raw(path: Path) -> pd.DataFrame:
    """Read a CSV of the mirror as text, every column kept."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _inputs_key(folder: Path, files: list[str]) -> str:
    parts: list[bytes | str] = [CACHE_VERSION]
    for name in files:
        # verified against the manifest; digests cached by size and mtime (a stat per run)
        path = folder / name
        parts += [name, verify_input(path, mirror=folder.parent) or file_digest(path)]
    parts.append(file_digest(communes_path()))
    parts += [py.read_bytes() for py in sorted(Path(__file__).parent.glob("*.py"))]
    parts.append(Path(__file__).parent.parent.joinpath("communes.py").read_bytes())
    return cache_key(*parts, size=8)


def _cached(kind: str, key: str, build: Callable[[], gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Read ``<processed>/<kind>_<key>.parquet`` if valid, else build and write it."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # pragma: no cover - no cache without pyarrow
        return build()
    path = Path(settings.processed_data_dir) / f"{kind}_{key}.parquet"
    gdf = load_or_build(
        path,
        build=build,
        read=gpd.read_parquet,
        write=lambda tmp, g: g.to_parquet(tmp, index=False),
        what=kind.replace("_", " "),
        log=logger,
        unreadable=(Exception,),  # a corrupt parquet raises pyarrow's own errors
        prune=f"{kind}_*.parquet",
    )
    return gdf


def load_bundled_directory(
    *, shared_dir: str | os.PathLike[str] | None = None, complete_modelled: bool = True
) -> gpd.GeoDataFrame:
    """Return the bundled SPRO directory (real open data, completed with modelled sites).

    Parameters
    ----------
    shared_dir
        The local mirror holding ``access_points/`` (default
        :data:`analysis.settings.shared_data_dir`).
    complete_modelled
        Include the ``modelled`` sites (rules ML-1, CAP-1, AA-2); ``False`` gives the real
        rows only.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per site, columns :data:`SITE_COLUMNS`: ``site_id, name, network
        (canonical), circle, kind (site/antenne/permanence/mobile), insee, commune_name,
        dep, address, postcode, lon, lat, x_l93, y_l93, position (exact/commune),
        provenance (open-data:<file>/modelled), vintage, source, flags`` (``;``-joined
        codes of :data:`analysis.sites.quality.FLAGS`), then ``source_id, subtype,
        arrondissement, merged_from, n_records, vintage_year, geometry``.

    Raises
    ------
    DataMissingError
        If the mirror's access-point files (or the commune layer) are missing.
    """
    folder = _access_dir(shared_dir)
    files = [sf.file for sf in SOURCE_FILES]
    for name in files:
        if not (folder / name).exists():
            raise DataMissingError(f"access-point file not found: {folder / name}")
    key = _inputs_key(folder, files)
    sites = _cached(
        "sites_bundled",
        key,
        lambda: build_bundled_directory(shared_dir=folder.parent).sites,
    )
    if not complete_modelled:
        sites = sites[sites["provenance"] != "modelled"].reset_index(drop=True)
    return sites


def _build_france_services(folder: Path) -> gpd.GeoDataFrame:
    index = _index(folder)
    recs, drops = resolve_records(
        read_source(folder / FRANCE_SERVICES_FILE, mirror=folder.parent),
        index,
        file=FRANCE_SERVICES_FILE,
        short="fs24",
        allow_non_spro=True,
    )
    if len(drops):
        logger.info("France Services: %d rows left out", len(drops))
    recs["merged_from"] = recs["site_id"]
    recs["n_records"] = 1
    return finalise(place_sites(recs, index))


def load_france_services(*, shared_dir: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """Return the France Services sites: candidate hosts for permanences, not SPRO sites.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    geopandas.GeoDataFrame
        Same columns as the directory (:data:`SITE_COLUMNS`), ``network="France
        Services"``, ``circle=0``; ``kind`` is ``mobile`` for the buses.

    Raises
    ------
    DataMissingError
        If the file is missing.
    """
    folder = _access_dir(shared_dir)
    if not (folder / FRANCE_SERVICES_FILE).exists():
        raise DataMissingError(f"France Services file not found: {folder / FRANCE_SERVICES_FILE}")
    key = _inputs_key(folder, [FRANCE_SERVICES_FILE])
    return _cached("france_services", key, lambda: _build_france_services(folder))
