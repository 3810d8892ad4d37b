"""A user's own directory export: reading, validation, and merging into the bundled one.

Accepted files: CSV (UTF-8, UTF-16 or UTF-32 with a byte-order mark, or Windows-1252,
separated by ``,`` ``;`` or tab: :func:`analysis.io.decode_text`), GeoJSON and GeoPackage
(points; a MultiPoint of one point is that point; Z is dropped; in a declared CRS, converted;
metres without a CRS are refused with the likely projection, :func:`analysis.crs.likely_crs`).
A GeoPackage with several layers is read from its only point layer (the others are named in
the messages) or from the layer asked for (``layer=``, ``--layer``); several point layers
and no choice are refused with the list of layers.
Columns (case and accents do not matter):

- ``name`` and ``network`` (required; network names or aliases of
  :data:`~analysis.sites.networks.NETWORKS`);
- where the site is: ``commune`` (INSEE code or name) and/or ``address`` (a postcode in it
  is used when there is no commune), and/or ``lon``/``lat`` in degrees (or ``x_l93``/
  ``y_l93`` in Lambert-93 metres, or the file's point geometry);
- optional ``id``, ``kind`` (site / antenne / permanence / mobile), ``postcode``.

Problems that concern the whole file stop the import with a
:class:`~analysis.errors.ValidationError` naming the file, the rows and the fix: an empty
file, a file that is not text, missing or misnamed columns (with the likely rename), two
columns with the same name, unknown network names
(:class:`~analysis.errors.UnknownNameError` listing the known ones), a non-SPRO network,
duplicate ids, swapped longitude/latitude, Lambert-93 metres given as degrees, coordinates
of another projection (named), geometries that are not points (rows named). Problems of
single rows leave the row out and are reported (good rows still load): no name,
coordinates outside the region or not numbers, unknown or ambiguous commune, no place at
all. The user's file is only ever read.
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import settings
from ..communes import insee_code, load_communes
from ..crs import describe_crs, likely_crs
from ..errors import DataMissingError, UnknownNameError, ValidationError
from ..io import decode_text, unchanged_while_read
from .networks import NETWORKS, SPRO_NETWORKS, canonical_network
from .normalise import (
    CommuneIndex,
    Resolved,
    code_or_postcode,
    infer_kind,
    project,
    text_key,
)
from .placement import finalise, place_sites
from .quality import FAR_FROM_COMMUNE_M

logger = logging.getLogger(__name__)

#: Canonical column → accepted spellings (compared after :func:`_col_key`).
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "network": ("network",),
    "address": ("address",),
    "commune": ("commune", "insee", "commune_insee", "code_insee", "insee_code"),
    "postcode": ("postcode", "postal_code"),
    "lon": ("lon", "longitude", "lng"),
    "lat": ("lat", "latitude"),
    "x_l93": ("x_l93",),
    "y_l93": ("y_l93",),
    "id": ("id", "site_id"),
    "kind": ("kind",),
}

#: Usual other names, suggested in the error message (never renamed silently).
SYNONYMS: dict[str, str] = {
    "nom": "name", "libelle": "name", "intitule": "name", "nom_site": "name",
    "nom_structure": "name", "structure": "name", "site": "name", "reseau": "network",
    "type_structure": "network", "adresse": "address", "adresse_postale": "address",
    "rue": "address", "ville": "commune", "code_commune": "commune", "codgeo": "commune",
    "nom_commune": "commune", "cp": "postcode", "code_postal": "postcode", "long": "lon",
    "x": "lon", "y": "lat", "identifiant": "id", "ref": "id", "type": "kind",
    "nature": "kind", "type_site": "kind",
}  # fmt: skip

_KINDS = {
    "site": "site", "siege": "site", "principal": "site", "agence": "site",
    "antenne": "antenne", "permanence": "permanence", "mobile": "mobile", "bus": "mobile",
    "itinerant": "mobile", "itinerante": "mobile", "caravane": "mobile",
}  # fmt: skip

#: Plausible Lambert-93 ranges over the region (metres).
_L93_X = (600_000.0, 1_150_000.0)
_L93_Y = (6_300_000.0, 6_750_000.0)


@dataclass
class UserDirectory:
    """A user's directory export after validation.

    Attributes
    ----------
    sites
        The usable rows as a site table (provenance ``user``).
    dropped
        Rows left out: ``row`` (1-based data row), ``name``, ``reason``.
    messages
        Notes for the user (what was dropped, guessed or corrected).
    source
        The file read.
    """

    sites: gpd.GeoDataFrame
    dropped: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    source: str = ""


def _col_key(name: object) -> str:
    return text_key(name).replace(" ", "_")


def _check_same_name(columns: Iterable[object], src: str) -> None:
    """Raise if two columns the import reads have the same name (case, accents, spaces)."""
    known = {sp for spellings in COLUMN_NAMES.values() for sp in spellings}
    seen: dict[str, str] = {}
    for col in columns:
        key = _col_key(col)
        if key in seen and key in known:
            raise ValidationError(
                f"two columns are called {seen[key]!r} and {str(col)!r} (the same name once "
                "case, accents and spaces are ignored); keep one",
                source=src,
            )
        seen.setdefault(key, str(col))


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    if not data.strip():
        raise ValidationError(
            "the file is empty; export your directory with a header row (name, network, "
            "commune or address, lon, lat)",
            source=str(path),
        )
    text = decode_text(data, source=str(path))
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    counts = {sep: first.count(sep) for sep in (",", ";", "\t", "|")}
    sep = max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","
    # pandas renames a repeated header (`name`, `name.1`): check the header as written.
    _check_same_name(next(csv.reader([first], delimiter=sep), []), str(path))
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise ValidationError(
            f"cannot read the file as CSV ({exc}); check the separator and the quoting",
            source=str(path),
        ) from exc
    return df


def _is_point_type(kind: object) -> bool:
    """Whether an OGR layer geometry type is a point type (Point, 3D Point, MultiPoint...)."""
    base = kind.replace("3D ", "").replace("Measured ", "") if isinstance(kind, str) else ""
    return base.split(" ")[0] in (
        "Point",
        "MultiPoint",
    )


def _layer_list(layers: Any) -> str:
    return ", ".join(f"{name!r} ({kind or 'no geometry'})" for name, kind in layers)


def _pick_layer(path: Path, layers: Any, layer: str | None) -> tuple[str | None, list[str]]:
    """Choose the layer to read and say what is left: never a layer dropped without a word.

    The one layer of the file; else the layer named (``--layer``); else the only point
    layer; else a :class:`ValidationError` listing the layers.
    """
    names = [str(n) for n, _ in layers]
    if layer is not None:
        if layer not in names:
            raise ValidationError(
                f"no layer {layer!r} in the file; its layers are: {_layer_list(layers)}",
                source=str(path),
            )
        others = [(n, k) for n, k in layers if str(n) != layer]
        notes = [f"{path}: read layer {layer!r}; not read: {_layer_list(others)}"] if others else []
        return layer, notes
    if len(names) <= 1:
        return (names[0] if names else None), []
    points = [str(n) for n, k in layers if _is_point_type(k)]
    if len(points) == 1:
        others = [(n, k) for n, k in layers if str(n) != points[0]]
        return points[0], [
            f"{path}: read layer {points[0]!r}, the only point layer; not read: "
            f"{_layer_list(others)} (choose another with --layer)"
        ]
    why = "several point layers" if points else "no point layer"
    raise ValidationError(
        f"the file has {len(names)} layers and {why}: {_layer_list(layers)}; say which one "
        "holds the sites with --layer NAME (command line) or layer= (library)",
        source=str(path),
    )


def _read_spatial(path: Path, layer: str | None = None) -> pd.DataFrame:
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise ValidationError(
            f"cannot read the file ({exc}); save it as CSV, GeoJSON or GeoPackage",
            source=str(path),
        ) from exc
    chosen, notes = _pick_layer(path, layers, layer)
    try:
        gdf = pyogrio.read_dataframe(path, layer=chosen)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise ValidationError(
            f"cannot read the file ({exc}); save it as CSV, GeoJSON or GeoPackage",
            source=str(path),
        ) from exc
    df = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore")).astype(object)
    df = df.where(pd.notna(df), "").astype(str)
    geom = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else None
    empty: list[int] = []
    if geom is not None and len(geom):
        geom, empty = _as_points(geom, path)
    if geom is not None and len(geom) and geom.notna().any():
        if geom.crs is None or geom.crs.is_geographic:  # read as degrees: are they?
            _check_degrees(geom, path, declared=geom.crs is not None)
        if geom.crs is not None and geom.crs.to_epsg() != 4326:
            geom = geom.to_crs(settings.geographic_crs)
        xs = [f"{p.x!r}" if p is not None and not p.is_empty else "" for p in geom]
        ys = [f"{p.y!r}" if p is not None and not p.is_empty else "" for p in geom]
        keys = {_col_key(c) for c in df.columns}
        if not keys & set(COLUMN_NAMES["lon"]):
            df["lon"] = xs
            df["lat"] = ys
    df.attrs["empty_geometry_rows"] = empty
    df.attrs["notes"] = notes
    return df


def _as_points(geom: gpd.GeoSeries, path: Path) -> tuple[gpd.GeoSeries, list[int]]:
    """Points from the file's geometries: the one rule for geometry types close to points.

    A Point (with or without Z, which is dropped) is taken; a MultiPoint of one point (or of
    one point repeated) is that point; a missing or empty geometry is no position (the row
    may still be placed by its commune or address: its 1-based row is returned). Anything
    else is refused with its rows: a MultiPoint of several points is several sites, and a
    line or a zone has no one door (a representative point would place the site wrongly).
    """
    import shapely

    out: list[Any] = []
    empty: list[int] = []
    bad: dict[str, list[int]] = {}
    for k, g in enumerate(geom):
        if g is None or g.is_empty:
            out.append(None)
            empty.append(k + 1)
        elif g.geom_type == "Point":
            out.append(shapely.Point(g.x, g.y))
        elif g.geom_type == "MultiPoint":
            pts = {(p.x, p.y) for p in g.geoms if not p.is_empty}
            if len(pts) == 1:
                out.append(shapely.Point(*pts.pop()))
            else:
                bad.setdefault(f"MultiPoint of {len(pts)} points", []).append(k + 1)
                out.append(None)
        else:
            bad.setdefault(g.geom_type, []).append(k + 1)
            out.append(None)
    if bad:
        rows = sorted(r for rs in bad.values() for r in rs)
        raise ValidationError(
            f"the geometries must be points (found {', '.join(sorted(bad))}); export one point "
            "per site (a multi-point of several points is several sites: split it; a line or "
            "a zone has no one position: take the site's entrance)",
            source=str(path),
            rows=rows,
        )
    return gpd.GeoSeries(out, index=geom.index, crs=geom.crs), empty


def _check_degrees(geom: gpd.GeoSeries, path: Path, *, declared: bool) -> None:
    """Refuse points read as degrees (no CRS, or WGS84 by default) that are not degrees."""
    off = [k for k, p in enumerate(geom) if p is not None and (abs(p.x) > 180 or abs(p.y) > 90)]
    if not off:
        return
    xs = np.array([geom.iat[k].x for k in off])
    ys = np.array([geom.iat[k].y for k in off])
    found = likely_crs(xs, ys)
    looks = (
        f"these look like {describe_crs(found)} metres"
        if found
        else "they fit none of the projections tried (Lambert-93, Lambert II, UTM, CC zones…)"
    )
    if path.suffix.lower() in (".geojson", ".json"):
        why = (
            "the coordinates are not degrees, but the file declares no CRS (GeoJSON "
            "coordinates are WGS84 longitude/latitude unless a crs member says otherwise, "
            f"RFC 7946): {looks}; add a crs member or convert to WGS84"
        )
    else:
        said = "declares geographic coordinates" if declared else "declares no CRS"
        why = (
            f"the layer {said} but its coordinates are not degrees: {looks}; set the layer's "
            "real CRS (QGIS: Layer > Set CRS of Layer) or convert it to WGS84"
        )
    raise ValidationError(why, source=str(path), rows=[k + 1 for k in off])


def _read_any(path: Path, layer: str | None = None) -> pd.DataFrame:
    if not path.exists():
        raise DataMissingError(f"directory file not found: {path}")
    if path.is_dir():
        raise ValidationError("this is a folder, not a file", source=str(path))
    with unchanged_while_read(path, what="directory file"):
        return _read_by_type(path, layer)


def _read_by_type(path: Path, layer: str | None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        if layer is not None:
            raise ValidationError(
                f"a layer ({layer!r}) was asked for, but a CSV file has no layers: drop "
                "--layer, or give the GeoPackage",
                source=str(path),
            )
        df = _read_csv(path)
    elif suffix in (".geojson", ".json", ".gpkg"):
        if path.stat().st_size == 0:
            raise ValidationError("the file is empty", source=str(path))
        df = _read_spatial(path, layer)
    else:
        raise ValidationError(
            f"unsupported file type {suffix or '(none)'}; use CSV, GeoJSON or GeoPackage",
            source=str(path),
        )
    if len(df.columns) == 0:
        raise ValidationError("the file is empty (no header row)", source=str(path))
    if len(df) == 0:
        raise ValidationError(
            "the file has a header but no data row; add one row per site", source=str(path)
        )
    return df


def _map_columns(df: pd.DataFrame, src: str) -> dict[str, str]:
    """Canonical name → the file's column; raise with suggested renames if incomplete."""
    _check_same_name(df.columns, src)
    by_key: dict[str, str] = {}
    for col in df.columns:
        by_key.setdefault(_col_key(col), str(col))
    found: dict[str, str] = {}
    for canon, spellings in COLUMN_NAMES.items():
        for sp in spellings:
            if sp in by_key:
                found[canon] = by_key[sp]
                break
    missing = [c for c in ("name", "network") if c not in found]
    has_place = (
        "commune" in found
        or "address" in found
        or ("lon" in found and "lat" in found)
        or ("x_l93" in found and "y_l93" in found)
    )
    if not has_place:
        missing.append("commune")
    if ("lon" in found) != ("lat" in found):
        missing.append("lat" if "lon" in found else "lon")
    if missing:
        unused = [k for k in by_key if k not in {_col_key(v) for v in found.values()}]
        hints = []
        for m in missing:
            cands = [by_key[k] for k in unused if SYNONYMS.get(k) == m]
            if not cands:
                close = difflib.get_close_matches(m, unused, n=1, cutoff=0.6)
                cands = [by_key[k] for k in close]
            if cands:
                hints.append(f"rename {cands[0]!r} to {m!r}")
        what = ", ".join(repr(m) for m in missing)
        extra = (
            " (a place is needed: 'commune' with an INSEE code or a name, or 'address', or "
            "'lon' and 'lat')"
            if "commune" in missing
            else ""
        )
        for cx, cy in _XY_PAIRS:
            if "commune" in missing and cx in by_key and cy in by_key:
                head = df.head(2000)
                problem = _projection_problem(
                    [_number(v) for v in head[by_key[cx]]], [_number(v) for v in head[by_key[cy]]],
                    f"columns {by_key[cx]!r}/{by_key[cy]!r} hold coordinates that", named=False,
                )  # fmt: skip
                if problem:
                    hints.append(problem)
                break
        raise ValidationError(
            f"missing column(s) {what}{extra}; the file has "
            f"{', '.join(repr(str(c)) for c in df.columns)}"
            + (f"; {'; '.join(hints)}" if hints else "")
            + ". Required: name, network, and commune or address or lon/lat",
            source=src,
        )
    return found


