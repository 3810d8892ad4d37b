"""Synthetic regions for the planner tools' tests, benchmarks and app tests.

:func:`synthetic_region` builds a small region with the same columns as the real inputs: a
grid of square communes in Haute-Loire's Lambert-93 neighbourhood (so that longitudes and
latitudes fall inside Auvergne-Rhône-Alpes), a road model joining neighbouring communes, and
a directory of sites of a few networks (real and modelled). :func:`grid_road_model` builds
the large graphs of the benchmarks (a jittered grid of up to millions of nodes with the
communes as origins). Nothing here is real data: every model is labelled ``synthetic``
(hence "estimated").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from .crs import to_lonlat
from .graph import RoadGraph, nearest_nodes
from .road_model import RoadModel
from .territory import DENSITY7_LABELS

logger = logging.getLogger(__name__)

#: Lower-left corner of the synthetic regions (Lambert-93 metres; near Le Puy-en-Velay).
ORIGIN_L93 = (730_000.0, 6_400_000.0)

#: Networks used by the synthetic directory, with their circle.
SYNTHETIC_NETWORKS = {
    "Mission Locale": 2,
    "Info Jeunes": 1,
    "France Travail": 2,
    "CIO": 1,
}


@dataclass
class SyntheticRegion:
    """A synthetic region: communes, a road model and a site directory."""

    communes: gpd.GeoDataFrame
    model: RoadModel
    sites: gpd.GeoDataFrame


def synthetic_communes(
    nx: int, ny: int, *, cell_m: float = 4_000.0, seed: int = 0
) -> gpd.GeoDataFrame:
    """Build a grid of ``nx × ny`` square communes with the real commune table's columns.

    Parameters
    ----------
    nx, ny
        Communes per row and column.
    cell_m
        Side of each commune, metres.
    seed
        Random seed (populations, origin points).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, sorted by ``insee``.
    """
    rng = np.random.default_rng(seed)
    n = nx * ny
    i = np.arange(n)
    col, row = i % nx, i // nx
    x0 = ORIGIN_L93[0] + col * cell_m
    y0 = ORIGIN_L93[1] + row * cell_m
    x = x0 + cell_m * rng.uniform(0.3, 0.7, n)
    y = y0 + cell_m * rng.uniform(0.3, 0.7, n)
    pop = np.round(rng.lognormal(6.0, 1.2, n)).astype(np.int64) + 20
    deg3 = np.where(pop > 5_000, 1, np.where(pop > 1_500, 2, 3))
    classes = np.array(["", "urban centre", "intermediate", "rural"])[deg3]
    density7 = np.array([0, 2, 4, 6])[deg3]
    frr = (deg3 == 3) & (col % 4 == 0)
    deps = np.where(col < nx // 2, "43", "63")
    insee = np.array([f"{d}{k:03d}" for d, k in zip(deps, i % 1000, strict=True)])
    # Unique codes even for large grids.
    if len(set(insee)) < n:
        insee = np.array(
            [f"{d}{k:03d}" if k < 1000 else f"{d}{k}" for d, k in zip(deps, i, strict=True)]
        )
    polys = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    lon, lat = to_lonlat(x, y)
    gdf = gpd.GeoDataFrame(
        {
            "insee": insee,
            "nom": [f"Commune {k + 1:03d}" for k in i],
            "dep": deps,
            "epci": [f"EPCI{(c // 3) + 10 * (r // 3):03d}" for c, r in zip(col, row, strict=True)],
            "epci_nom": [
                f"Communauté {(c // 3) + 10 * (r // 3)}" for c, r in zip(col, row, strict=True)
            ],
            "pop_mun": pop,
            "surface_km2": np.full(n, cell_m**2 / 1e6),
            "x_l93": x,
            "y_l93": y,
            "lon": lon,
            "lat": lat,
            "deg3": deg3,
            "urban_class": classes,
            # official classes, made up like the rest: density level 2/4/6 by degree, FRR
            # for the rural communes of every fourth column, AAV category from the degree
            "density7": density7,
            "density7_label": [DENSITY7_LABELS[int(d)] for d in density7],
            "frr": frr,
            "frr_code": np.where(frr, 1, 0),
            "aav_category": np.array([0, 11, 12, 20])[deg3],
        },
        geometry=gpd.GeoSeries(polys, crs=settings.projected_crs).to_crs(settings.geographic_crs),
        crs=settings.geographic_crs,
    )
    return gdf.sort_values("insee", kind="stable").reset_index(drop=True)


def commune_road_model(
    communes: gpd.GeoDataFrame,
    *,
    speed_kmh: float = 50.0,
    circuity: float = 1.3,
    label: str = "synthetic test network",
) -> RoadModel:
    """Build a road model with one node per commune, joined to its grid neighbours.

    Parameters
    ----------
    communes
        From :func:`synthetic_communes`.
    speed_kmh, circuity
        Edge time = straight distance × circuity / speed.
    label
        The model's label.

    Returns
    -------
    RoadModel
        ``model == "synthetic"`` (so results are labelled estimated).
    """
    x = communes["x_l93"].to_numpy(float)
    y = communes["y_l93"].to_numpy(float)
    side = float(np.sqrt(communes["surface_km2"].iloc[0] * 1e6))
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(1.6 * side, output_type="ndarray")
    u, v = pairs[:, 0], pairs[:, 1]
    d = np.hypot(x[u] - x[v], y[u] - y[v])
    w = d * circuity / (speed_kmh / 3.6)
    g = RoadGraph.from_edges(
        np.concatenate([u, v]),
        np.concatenate([v, u]),
        np.concatenate([w, w]),
        x,
        y,
        model="synthetic",
        label=label,
        node_ids=communes["insee"].to_numpy(),
    )
    n = len(communes)
    access = 60.0 + 0.0 * np.arange(n)
    return RoadModel(
        graph=g,
        origin_ids=communes["insee"].to_numpy(),
        origin_nodes=np.arange(n),
        origin_offsets_s=access,
        max_snap_m=3 * side,
    )


def synthetic_sites(
    communes: gpd.GeoDataFrame, *, per_network: int = 4, seed: int = 1
) -> gpd.GeoDataFrame:
    """Build a small site directory: ``per_network`` sites of each synthetic network.

    Sites stand near the origin point of random communes; every third is ``modelled``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for net, circle in SYNTHETIC_NETWORKS.items():
        picks = rng.choice(len(communes), size=min(per_network, len(communes)), replace=False)
        for j, c in enumerate(picks):
            r = communes.iloc[int(c)]
            x = float(r["x_l93"]) + rng.uniform(-300, 300)
            y = float(r["y_l93"]) + rng.uniform(-300, 300)
            lon, lat = to_lonlat(x, y)
            k += 1
            rows.append(
                {
                    "site_id": f"S{k:03d}",
                    "name": f"{net} {r['nom']}",
                    "network": net,
                    "circle": circle,
                    "kind": "site" if j == 0 else "permanence",
                    "insee": r["insee"],
                    "commune_name": r["nom"],
                    "dep": r["dep"],
                    "lon": float(lon),
                    "lat": float(lat),
                    "x_l93": x,
                    "y_l93": y,
                    "position": "exact",
                    "provenance": "modelled" if k % 3 == 0 else "open-data:synthetic.csv",
                    "flags": "",
                }
            )
    df = pd.DataFrame(rows)
    return gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=settings.geographic_crs
    )


