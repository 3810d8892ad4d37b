"""Collèges of the region: candidate stops of the caravane de l'alternance and hosts.

:func:`load_colleges` reads the Éducation nationale geolocation file (December 2024, 894
collèges; read from the local mirror ``schools/``) and joins each collège's size from the
2021 brevet file (pupils enrolled, ``nombre_eleves_total``; 819 collèges match by UAI).
:func:`check_uai` validates UAI codes (seven digits and a check letter: the remainder of
the number divided by 23, in the alphabet without I, O and Q) for user lists of collèges.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings
from .crs import to_l93
from .errors import DataMissingError, ValidationError
from .manifest import verify_input

logger = logging.getLogger(__name__)

#: Folder of the school files in the local mirror.
SCHOOLS_SUBDIR = "schools"
GEOLOC_FILE = "colleges_aura_geoloc_2024.csv"
SIZES_FILE = "colleges_aura_effectifs_dnb2021.csv"

#: Letters of the UAI check character (no I, O, Q).
_UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI_RE = re.compile(r"^\d{7}[A-Z]$")

#: Columns of :func:`load_colleges`.
COLLEGE_COLUMNS = (
    "uai", "name", "sector", "insee", "commune_name", "dep", "address", "postcode",
    "lon", "lat", "x_l93", "y_l93", "pupils", "pupils_source", "has_position",
)  # fmt: skip


def uai_check_letter(digits: str) -> str:
    """Return the check letter of the seven digits of a UAI code.

    Parameters
    ----------
    digits
        The seven digits (e.g. ``"0071245"``).

    Returns
    -------
    str
        One capital letter.
    """
    return _UAI_LETTERS[int(digits) % 23]


def check_uai(values: Iterable[object], *, source: str | Path | None = None) -> list[str]:
    """Normalise UAI codes and refuse malformed ones, naming the rows.

    Parameters
    ----------
    values
        UAI codes as typed (case and surrounding blanks are forgiven).
    source
        The file they come from, for the error message.

    Returns
    -------
    list of str
        The codes in capitals.

    Raises
    ------
    ValidationError
        If a code is not seven digits and a letter, or its check letter is wrong.
    """
    out: list[str] = []
    bad: list[tuple[int, str, str]] = []
    for row, value in enumerate(values, start=1):
        code = str(value).strip().upper() if value is not None else ""
        if len(code) == 7 and code.isdigit():
            bad.append((row, code, f"the check letter is missing (should be {code}"
                        f"{uai_check_letter(code)})"))  # fmt: skip
        elif not _UAI_RE.match(code):
            bad.append((row, code, "a UAI code is seven digits and a letter, e.g. 0071245R"))
        elif uai_check_letter(code[:7]) != code[7]:
            bad.append(
                (row, code, f"wrong check letter (the digits give {uai_check_letter(code[:7])})")
            )
        out.append(code)
    if bad:
        shown = "; ".join(f"row {r}: {c!r}: {why}" for r, c, why in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ValidationError(
            f"{len(bad)} malformed UAI code(s): {shown}{more}; correct them from the "
            "Éducation nationale directory",
            source=source,
            rows=[r for r, _, _ in bad],
        )
    return out


def _school_file(name: str, shared_dir: Path | None) -> Path:
    path = (shared_dir or settings.shared_data_dir) / SCHOOLS_SUBDIR / name
    if not path.is_file():
        raise DataMissingError(
            f"the collèges file {path} is missing; it is the Éducation nationale open data "
            "'Adresse et géolocalisation des établissements' (data.education.gouv.fr), "
            "expected in the local mirror"
        )
    verify_input(path, mirror=shared_dir)
    return path


def load_colleges(
    *, shared_dir: Path | None = None, with_position: bool = True
) -> gpd.GeoDataFrame:
    """Return the region's collèges with their position and size.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).
    with_position
        Keep only the collèges that have coordinates (884 of 894).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`COLLEGE_COLUMNS`, points in EPSG:4326, sorted by UAI. ``pupils`` is
        the 2021 enrolment (``pupils_source = "brevet 2021"``) or, where the collège is not
        in that file, the median of its department (``"department median (estimated)"``).
    """
    geo_path = _school_file(GEOLOC_FILE, shared_dir)
    geo = pd.read_csv(geo_path, dtype=str, keep_default_na=False)
    uai = check_uai(geo["numero_uai"], source=geo_path)
    insee = geo["insee"].where(geo["insee"] != "", geo["code_commune"])
    lat = pd.to_numeric(geo["latitude"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(geo["longitude"], errors="coerce").to_numpy(float)
    df = pd.DataFrame(
        {
            "uai": uai,
            "name": geo["appellation_officielle"].str.strip(),
            "sector": geo["secteur_public_prive_libe"].str.strip(),
            "insee": insee.str.zfill(5),
            "commune_name": geo["libelle_commune"],
            "dep": insee.str.zfill(5).str[:2],
            "address": geo["adresse_uai"].str.strip(),
            "postcode": geo["code_postal_uai"].str.zfill(5),
            "lon": lon,
            "lat": lat,
        }
    )
    df["has_position"] = np.isfinite(lon) & np.isfinite(lat)
    sizes_path = _school_file(SIZES_FILE, shared_dir)
    sizes = pd.read_csv(sizes_path, dtype=str, keep_default_na=False)
    pupils = pd.to_numeric(sizes["nombre_eleves_total"], errors="coerce")
    size_of = dict(zip(sizes["numero_college"].str.upper(), pupils, strict=True))
    df["pupils"] = df["uai"].map(size_of).astype(float)
    known = df["pupils"].notna() & (df["pupils"] > 0)
    df["pupils_source"] = np.where(known, "brevet 2021", "department median (estimated)")
    dep_median = df[known].groupby("dep")["pupils"].median()
    df.loc[~known, "pupils"] = (
        df.loc[~known, "dep"].map(dep_median).fillna(float(df.loc[known, "pupils"].median()))
    )
    missing = int((~df["has_position"]).sum())
    if missing:
        logger.info("%d collèges have no coordinates in %s", missing, geo_path.name)
    if with_position:
        df = df[df["has_position"]]
    df = df.sort_values("uai", kind="stable").reset_index(drop=True)
    x, y = to_l93(df["lon"].to_numpy(float), df["lat"].to_numpy(float))
    df["x_l93"] = x
    df["y_l93"] = y
    return gpd.GeoDataFrame(
        df[list(COLLEGE_COLUMNS)],
        geometry=gpd.points_from_xy(df["lon"], df["lat"]),
        crs=settings.geographic_crs,
    )