def _number(value: object) -> float:
    s = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if not s:
        return math.nan
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return -math.inf  # a marker for "not a number"


def _in_bbox(lon: float, lat: float) -> bool:
    minx, miny, maxx, maxy = settings.region_bbox_lonlat
    return minx <= lon <= maxx and miny <= lat <= maxy


def _is_l93(x: float, y: float) -> bool:
    return _L93_X[0] <= x <= _L93_X[1] and _L93_Y[0] <= y <= _L93_Y[1]


_CONVERT = (
    "convert them to longitude/latitude in degrees (WGS84, EPSG:4326) in columns 'lon'/'lat', "
    "or to Lambert-93 in columns 'x_l93'/'y_l93' (a GeoPackage or GeoJSON that declares its "
    "CRS is converted by the tool)"
)


def _projection_problem(
    xs: Iterable[float], ys: Iterable[float], what: str, *, named: bool = True
) -> str | None:
    """Say which projection coordinates that are not what their columns claim fit, if any."""
    found = likely_crs(np.asarray(list(xs), float), np.asarray(list(ys), float))
    if not found:
        return None
    code, _, swapped = found[0]
    if code == settings.geographic_crs and not swapped:
        fix = "rename them 'lon' and 'lat'"
    elif code == settings.geographic_crs:
        fix = "swap the two columns (the longitude, 2 to 7.3, first) and name them 'lon' and 'lat'"
    elif code == settings.projected_crs and not swapped:
        fix = "name them 'x_l93' and 'y_l93'"
    elif code == settings.projected_crs:
        fix = (
            "swap the two columns (x, the easting, is the smaller number) and name them "
            "'x_l93' and 'y_l93'"
        )
    else:
        fix = _CONVERT
    said = ", not what their names say" if named else ""
    return f"{what} fit {describe_crs(found)}{said}; {fix}"