def synthetic_region(
    nx: int = 12, ny: int = 10, *, per_network: int = 3, seed: int = 0
) -> SyntheticRegion:
    """Communes, road model and sites of a small synthetic region (see module doc)."""
    communes = synthetic_communes(nx, ny, seed=seed)
    return SyntheticRegion(
        communes=communes,
        model=commune_road_model(communes),
        sites=synthetic_sites(communes, per_network=per_network, seed=seed + 1),
    )


def grid_road_model(
    communes: gpd.GeoDataFrame,
    *,
    n_nodes: int = 1_000_000,
    speed_kmh: float = 50.0,
    seed: int = 0,
    label: str = "synthetic grid network",
) -> RoadModel:
    """Build a large jittered grid road graph over the communes, communes as origins.

    Parameters
    ----------
    communes
        The communes (their origin points are snapped to the nearest node).
    n_nodes
        About this many nodes (a square grid).
    speed_kmh
        Mean speed; each edge gets a random speed between 0.5× and 1.5× it.
    seed
        Random seed.
    label
        The model's label.

    Returns
    -------
    RoadModel
    """
    rng = np.random.default_rng(seed)
    xs = communes["x_l93"].to_numpy(float)
    ys = communes["y_l93"].to_numpy(float)
    side = int(np.sqrt(n_nodes))
    x_lo, x_hi = xs.min() - 1_000, xs.max() + 1_000
    y_lo, y_hi = ys.min() - 1_000, ys.max() + 1_000
    step = max((x_hi - x_lo), (y_hi - y_lo)) / (side - 1)
    ids = np.arange(side * side).reshape(side, side)
    gx = x_lo + (ids % side) * step + rng.uniform(-0.2, 0.2, ids.shape) * step
    gy = y_lo + (ids // side) * step + rng.uniform(-0.2, 0.2, ids.shape) * step
    gx, gy = gx.ravel(), gy.ravel()
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    d = np.hypot(gx[u] - gx[v], gy[u] - gy[v])
    w = d / (speed_kmh / 3.6 * rng.uniform(0.5, 1.5, len(u)))
    g = RoadGraph.from_edges(
        np.concatenate([u, v]),
        np.concatenate([v, u]),
        np.concatenate([w, w]),
        gx,
        gy,
        model="synthetic",
        label=label,
    )

    nodes, dist = nearest_nodes(g, xs, ys)
    return RoadModel(
        graph=g,
        origin_ids=communes["insee"].to_numpy(),
        origin_nodes=nodes,
        origin_offsets_s=dist * 1.3 / (30 / 3.6),
        max_snap_m=5 * step,
    )


def synthetic_profiles() -> dict[str, Any]:
    """Three profiles over the synthetic networks, demand a share of ``pop_mun``.

    Returns
    -------
    dict of str to analysis.profiles.Profile
        ``jeunes`` (Mission Locale, Info Jeunes; 20 min), ``demandeurs`` (France Travail;
        20 min) and ``tous`` (every synthetic network; 15 min).
    """
    from .profiles import Profile

    return {k["key"]: Profile(**k, base="pop_mun") for k in _PROFILES}


_PROFILES: list[dict[str, Any]] = [
    {
        "key": "jeunes",
        "label": "Young people",
        "networks": ("Mission Locale", "Info Jeunes"),
        "thresholds_min": {"road": 20.0, "transit": 45.0},
        "share": 0.1,
    },
    {
        "key": "demandeurs",
        "label": "Job seekers",
        "networks": ("France Travail",),
        "thresholds_min": {"road": 20.0, "transit": 45.0},
        "share": 0.07,
    },
    {
        "key": "tous",
        "label": "Everyone",
        "networks": tuple(SYNTHETIC_NETWORKS),
        "thresholds_min": {"road": 15.0, "transit": 45.0},
        "share": 1.0,
    },
]
