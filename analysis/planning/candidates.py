"""Candidate sites entered by a planner: from a form, a map click or a CSV file.

Every candidate has a name, a network (checked against the network registry), a kind and a
position: longitude/latitude (a map click, a geocoded address) or a commune (INSEE code or
name), in which case it stands at the commune's origin point (town hall or interior point)
and its position is marked ``commune``. Addresses are kept as text; there is no offline
geocoder, so give ``lon``/``lat`` or a commune with them.

:func:`read_candidates_csv` loads the good rows of a file and reports the bad ones by their
1-based data row (header excluded); it only raises when no row is usable.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..crs import position_hint, to_l93, to_lonlat
from ..errors import UnknownNameError, ValidationError
from ..io import decode_text
from . import common

logger = logging.getLogger(__name__)

#: Columns of a candidate table.
CANDIDATE_COLUMNS = (
    "candidate_id",
    "name",
    "network",
    "kind",
    "address",
    "insee",
    "commune",
    "lon",
    "lat",
    "x_l93",
    "y_l93",
    "position",
    "provenance",
)

#: Columns a candidate CSV may have (``name`` and ``network`` required; a position from
#: ``lon``/``lat`` or ``insee``/``commune``).
CSV_COLUMNS = ("name", "network", "kind", "lon", "lat", "insee", "commune", "address")

#: Default kind of a candidate.
DEFAULT_KIND = "permanence"


@dataclass
class CandidateLoad:
    """The candidates that loaded, and the problems of the rows that did not.

    Attributes
    ----------
    candidates
        Good rows (columns :data:`CANDIDATE_COLUMNS`, point geometry, EPSG:4326).
    problems
        One error per bad row; each names its row (``.rows``) and what is wrong.
    """

    candidates: gpd.GeoDataFrame
    problems: list[ValidationError] = field(default_factory=list)

    def messages(self) -> list[str]:
        """Return the problems, one line each."""
        return [str(p) for p in self.problems]


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in CANDIDATE_COLUMNS},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
        crs="EPSG:4326",
    )


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v).strip()


def _number(v: Any) -> float | None:
    s = _text(v).replace(",", ".")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return np.nan


def make_candidate(
    record: Mapping[str, Any],
    communes: pd.DataFrame,
    *,
    row: int | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Validate one candidate and resolve its position.

    Parameters
    ----------
    record
        ``name``, ``network`` and a position (``lon``/``lat`` or ``insee``/``commune``);
        optionally ``kind`` (default ``permanence``) and ``address``.
    communes
        The communes (to place a candidate at a commune and check it lies in the region).
    row, source
        Where the record comes from, for error messages.

    Returns
    -------
    dict
        One candidate (columns of :data:`CANDIDATE_COLUMNS` except ``candidate_id``).

    Raises
    ------
    ValidationError
        What is wrong with the record (an unknown network lists the valid ones).
    """
    rows = [row] if row is not None else None
    name = _text(record.get("name"))
    if not name:
        raise ValidationError("the candidate has no name", source=source, rows=rows)
    net_in = _text(record.get("network"))
    if not net_in:
        raise ValidationError(f"candidate {name!r} has no network", source=source, rows=rows)
    try:
        network = common.canonical_network(net_in)
    except ValidationError as exc:
        raise type(exc)(*_err_args(exc), source=source, rows=rows) from None
    spro = common.spro_networks()
    if network not in spro:
        raise UnknownNameError("SPRO network", net_in, spro, source=source, rows=rows)
    kind = _text(record.get("kind")) or DEFAULT_KIND
    lon, lat = _number(record.get("lon")), _number(record.get("lat"))
    code = _text(record.get("insee"))
    commune_name = _text(record.get("commune"))
    if lon is not None or lat is not None:
        if lon is None or lat is None or not np.isfinite(lon) or not np.isfinite(lat):
            raise ValidationError(
                f"candidate {name!r}: lon and lat must both be numbers", source=source, rows=rows
            )
        if not common.in_region(np.array([lon]), np.array([lat]), communes)[0]:
            raise ValidationError(
                f"candidate {name!r} at ({lon:.5f}, {lat:.5f}) lies outside the region "
                f"{position_hint(lon, lat)}".rstrip(),
                source=source,
                rows=rows,
            )
        xa, ya = to_l93(lon, lat)
        x, y = float(xa), float(ya)
        position = "exact"
        # The commune it stands in, for display.
        d2 = (communes["x_l93"].to_numpy(float) - x) ** 2 + (
            communes["y_l93"].to_numpy(float) - y
        ) ** 2
        i = int(np.argmin(d2))
        code = code or str(communes["insee"].iloc[i])
        commune_name = commune_name or str(communes["nom"].iloc[i])
    elif code or commune_name:
        try:
            # an `insee` column is a code; a `commune` column may hold a postcode (42310)
            query = f"{common.INSEE_PREFIX}{code}" if code else commune_name
            addresses = [_text(record.get("address")), _text(record.get("postcode"))]
            i, x, y = common.commune_position(query, communes, names=[name], addresses=addresses)
        except ValidationError as exc:
            raise ValidationError(
                f"candidate {name!r}: {exc.detail}", source=source, rows=rows
            ) from None
        code = str(communes["insee"].iloc[i])
        commune_name = str(communes["nom"].iloc[i])
        lon, lat = (float(v) for v in to_lonlat(x, y))
        position = "commune"
    else:
        raise ValidationError(
            f"candidate {name!r} has no position: give lon/lat or a commune (INSEE code or name)",
            source=source,
            rows=rows,
        )
    return {
        "name": name,
        "network": network,
        "kind": kind,
        "address": _text(record.get("address")),
        "insee": code,
        "commune": commune_name,
        "lon": float(lon),
        "lat": float(lat),
        "x_l93": x,
        "y_l93": y,
        "position": position,
        "provenance": "user",
    }