#: Column pairs that hold coordinates of an unnamed system (checked when no place is found).
_XY_PAIRS = (("x", "y"), ("coord_x", "coord_y"), ("x_coord", "y_coord"), ("xcoord", "ycoord"),
             ("coordx", "coordy"), ("easting", "northing"), ("est", "nord"))  # fmt: skip


def read_user_directory(
    path: str | os.PathLike[str],
    *,
    index: CommuneIndex | None = None,
    layer: str | None = None,
) -> UserDirectory:
    """Read and validate a user's directory export.

    Parameters
    ----------
    path
        CSV, GeoJSON or GeoPackage file (only read, never written).
    index
        Commune look-ups (built from the bundled commune layer if not given).
    layer
        The layer of a GeoPackage holding the sites. By default the file's only layer, or
        its only point layer (the others are named in the messages); a file with several
        point layers (or none) and no ``layer`` is refused with the list of its layers.

    Returns
    -------
    UserDirectory
        The usable sites, the dropped rows and the messages.

    Raises
    ------
    DataMissingError
        If the file does not exist.
    ValidationError
        For a problem of the whole file (see the module docstring); the message names
        the file, the rows and the fix.
    UnknownNameError
        For network names that are not known (the message lists the known ones).
    """
    p = Path(path)
    src = str(p)
    df = _read_any(p, layer)
    notes = list(df.attrs.get("notes", []))
    empty_geometry = set(df.attrs.get("empty_geometry_rows", []))
    cols = _map_columns(df, src)
    f = _fields(df, cols)

    # ---- whole-file checks: networks, ids, coordinate conventions
    canon = _canonical_networks(f.nets, src)
    if "id" in cols:
        _check_unique_ids(f.ids, src)
    pos = _positions(df, cols, src)

    # ---- row by row
    if index is None:
        index = CommuneIndex(load_communes())
    dropped: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    stamp = datetime.fromtimestamp(p.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d")
    for k in range(len(df)):
        placed = _place_row(k, f, canon, pos, index, empty_geometry)
        if isinstance(placed, str):
            dropped.append({"row": k + 1, "name": f.names[k], "reason": placed})
            continue
        records.append(_site_record(k, f, canon[k], placed, pos, index, p, stamp))
    drops = pd.DataFrame(dropped, columns=["row", "name", "reason"])
    if not records:
        reasons = "; ".join(f"row {d['row']}: {d['reason']}" for d in dropped[:5])
        raise ValidationError(
            f"no usable row ({reasons}{'…' if len(dropped) > 5 else ''})",
            source=src,
            rows=[d["row"] for d in dropped],
        )
    sites = finalise(place_sites(pd.DataFrame(records), index))
    messages = [f"{src}: {len(sites)} site(s) loaded", *notes]
    for d in dropped:
        messages.append(f"{src}: row {d['row']} ({d['name'] or 'no name'}) left out: {d['reason']}")
    n_commune = int((sites["position"] == "commune").sum())
    if n_commune:
        messages.append(
            f"{src}: {n_commune} site(s) without coordinates placed inside their commune"
        )
    for m in messages[1:]:
        logger.warning("%s", m)
    return UserDirectory(sites=sites, dropped=drops, messages=messages, source=src)


# ------------------------------------------------------------- read_user_directory's steps
@dataclass
class _Fields:
    """The text of each mapped column, one entry per row (``""`` where absent)."""

    names: list[str]
    nets: list[str]
    communes: list[str]
    addresses: list[str]
    postcodes: list[str]
    ids: list[str]
    kinds: list[str]
    #: a column called insee (code_insee...) holds codes; one called commune may hold postcodes
    code_column: bool


def _fields(df: pd.DataFrame, cols: dict[str, str]) -> _Fields:
    def col(name: str) -> list[str]:
        return [str(v).strip() for v in df[cols[name]]] if name in cols else [""] * len(df)

    return _Fields(
        names=col("name"),
        nets=col("network"),
        communes=col("commune"),
        addresses=col("address"),
        postcodes=col("postcode"),
        ids=col("id"),
        kinds=col("kind"),
        code_column="commune" in cols and _col_key(cols["commune"]) != "commune",
    )


def _canonical_networks(nets: list[str], src: str) -> list[str]:
    """Canonical network of each row (``""`` where blank); unknown or non-SPRO ones refused."""
    unknown: dict[str, list[int]] = {}
    non_spro: dict[str, list[int]] = {}
    canon: list[str] = []
    for k, raw in enumerate(nets):
        try:
            c = canonical_network(raw) if raw else ""
        except UnknownNameError:
            unknown.setdefault(raw, []).append(k + 1)
            c = ""
        if c and not NETWORKS[c].spro:
            non_spro.setdefault(c, []).append(k + 1)
        canon.append(c)
    if unknown:
        rows = sorted(r for rs in unknown.values() for r in rs)
        raise UnknownNameError(
            "network", ", ".join(sorted(unknown)), SPRO_NETWORKS, source=src, rows=rows
        )
    if non_spro:
        rows = sorted(r for rs in non_spro.values() for r in rs)
        raise ValidationError(
            f"{', '.join(sorted(non_spro))} is not an SPRO network (its sites are candidate "
            "hosts, see load_france_services); remove these rows or give the SPRO network "
            "the site belongs to",
            source=src,
            rows=rows,
        )
    return canon


def _check_unique_ids(ids: list[str], src: str) -> None:
    seen: dict[str, list[int]] = {}
    for k, v in enumerate(ids):
        if v:
            seen.setdefault(v, []).append(k + 1)
    dups = {v: rs for v, rs in seen.items() if len(rs) > 1}
    if dups:
        rows = sorted(r for rs in dups.values() for r in rs)
        shown = ", ".join(repr(v) for v in list(dups)[:5])
        raise ValidationError(
            f"duplicate id(s) {shown}; give every site its own id (or remove the id column)",
            source=src,
            rows=rows,
        )


@dataclass
class _Positions:
    """Lambert-93 position of each row (NaN if none) and the rows whose numbers are bad."""

    x: np.ndarray
    y: np.ndarray
    bad_number: set[int] = field(default_factory=set)  # 1-based rows
    bad_degrees: set[int] = field(default_factory=set)


def _positions(df: pd.DataFrame, cols: dict[str, str], src: str) -> _Positions:
    """Read the x_l93/y_l93 or lon/lat columns; a wrong convention refuses the file."""
    pos = _Positions(np.full(len(df), np.nan), np.full(len(df), np.nan))

    def numbers(name: str) -> list[float]:
        return [_number(v) for v in df[cols[name]]]

    if "x_l93" in cols:
        xs, ys = numbers("x_l93"), numbers("y_l93")
        off: list[int] = []
        for k, (a, b) in enumerate(zip(xs, ys, strict=True)):
            if a == -math.inf or b == -math.inf:
                pos.bad_number.add(k + 1)
            elif math.isfinite(a) and math.isfinite(b):
                pos.x[k], pos.y[k] = a, b
                if not _is_l93(a, b):
                    off.append(k)
        problem = off and _projection_problem(
            [xs[k] for k in off], [ys[k] for k in off],
            f"the values of columns {cols['x_l93']!r}/{cols['y_l93']!r}",
        )  # fmt: skip
        if problem:
            raise ValidationError(problem, source=src, rows=[k + 1 for k in off])
    if "lon" in cols:
        _lonlat_positions(numbers("lon"), numbers("lat"), cols, src, pos)
    return pos


def _lonlat_positions(
    lons: list[float], lats: list[float], cols: dict[str, str], src: str, pos: _Positions
) -> None:
    swapped, l93, metres = [], [], []
    for k, (lo, la) in enumerate(zip(lons, lats, strict=True)):
        if lo == -math.inf or la == -math.inf:
            pos.bad_number.add(k + 1)
            continue
        if not (math.isfinite(lo) and math.isfinite(la)):
            continue
        if _is_l93(lo, la):
            l93.append(k + 1)
        elif not _in_bbox(lo, la) and _in_bbox(la, lo):
            swapped.append(k + 1)
        elif abs(lo) <= 180 and abs(la) <= 90:
            xx, yy = project(np.array([lo]), np.array([la]))
            pos.x[k], pos.y[k] = float(xx[0]), float(yy[0])
        else:
            metres.append(k)
    problem = metres and _projection_problem(
        [lons[k] for k in metres], [lats[k] for k in metres],
        f"columns {cols['lon']!r}/{cols['lat']!r} hold metres, not degrees: they",
    )  # fmt: skip
    if problem:
        raise ValidationError(problem, source=src, rows=[k + 1 for k in metres])
    pos.bad_degrees.update(k + 1 for k in metres)
    if l93:
        raise ValidationError(
            f"columns {cols['lon']!r}/{cols['lat']!r} hold Lambert-93 metres (EPSG:2154), "
            "not degrees; rename them 'x_l93' and 'y_l93' (they are then converted) or "
            "give longitude/latitude in degrees (EPSG:4326)",
            source=src,
            rows=l93,
        )
    if swapped:
        raise ValidationError(
            f"longitude and latitude look swapped (the region spans longitudes 2 to 7.3 "
            f"and latitudes 44 to 46.9); swap the values of {cols['lon']!r} and "
            f"{cols['lat']!r}",
            source=src,
            rows=swapped,
        )


@dataclass
class _Placed:
    """Where a row's site stands: its commune, exact or commune-level, and its flags."""

    res: Resolved
    position: str
    flags: list[str]


def _declared_commune(
    k: int, f: _Fields, index: CommuneIndex, has_xy: bool, flags: list[str]
) -> Resolved | str | None:
    """Resolve the row's commune column (code, ``insee:`` code, postcode or name).

    Returns the commune, ``None`` when the column is blank or only coordinates can place
    the row, or the reason to drop the row.
    """
    cval = f.communes[k]
    explicit = f.code_column or cval.lower().startswith("insee:")  # a code, not a postcode
    if cval.lower().startswith("insee:"):
        cval = cval[len("insee:") :].strip()
    if not cval:
        return None
    if re.fullmatch(r"\d[\dAB]\d{2,3}", cval):
        res = index.from_code(cval)
        if res is None and not has_xy:
            return f"unknown commune code {cval!r} (not a commune of the region)"
        if res is not None and res.how == "former_code":
            flags.append("commune_from_former_code")
        if res is not None and res.how == "code" and not has_xy and not explicit:
            # a code that is also other communes' postcode: the row's fields decide
            i = index.by_code[res.insee]
            try:
                j = code_or_postcode(
                    insee_code(cval), i, index.communes, [f.names[k]],
                    [f.addresses[k], f.postcodes[k]],
                )  # fmt: skip
            except ValidationError as exc:
                return exc.detail
            if j != i:
                res = Resolved(str(index.communes["insee"].iat[j]), "", "postcode")
                flags.append("commune_from_postcode")
        return res
    found = index.from_name(cval)
    if len(found) > 1:
        pc = f.postcodes[k] or (re.findall(r"\b\d{5}\b", f.addresses[k]) or [""])[-1]
        narrowed = [i for i in found if pc and pc in index.postcodes[i]]
        found = narrowed if len(narrowed) == 1 else found
    if len(found) == 1:
        return Resolved(str(index.communes["insee"].iat[found[0]]), "", "name")
    if not has_xy:
        why = "ambiguous" if found else "unknown"
        return f"{why} commune name {cval!r}; give its INSEE code"
    return None


def _place_row(
    k: int,
    f: _Fields,
    canon: list[str],
    pos: _Positions,
    index: CommuneIndex,
    empty_geometry: set[int],
) -> _Placed | str:
    """Place row ``k`` (0-based): its commune and position, or the reason to drop it."""
    if not canon[k]:
        return "no network"
    if not f.names[k]:
        return "no name"
    if k + 1 in pos.bad_number:
        return "coordinates are not numbers"
    if k + 1 in pos.bad_degrees:
        return "coordinates are not degrees (longitude -180 to 180, latitude -90 to 90)"
    flags: list[str] = []
    x, y = float(pos.x[k]), float(pos.y[k])
    has_xy = bool(np.isfinite(x))
    if has_xy and not index.in_region(x, y):
        return "coordinates outside Auvergne-Rhône-Alpes"
    res = _declared_commune(k, f, index, has_xy, flags)
    if isinstance(res, str):
        return res
    if res is None and not has_xy:
        pcs = [f.postcodes[k]] if f.postcodes[k] else re.findall(r"\b\d{5}\b", f.addresses[k])
        if pcs:
            res = index.from_postcode(pcs[-1], name=f"{f.addresses[k]} {f.names[k]}")
            if res is not None:
                flags.append("commune_from_postcode")
        if res is None:
            why = " (its geometry is empty)" if k + 1 in empty_geometry else ""
            return f"no place{why}: give a commune (INSEE code or name), or lon/lat"
    position = "commune"
    if has_xy:
        position = "exact"
        j = index.at_point(x, y)
        if res is not None:
            d = index.distance_to_commune(index.by_code[res.insee], x, y)
            if d > FAR_FROM_COMMUNE_M and j is not None:
                flags.append("commune_from_coordinates")
                res = Resolved(str(index.communes["insee"].iat[j]), "", "point")
        elif j is not None:
            res = Resolved(str(index.communes["insee"].iat[j]), "", "point")
        else:  # within 100 m of the region but in no polygon (simplified borders)
            res = Resolved(index.nearest_commune(x, y), "", "point")
    else:
        flags.append("user_position_commune")
    if res is None:  # unreachable: every branch above sets it or drops the row
        return "no place"
    i = index.by_code[res.insee]
    flag = index.postcode_flag(
        i, res.insee, f.postcodes[k], from_postcode="commune_from_postcode" in flags
    )
    if flag:  # a postcode that disagrees with the declared commune, as in bundled files
        flags.append(flag)
    return _Placed(res, position, flags)


def _site_record(
    k: int,
    f: _Fields,
    network: str,
    placed: _Placed,
    pos: _Positions,
    index: CommuneIndex,
    p: Path,
    stamp: str,
) -> dict[str, Any]:
    """Return the internal row of a user site (see :func:`~.placement.finalise`)."""
    res, exact = placed.res, placed.position == "exact"
    i = index.by_code[res.insee]
    kind_text = text_key(f.kinds[k])
    kind = _KINDS.get(kind_text.split()[0], "") if kind_text else ""
    kind = kind or infer_kind(f.kinds[k], f.names[k])
    return {
        "source_id": f.ids[k] or str(k + 1),
        "site_id": f"user:{f.ids[k]}" if f.ids[k] else f"user:{p.stem}:{k + 1}",
        "name": f.names[k],
        "network": network,
        "circle": NETWORKS[network].circle,
        "subtype": f.kinds[k],
        "kind": kind,
        "insee": res.insee,
        "arrondissement": res.arrondissement,
        "commune_name": str(index.names[i]),
        "dep": str(index.deps[i]),
        "address": f.addresses[k],
        "postcode": f.postcodes[k],
        "x_l93": pos.x[k] if exact else np.nan,
        "y_l93": pos.y[k] if exact else np.nan,
        "position": placed.position,
        "provenance": "user",
        "vintage": f"user file {p.name} ({stamp})",
        "vintage_year": int(stamp[:4]),
        "source": str(p),
        "flag_list": placed.flags,
        "merged_from": "",
        "n_records": 1,
    }


def load_user_directory(
    path: str | os.PathLike[str], *, layer: str | None = None
) -> gpd.GeoDataFrame:
    """Load a user's directory export as a site table (provenance ``user``).

    Parameters
    ----------
    path
        CSV, GeoJSON or GeoPackage (see the module docstring for the columns).
    layer
        The GeoPackage layer holding the sites (see :func:`read_user_directory`).

    Returns
    -------
    geopandas.GeoDataFrame
        Same columns as the bundled directory. Rows left out are logged (warning) and
        listed in ``.attrs["load_report"]`` (a list of strings).

    Raises
    ------
    DataMissingError
        If the file does not exist.
    ValidationError
        For a problem of the whole file (the message names the file, rows and fix).
    """
    ud = read_user_directory(path, layer=layer)
    sites = ud.sites
    sites.attrs["load_report"] = list(ud.messages)
    return sites
