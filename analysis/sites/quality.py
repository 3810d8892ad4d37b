"""Data-quality flags of site records.

Every site row carries a ``flags`` column: codes from :data:`FLAGS`, joined with ``;``
(empty when nothing was found). The checks do not silently "fix" a record: where a
correction is applied (a commune re-assigned, coordinates set aside) the flag says so.
:func:`flag_counts` and :func:`rows_with_flag` summarise them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: Flag code → meaning (documented in docs/data.md).
FLAGS: dict[str, str] = {
    "coords_far_from_commune": (
        "the coordinates lie more than 3 km outside the declared commune's polygon; they "
        "were set aside and the site placed inside its commune"
    ),
    "commune_from_coordinates": (
        "the coordinates lie in a neighbouring commune (250 m to 3 km outside the declared "
        "one); the commune was taken from the coordinates"
    ),
    "commune_corrected": (
        "the INSEE code contradicts the commune name and postcode, which agree on another "
        "commune of the region; the record was re-assigned to that commune"
    ),
    "commune_name_mismatch": (
        "the commune name does not match the INSEE code (nor a former name of it) and no "
        "other commune fits both name and postcode; the code was kept"
    ),
    "commune_from_postcode": (
        "the record had only a postcode; the commune named in the site name, else the most "
        "populous commune of that postcode, was used"
    ),
    "commune_from_former_code": "the INSEE code is a former commune's, mapped to today's",
    "commune_inferred": "the source says the commune was inferred (e.g. from a structure code)",
    "postcode_other_dep": (
        "the postcode belongs to another department than the commune's and is not one of "
        "its postcodes"
    ),
    "postcode_not_commune": (
        "the postcode is not one of the commune's postcodes (often a CEDEX or PO-box code)"
    ),
    "duplicate_merged": (
        "several records of the same network at the same place were merged into this site "
        "(see merged_from)"
    ),
    "duplicate_in_source": "the same file lists this place more than once",
    "possible_duplicate": (
        "another site of the same network in the same commune has a similar name but a "
        "different address; kept apart"
    ),
    "stale_vintage": "the record is older than 2021",
    "proxy": (
        "a stand-in for the real access point (university head office for SCUIO, training "
        "centre for a consular chamber)"
    ),
    "low_confidence": "placed from press or web pages at commune level",
    "outside_region": "the site lies outside Auvergne-Rhône-Alpes",
    "no_address": "the record has no street address",
    "modelled": "not a real site: placed by a documented rule to complete the network",
    "user_position_commune": "user row without coordinates, placed inside its commune",
}

#: Records older than this year are flagged ``stale_vintage``.
STALE_BEFORE_YEAR = 2021

#: Coordinates farther than this outside the declared commune are set aside (metres).
FAR_FROM_COMMUNE_M = 3000.0


def join_flags(flags: Iterable[str]) -> str:
    """Join flag codes with ``;`` (sorted, without duplicates or empties).

    Parameters
    ----------
    flags
        Codes from :data:`FLAGS`.

    Returns
    -------
    str
    """
    return ";".join(sorted({f for f in flags if f}))


def split_flags(value: object) -> list[str]:
    """Split a ``flags`` cell into codes."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    return [f for f in str(value).split(";") if f]


def flag_counts(sites: pd.DataFrame) -> pd.Series:
    """Count the sites carrying each flag.

    Parameters
    ----------
    sites
        A site directory.

    Returns
    -------
    pandas.Series
        Indexed by flag code, sorted by decreasing count.
    """
    counts: dict[str, int] = {}
    for cell in sites["flags"]:
        for f in split_flags(cell):
            counts[f] = counts.get(f, 0) + 1
    s = pd.Series(counts, dtype="int64", name="sites")
    return s.sort_values(ascending=False, kind="stable")


def rows_with_flag(sites: pd.DataFrame, flag: str) -> pd.DataFrame:
    """Return the rows of a directory carrying ``flag``.

    Parameters
    ----------
    sites
        A site directory.
    flag
        A code of :data:`FLAGS`.

    Returns
    -------
    pandas.DataFrame
    """
    mask = sites["flags"].map(lambda v: flag in split_flags(v)).to_numpy(bool)
    return sites.loc[mask]
