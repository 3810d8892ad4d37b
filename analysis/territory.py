"""Official commune classes of the region: density level, FRR zoning, attraction area.

One home for the INSEE and ANCT classifications read from the mirror's ``territory/``:

- :func:`load_commune_classes` — one row per COG 2026 commune: INSEE's *grille communale
  de densité* in 7 levels (``density7``, 1 grands centres urbains … 7 rural à habitat très
  dispersé) with its 4-level grouping and urban/rural split, the France Ruralités
  Revitalisation code (``frr_code``; ``frr`` is true for FRR and FRR+), and the
  attraction-area category of AAV2020 (``aav_category``: 11 centre, 12 other commune of the
  main pole, 13 secondary pole, 20 crown, 30 outside).
- :func:`load_code_passage` — old commune codes (merged communes, communes nouvelles,
  Lyon arrondissements) to their COG 2026 code.

:data:`RURAL_DENSITY_LEVELS` (5-7) is the rule "rural" follows wherever the official class
is used.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .errors import ValidationError
from .manifest import mirror_file, read_mirror_csv

logger = logging.getLogger(__name__)

TERRITORY_SUBDIR = "territory"
DENSITY_FILE = "grille_densite_7niv_insee_communes_france_2025_aura.csv"
FRR_FILE = "frr_france_ruralites_revitalisation_aura_com2025.csv"
ZONAGES_FILE = "zonages_insee_cog2025_aav2020_uu2020_ze2020_bv2022_aura.csv"
PASSAGE_FILE = "table_passage_com_historique_2003_2025_to_cog2026_aura.csv"

#: INSEE's 7 density levels (grille communale de densité, 2025).
DENSITY7_LABELS: dict[int, str] = {
    1: "grands centres urbains",
    2: "centres urbains intermédiaires",
    3: "ceintures urbaines",
    4: "petites villes",
    5: "bourgs ruraux",
    6: "rural à habitat dispersé",
    7: "rural à habitat très dispersé",
}
#: Levels INSEE counts as rural (5, 6, 7).
RURAL_DENSITY_LEVELS: tuple[int, ...] = (5, 6, 7)
#: France Ruralités Revitalisation codes as published by the Observatoire des territoires.
FRR_LABELS: dict[int, str] = {
    0: "outside FRR",
    1: "former ZRR in transition",
    2: "commune nouvelle, partly classified",
    4: "FRR",
    5: "FRR+",
}
#: Codes that are classified FRR (``frr`` true).
FRR_CLASSIFIED: tuple[int, ...] = (4, 5)
#: Attraction-area categories (AAV2020).
AAV_CATEGORY_LABELS: dict[int, str] = {
    11: "centre of the attraction area",
    12: "other commune of the main pole",
    13: "secondary pole",
    20: "crown",
    30: "outside any attraction area",
}

#: Columns of :func:`load_commune_classes` (index ``insee``).
CLASS_COLUMNS = (
    "density7", "density7_label", "density4", "degurba3", "urban_rural", "frr_code",
    "frr_label", "frr",
    "aav_code", "aav_name", "aav_category", "aav_category_label",
)  # fmt: skip


def _territory_file(name: str, shared_dir: Path | None) -> Path:
    return mirror_file(
        TERRITORY_SUBDIR, name, shared_dir=shared_dir, kind="territory", origin="INSEE/ANCT",
        docs_section="Commune classes",
    )  # fmt: skip


def _codes(df: pd.DataFrame, column: str, valid: dict[int, str], path: Path) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = ~values.isin(list(valid))
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ValidationError(
            f"{column} {df[column].iloc[i]!r} is not one of {sorted(valid)}; restore the "
            "file from the mirror",
            source=path,
            rows=[i + 2],
        )
    return values.astype(int)


@lru_cache(maxsize=4)
def _classes_cached(shared_dir: Path | None) -> pd.DataFrame:
    dpath = _territory_file(DENSITY_FILE, shared_dir)
    dens = read_mirror_csv(
        dpath, ["insee", "grille_densite_7", "grille_densite_4", "degurba_3", "urbain_rural"]
    )
    fpath = _territory_file(FRR_FILE, shared_dir)
    frr = read_mirror_csv(fpath, ["insee", "codefrr"])
    zpath = _territory_file(ZONAGES_FILE, shared_dir)
    zon = read_mirror_csv(zpath, ["insee", "AAV2020", "LIB_AAV2020", "CATEAAV2020"])
    out = pd.DataFrame(index=pd.Index(dens["insee"].str.zfill(5), name="insee"))
    d7 = _codes(dens, "grille_densite_7", DENSITY7_LABELS, dpath).to_numpy()
    out["density7"] = d7
    out["density7_label"] = [DENSITY7_LABELS[int(v)] for v in d7]
    out["density4"] = pd.to_numeric(dens["grille_densite_4"], errors="coerce").to_numpy()
    out["degurba3"] = _codes(dens, "degurba_3", {1: "", 2: "", 3: ""}, dpath).to_numpy()
    out["urban_rural"] = dens["urbain_rural"].to_numpy()
    fcode = pd.Series(
        _codes(frr, "codefrr", FRR_LABELS, fpath).to_numpy(), index=frr["insee"].str.zfill(5)
    )
    cat = pd.Series(
        _codes(zon, "CATEAAV2020", AAV_CATEGORY_LABELS, zpath).to_numpy(),
        index=zon["insee"].str.zfill(5),
    )
    out["frr_code"] = fcode.reindex(out.index).fillna(0).astype(int).to_numpy()
    out["frr_label"] = out["frr_code"].map(FRR_LABELS)
    out["frr"] = out["frr_code"].isin(FRR_CLASSIFIED)
    zon_i = zon.set_index(zon["insee"].str.zfill(5))
    out["aav_code"] = zon_i["AAV2020"].reindex(out.index).fillna("").to_numpy()
    out["aav_name"] = zon_i["LIB_AAV2020"].reindex(out.index).fillna("").to_numpy()
    out["aav_category"] = cat.reindex(out.index).fillna(30).astype(int).to_numpy()
    out["aav_category_label"] = out["aav_category"].map(AAV_CATEGORY_LABELS)
    for name, s in (("FRR", fcode), ("zonages", cat)):
        lacking = out.index.difference(s.index)
        if len(lacking):
            logger.warning("%d communes are not in the %s file (first %s)", len(lacking), name,
                           lacking[0])  # fmt: skip
    return out


def load_commune_classes(*, shared_dir: str | Path | None = None) -> pd.DataFrame:
    """Return the official classes of every commune of the region.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    pandas.DataFrame
        Index ``insee`` (COG 2026, 4,025 communes), columns :data:`CLASS_COLUMNS`. A copy:
        callers may modify it.

    Raises
    ------
    DataMissingError
        If a territory file is not in the mirror.
    ValidationError
        If a file's digest differs from the manifest's or a class code is not a known one.
    """
    root = None if shared_dir is None else Path(shared_dir)
    return _classes_cached(root).copy()


def is_rural(density7: int) -> bool:
    """Whether a density level is rural in INSEE's sense (levels 5-7).

    For a column, ``series.isin(RURAL_DENSITY_LEVELS)`` is the same rule.
    """
    return int(density7) in RURAL_DENSITY_LEVELS


@lru_cache(maxsize=4)
def _passage_cached(shared_dir: Path | None) -> dict[str, str]:
    path = _territory_file(PASSAGE_FILE, shared_dir)
    df = read_mirror_csv(path, ["DEPCOM_HIST", "insee_cog2026"])
    old = df["DEPCOM_HIST"].str.strip().str.zfill(5)
    new = df["insee_cog2026"].str.strip().str.zfill(5)
    return {o: n for o, n in zip(old, new, strict=True) if o != n}


def load_code_passage(*, shared_dir: str | Path | None = None) -> dict[str, str]:
    """Return the old commune codes of the region mapped to their COG 2026 code.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    dict
        ``{old code: COG 2026 code}`` for the codes that changed (merged communes, communes
        nouvelles, Lyon's arrondissements 69381-69389 → 69123); codes still in force are not
        keys.
    """
    root = None if shared_dir is None else Path(shared_dir)
    return dict(_passage_cached(root))
