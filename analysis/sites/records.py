"""Reading the real access-point files into one table of checked records.

Each CSV of ``<shared>/access_points`` (except France Services, which is not SPRO) is read
with the common columns (``source_id, name, network, subtype, address, postcode,
commune_name, commune_insee, dep, lat, lon, source, vintage``). For each row
:func:`resolve_records`:

1. maps the network to its canonical name (:func:`~analysis.sites.networks.canonical_network`);
2. finds the commune: the INSEE code (current, former, or a Lyon arrondissement); a code
   contradicted by both the commune name and the postcode, which agree on another commune,
   is corrected (``commune_corrected``); a postcode-only row takes the commune named in the
   site name, else the most populous commune of that postcode (``commune_from_postcode``);
3. checks the coordinates against the commune polygon: more than 3 km outside, they are
   set aside (``coords_far_from_commune``); inside a neighbouring commune, that commune is
   used (``commune_from_coordinates``); outside the region, the row is dropped;
4. checks the postcode against the commune (``postcode_other_dep``, ``postcode_not_commune``)
   and the vintage (``stale_vintage`` before 2021).

Rows that cannot be placed at all are returned in a separate "dropped" table with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import settings
from ..errors import DataMissingError, UnknownNameError
from ..manifest import verify_input
from .networks import NETWORKS, canonical_network
from .normalise import (
    LYON,
    CommuneIndex,
    Resolved,
    infer_kind,
    project,
    vintage_year,
)
from .quality import FAR_FROM_COMMUNE_M, STALE_BEFORE_YEAR

logger = logging.getLogger(__name__)

#: Folder of the access-point files inside the shared data folder.
ACCESS_POINTS_DIR = "access_points"


@dataclass(frozen=True)
class SourceFile:
    """One real access-point file of the mirror.

    Attributes
    ----------
    file
        File name in ``<shared>/access_points``.
    short
        Prefix of the site ids built from it.
    licence
        Licence of the data.
    priority
        Tie-breaker when merging duplicates (lower wins).
    flags
        Flags every row of the file gets.
    """

    file: str
    short: str
    licence: str
    priority: int
    flags: tuple[str, ...] = ()


#: The SPRO access-point files (France Services excluded: not SPRO).
SOURCE_FILES: tuple[SourceFile, ...] = (
    SourceFile("annuaire_dila_2026_cci_cma.csv", "dila26", "Licence Ouverte 2.0 (DILA)", 0),
    SourceFile("missions_locales_structures_2023.csv", "ml23", "MIT-licensed repository", 1,
               ("commune_inferred",)),
    SourceFile("data_inclusion_sites_2022.csv", "di22", "Licence Ouverte 2.0", 2),
    SourceFile("hinaura_2022_odbl.csv", "hin22", "ODbL", 3),
    SourceFile("missions_locales_agencies_2022.csv", "ml22", "MIT-licensed repository", 4),
    SourceFile("france_travail_2019.csv", "ft19", "Pôle emploi open data", 5),
    SourceFile("annuaire_service_public_2019.csv", "sp19", "Licence Ouverte", 6),
    SourceFile("universities_2023.csv", "uni23", "Licence Ouverte", 7, ("proxy",)),
    SourceFile("consular_chambers_training_sites_2022.csv", "cfa22", "MIT-licensed repository",
               8, ("proxy",)),
    SourceFile("campus_connectes_2021.csv", "cc21", "facts from public pages", 9,
               ("low_confidence",)),
    SourceFile("data_inclusion_2022_extra_spro_sites.csv", "di22x", "Licence Ouverte 2.0", 2),
    SourceFile("france_travail_agences_2022_names.csv", "ft22", "MIT-licensed repository", 5),
)  # fmt: skip

#: The France Services file (candidate hosts, not SPRO).
FRANCE_SERVICES_FILE = "france_services_2024.csv"

#: Coordinates this close outside the declared commune keep it (simplified polygons).
NEAR_BORDER_M = 250.0

#: France Travail subtypes that are administrative directions, not access points.
EXCLUDED_SUBTYPES = {("France Travail", "DDA"), ("France Travail", "DRA")}

_COLUMNS = ("source_id", "name", "network", "subtype", "address", "postcode", "commune_name",
            "commune_insee", "dep", "lat", "lon", "source", "vintage")  # fmt: skip


def read_source(path: Path, *, mirror: Path | None = None) -> pd.DataFrame:
    """Read one access-point CSV as text, with the common columns.

    Parameters
    ----------
    path
        The file.
    mirror
        The mirror it comes from (default :data:`analysis.settings.shared_data_dir`): a
        file the manifest lists is verified against its SHA-256 first.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataMissingError
        If the file does not exist.
    ValidationError
        If the file differs from the manifest's SHA-256 (:func:`~analysis.manifest.verify_input`).
    """
    if not path.exists():
        raise DataMissingError(
            f"access-point file not found: {path}; the bundled directory reads the local "
            "mirror ../shared/data/access_points (set analysis.settings.shared_data_dir)"
        )
    verify_input(path, mirror=mirror)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    for col in _COLUMNS:
        if col not in df.columns:
            df[col] = ""
    return df[list(_COLUMNS)].apply(lambda s: s.str.strip())


def _clean_postcode(value: object) -> str:
    v = "".join(ch for ch in str(value) if ch.isdigit())
    return v.zfill(5) if 4 <= len(v) <= 5 else ""


def resolve_records(
    raw: pd.DataFrame,
    index: CommuneIndex,
    *,
    file: str,
    short: str,
    priority: int = 9,
    file_flags: tuple[str, ...] = (),
    provenance: str | None = None,
    allow_non_spro: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise, place and check the rows of one file.

    Parameters
    ----------
    raw
        Rows with the common columns (see :func:`read_source`).
    index
        Commune look-ups.
    file
        File name (for provenance and ids).
    short
        Id prefix.
    priority
        Merge tie-breaker.
    file_flags
        Flags every row gets.
    provenance
        Default ``"open-data:<file>"``.
    allow_non_spro
        Keep rows of non-SPRO networks (France Services) instead of dropping them.

    Returns
    -------
    records : pandas.DataFrame
        One row per usable record (see the module docstring for the columns).
    dropped : pandas.DataFrame
        ``file, row, source_id, name, reason`` for rows left out.
    """
    prov = provenance or f"open-data:{file}"
    out: list[dict] = []
    dropped: list[dict] = []
    lon_all = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(float)
    lat_all = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(float)
    x_all, y_all = project(np.nan_to_num(lon_all), np.nan_to_num(lat_all))
    row: Any  # a named tuple of the normalised text columns
    for k, row in enumerate(raw.itertuples(index=False)):
        rownum = k + 1
        flags = list(file_flags)

        def drop(reason: str, row: object = row, rownum: int = rownum) -> None:
            dropped.append(
                {"file": file, "row": rownum, "source_id": row.source_id,  # type: ignore[attr-defined]
                 "name": row.name, "reason": reason}  # type: ignore[attr-defined]
            )  # fmt: skip

        try:
            network = canonical_network(row.network)
        except UnknownNameError:
            drop(f"unknown network {row.network!r}")
            continue
        if not NETWORKS[network].spro and not allow_non_spro:
            drop(f"{network} is not an SPRO network")
            continue
        if (network, row.subtype) in EXCLUDED_SUBTYPES:
            drop(f"{network} {row.subtype}: an administrative direction, not an access point")
            continue
        postcode = _clean_postcode(row.postcode)
        res: Resolved | None = index.from_code(row.commune_insee) if row.commune_insee else None
        if res is not None and res.how == "former_code":
            flags.append("commune_from_former_code")
        if res is None and row.commune_insee:
            if row.dep and row.dep not in settings.region_departments:
                drop(f"commune {row.commune_insee} is outside the region")
                continue
        # a code contradicted by both the commune name and the postcode
        if res is not None and row.commune_name:
            i = index.by_code[res.insee]
            if not index.name_matches(i, row.commune_name):
                others = [
                    j
                    for j in index.from_name(row.commune_name)
                    if j != i and (not postcode or postcode not in index.postcodes[i])
                    and (not postcode or postcode in index.postcodes[j]
                         or not index.by_postcode.get(postcode))
                ]  # fmt: skip
                if len(others) == 1:
                    code = str(index.communes["insee"].iat[others[0]])
                    arr = index.arr_by_postcode.get(postcode, "") if code == LYON else ""
                    res = Resolved(code, arr, "corrected")
                    flags.append("commune_corrected")
                else:
                    flags.append("commune_name_mismatch")
        if res is None and postcode:
            res = index.from_postcode(postcode, name=f"{row.commune_name} {row.name}")
            if res is not None:
                flags.append("commune_from_postcode")
        if res is None and row.commune_name:
            cands = index.from_name(row.commune_name, dep=row.dep or None)
            if len(cands) == 1:
                res = Resolved(str(index.communes["insee"].iat[cands[0]]), "", "name")
        has_xy = bool(np.isfinite(lon_all[k]) and np.isfinite(lat_all[k]))
        x = y = np.nan
        position = "commune"
        if has_xy:
            x, y = float(x_all[k]), float(y_all[k])
            if not index.in_region(x, y):
                drop("coordinates outside the region")
                continue
            if res is None:
                j = index.at_point(x, y)
                if j is not None:
                    res = Resolved(str(index.communes["insee"].iat[j]), "", "point")
            if res is not None:
                i = index.by_code[res.insee]
                d = index.distance_to_commune(i, x, y)
                if d > FAR_FROM_COMMUNE_M:
                    flags.append("coords_far_from_commune")
                    x = y = np.nan
                else:
                    position = "exact"
                    j = index.at_point(x, y) if d > NEAR_BORDER_M else None
                    if j is not None and j != i:
                        res = Resolved(str(index.communes["insee"].iat[j]), "", "point")
                        flags.append("commune_from_coordinates")
        if res is None:
            drop("no commune could be found (no valid code, name, postcode or coordinates)")
            continue
        i = index.by_code[res.insee]
        dep = str(index.deps[i])
        flag = index.postcode_flag(
            i, res.insee, postcode, from_postcode="commune_from_postcode" in flags
        )
        if flag:
            flags.append(flag)
        year = vintage_year(row.vintage)
        if year is not None and year < STALE_BEFORE_YEAR:
            flags.append("stale_vintage")
        if not row.address:
            flags.append("no_address")
        out.append(
            {
                "file": file,
                "priority": priority,
                "row": rownum,
                "source_id": row.source_id,
                "site_id": f"{short}:{row.source_id}",
                "name": row.name,
                "network": network,
                "circle": NETWORKS[network].circle,
                "subtype": row.subtype,
                "kind": infer_kind(row.subtype, row.name),
                "insee": res.insee,
                "arrondissement": res.arrondissement,
                "commune_name_src": row.commune_name,
                "commune_name": str(index.names[i]),
                "dep": dep,
                "address": row.address,
                "postcode": postcode,
                "x_l93": x,
                "y_l93": y,
                "position": position,
                "provenance": prov,
                "vintage": row.vintage,
                "vintage_year": year if year is not None else -1,
                "source": row.source,
                "flag_list": flags,
            }
        )
    recs = pd.DataFrame(out)
    drops = pd.DataFrame(dropped, columns=["file", "row", "source_id", "name", "reason"])
    return recs, drops


def region_postcode_pairs(folder: Path) -> dict[str, set[str]]:
    """``{postcode: {insee}}`` pairs written in the access-point files of a folder.

    Used where the commune layer has no postcode list (built from the mirror).

    Parameters
    ----------
    folder
        ``<shared>/access_points``.

    Returns
    -------
    dict
    """
    pairs: dict[str, set[str]] = {}
    wanted = ("postcode", "commune_insee")
    for f in sorted(folder.glob("*.csv")):
        verify_input(f, mirror=folder.parent)
        df = pd.read_csv(f, dtype=str, keep_default_na=False, usecols=lambda c: c in wanted)
        if any(c not in df.columns for c in wanted):
            continue
        for pc, code in zip(df["postcode"], df["commune_insee"], strict=True):
            pc = _clean_postcode(pc)
            if pc and code.strip():
                pairs.setdefault(pc, set()).add(code.strip())
    return pairs