def _err_args(exc: ValidationError) -> tuple[Any, ...]:
    """Return the constructor arguments to re-raise an error with a source and rows."""
    if isinstance(exc, UnknownNameError):
        return (exc.kind, exc.name, exc.valid)
    return (getattr(exc, "detail", str(exc)),)


def candidates_from_records(
    records: Iterable[Mapping[str, Any] | None],
    communes: pd.DataFrame,
    *,
    source: str | None = None,
    id_prefix: str = "C",
) -> CandidateLoad:
    """Validate candidates; keep the good ones and report the bad ones by row.

    Parameters
    ----------
    records
        One mapping per candidate (see :func:`make_candidate`); ``None`` skips a row while
        keeping the numbering of the next ones.
    communes
        The communes.
    source
        Name of the input (a file name) for messages.
    id_prefix
        Candidate ids are ``<prefix><row>``.

    Returns
    -------
    CandidateLoad
    """
    good: list[dict[str, Any]] = []
    problems: list[ValidationError] = []
    for i, rec in enumerate(records, start=1):
        if rec is None:  # a blank or already rejected row keeps its number
            continue
        try:
            cand = make_candidate(rec, communes, row=i, source=source)
        except ValidationError as exc:
            problems.append(exc)
            continue
        cand["candidate_id"] = f"{id_prefix}{i}"
        good.append(cand)
    if problems:
        logger.warning("%d candidate row(s) rejected", len(problems))
    if not good:
        return CandidateLoad(_empty(), problems)
    df = pd.DataFrame(good)[list(CANDIDATE_COLUMNS)]
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    return CandidateLoad(gdf, problems)


def read_candidates_csv(
    path: str | os.PathLike[str] | io.IOBase | bytes,
    communes: pd.DataFrame,
    *,
    strict: bool = False,
) -> CandidateLoad:
    """Load candidate sites from a CSV (comma or semicolon separated, UTF-8).

    Parameters
    ----------
    path
        File path, open file or the file's bytes (an upload). Columns: ``name``,
        ``network`` and either ``lon``/``lat`` or ``insee``/``commune``; optionally
        ``kind`` and ``address``.
    communes
        The communes.
    strict
        Raise on the first bad row instead of collecting the problems.

    Returns
    -------
    CandidateLoad
        Good rows load; bad rows are reported by their 1-based data row.

    Raises
    ------
    ValidationError
        If the file cannot be read, lacks the required columns, or has no usable row (the
        message lists the rows and their problems).
    """
    source = os.fspath(path) if isinstance(path, str | os.PathLike) else "candidates CSV"
    try:
        if isinstance(path, bytes):
            raw = path
        elif isinstance(path, str | os.PathLike):
            with open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read()
        if isinstance(raw, bytes):
            text = decode_text(raw, source=source, legacy=False)
        else:
            text = str(raw).lstrip("\ufeff")
    except OSError as exc:
        raise ValidationError(
            f"cannot read the candidates file (UTF-8 CSV expected): {exc}", source=source
        ) from None
    except ValidationError as exc:
        raise ValidationError(
            f"cannot read the candidates file (UTF-8 CSV expected): {exc.detail}", source=source
        ) from None
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise ValidationError("cannot read the candidates file: it is empty", source=source)
    sep = ";" if header.count(";") > header.count(",") else ","
    try:
        table = list(csv.reader(io.StringIO(text), delimiter=sep))
    except csv.Error as exc:
        raise ValidationError(f"cannot read the candidates file: {exc}", source=source) from None
    columns = [str(c).strip().lower() for c in table[0]]
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        raise ValidationError(
            f"the header names the column(s) {', '.join(twice)} more than once; keep one",
            source=source,
        )
    body = table[1:]
    missing = [c for c in ("name", "network") if c not in columns]
    if missing:
        raise ValidationError(
            f"missing column(s) {', '.join(missing)}; expected columns: {', '.join(CSV_COLUMNS)}",
            source=source,
        )
    if not ({"lon", "lat"} <= set(columns) or {"insee", "commune"} & set(columns)):
        raise ValidationError(
            "no position column: give lon and lat, or insee or commune", source=source
        )
    records: list[dict[str, Any] | None] = []
    shape_problems: list[ValidationError] = []
    for i, fields in enumerate(body, start=1):
        if not any(f.strip() for f in fields):
            records.append(None)  # blank line
        elif len(fields) != len(columns):
            records.append(None)
            shape_problems.append(
                ValidationError(
                    f"{len(fields)} fields where the header has {len(columns)}",
                    source=source,
                    rows=[i],
                )
            )
        else:
            records.append(dict(zip(columns, fields, strict=True)))
    load = candidates_from_records(records, communes, source=source)
    load.problems = sorted(load.problems + shape_problems, key=lambda p: p.rows)
    if load.problems and strict:
        raise load.problems[0]
    if len(load.candidates) == 0:
        if not any(r is not None for r in records) and not shape_problems:
            raise ValidationError("the candidates file has no data row", source=source)
        raise ValidationError(
            "no usable candidate: " + "; ".join(p.detail for p in load.problems[:10]),
            source=source,
            rows=[r for p in load.problems for r in p.rows],
        )
    return load
