"""Completing networks whose open data fall short of their known size with ``modelled`` sites.

Modelled sites are never presented as real: ``provenance="modelled"``, flag ``modelled``,
a name saying so, and no address. They stand in until the network's own directory export
is loaded (:func:`analysis.sites.directory.merge_user_directory` replaces them). Rules
(deterministic; documented in ``docs/data.md``):

``ML-1`` Mission Locale permanences
    The region has 61 Missions Locales with about 600 sites and permanences
    (:data:`ML_TARGET_TOTAL`). Passes with a decreasing radius (:data:`ML_RADII_KM`):
    communes of at least :data:`ML_MIN_POP` inhabitants, most populous first (INSEE code
    breaks ties), get a permanence when no Mission Locale site, real or modelled, lies
    within the radius of their origin point, until the total is reached.

``CAP-1`` Cap Emploi
    One organisation per department with antennes: a site at the prefecture of each
    department without a real Cap Emploi site, and an antenne at each sub-prefecture with
    no Cap Emploi site within :data:`CAP_ANTENNE_RADIUS_KM`.

``AA-1`` Avenir Actifs (superseded by ``AA-2``)
    No open data: a site at the prefecture of each department without a real one.

``AA-2`` Avenir Actifs, sized to 130 sites
    A 2026 public document gives "130 lieux d'accueil dans la région"
    (:data:`AA_TARGET_TOTAL`). The sites still missing (130 minus the real ones) are shared
    among the departments in proportion to their population (largest remainder, INSEE
    department code breaks ties; at least one site in every department without a real
    one). In each department: the prefecture first (a ``site``, never skipped), then the
    sub-prefectures, then the other communes, most populous first (INSEE code breaks ties),
    as ``antenne``, skipping any commune with an Avenir Actifs site (real or modelled)
    within :data:`AA_RADIUS_KM`; if the department's
    share is not reached, the pass is repeated without the distance test.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from .networks import NETWORKS
from .normalise import CommuneIndex

logger = logging.getLogger(__name__)

#: Mission Locale sites (real + modelled) the completion aims at.
ML_TARGET_TOTAL = 600

#: Smallest commune (inhabitants) given a modelled Mission Locale permanence.
ML_MIN_POP = 300

#: Radii (km) of the successive passes of rule ML-1.
ML_RADII_KM: tuple[float, ...] = (12.0, 10.0, 8.0, 7.0, 6.0, 5.0)

#: A sub-prefecture gets a modelled Cap Emploi antenne when none lies within this (km).
CAP_ANTENNE_RADIUS_KM = 15.0

#: Avenir Actifs sites (real + modelled) in the region: "130 lieux d'accueil dans la
#: région" (a 2026 public document, see ``docs/data.md``).
AA_TARGET_TOTAL = 130

#: A commune with an Avenir Actifs site within this distance (km) gets none in rule AA-2.
AA_RADIUS_KM = 10.0

#: Label written in the ``vintage`` column of modelled sites.
MODEL_VINTAGE = "modelled (rules v1, 2026)"

#: Prefecture (INSEE code) of each department of the region (COG 2026, from the npm
#: package @etalab/decoupage-administratif 6.0.0, departements.json ``chefLieu``).
PREFECTURES: dict[str, str] = {
    "01": "01053", "03": "03190", "07": "07186", "15": "15014", "26": "26362", "38": "38185",
    "42": "42218", "43": "43157", "63": "63113", "69": "69123", "73": "73065", "74": "74010",
}  # fmt: skip

#: Sub-prefectures (chefs-lieux of the other arrondissements, arrondissements.json).
SUB_PREFECTURES: dict[str, tuple[str, ...]] = {
    "01": ("01034", "01173", "01269"), "03": ("03185", "03310"), "07": ("07132", "07324"),
    "15": ("15120", "15187"), "26": ("26113", "26220"), "38": ("38509", "38544"),
    "42": ("42147", "42187"), "43": ("43040", "43268"),
    "63": ("63003", "63178", "63300", "63430"), "69": ("69264",), "73": ("73011", "73248"),
    "74": ("74042", "74243", "74281"),
}  # fmt: skip


def _site_xy(sites: pd.DataFrame, index: CommuneIndex) -> np.ndarray:
    """Lambert-93 positions of sites: coordinates, else the commune's origin point."""
    xy = np.empty((len(sites), 2))
    r: Any  # a named tuple of the sites' columns
    for k, r in enumerate(sites.itertuples(index=False)):
        if np.isfinite(r.x_l93):
            xy[k] = (r.x_l93, r.y_l93)
        else:
            ax, ay, _ = index.anchor(r.insee, getattr(r, "arrondissement", "") or "")
            xy[k] = (ax, ay)
    return xy


def _row(index: CommuneIndex, insee: str, network: str, kind: str, rule: str) -> dict:
    i = index.by_code[insee]
    commune = str(index.names[i])
    slug = {"Mission Locale": "ml", "Cap Emploi": "cap", "Avenir Actifs": "aa"}.get(network, "x")
    return {
        "file": "",
        "priority": 99,
        "row": 0,
        "source_id": f"{slug}-{insee}",
        "site_id": f"modelled:{slug}:{insee}",
        "name": f"{network} — {kind} (modelled) — {commune}",
        "network": network,
        "circle": NETWORKS[network].circle,
        "subtype": f"modelled {kind}",
        "kind": kind,
        "insee": insee,
        "arrondissement": "",
        "commune_name_src": commune,
        "commune_name": commune,
        "dep": str(index.deps[i]),
        "address": "",
        "postcode": "",
        "x_l93": np.nan,
        "y_l93": np.nan,
        "position": "commune",
        "provenance": "modelled",
        "vintage": MODEL_VINTAGE,
        "vintage_year": 2026,
        "source": f"rule {rule} (docs/data.md, analysis/sites/modelled.py)",
        "flag_list": ["modelled"],
        "merged_from": "",
        "n_records": 0,
    }


def model_missions_locales(
    real: pd.DataFrame,
    index: CommuneIndex,
    *,
    target_total: int = ML_TARGET_TOTAL,
    min_pop: int = ML_MIN_POP,
    radii_km: tuple[float, ...] = ML_RADII_KM,
) -> pd.DataFrame:
    """Rule ML-1: modelled Mission Locale permanences.

    Parameters
    ----------
    real
        The real sites (all networks; the Mission Locale ones are used).
    index
        Commune look-ups.
    target_total
        Real + modelled Mission Locale sites to reach.
    min_pop
        Smallest commune given a permanence.
    radii_km
        Radii of the successive passes.

    Returns
    -------
    pandas.DataFrame
        The modelled rows (possibly empty).
    """
    ml = real[real["network"] == "Mission Locale"]
    need = max(target_total - len(ml), 0)
    pts = np.empty((len(ml) + need, 2))
    pts[: len(ml)] = _site_xy(ml, index)
    n_pts = len(ml)
    c = index.communes
    order = c.loc[c["pop_mun"] >= min_pop].sort_values(
        ["pop_mun", "insee"], ascending=[False, True], kind="stable"
    )
    codes = order["insee"].to_numpy(object)
    xs = order["x_l93"].to_numpy(float)
    ys = order["y_l93"].to_numpy(float)
    chosen: list[str] = []
    taken = np.zeros(len(order), dtype=bool)
    for radius in radii_km:
        r2 = (radius * 1000.0) ** 2
        for k in range(len(order)):
            if len(chosen) >= need:
                break
            if taken[k]:
                continue
            d2 = (pts[:n_pts, 0] - xs[k]) ** 2 + (pts[:n_pts, 1] - ys[k]) ** 2
            if n_pts and d2.min() <= r2:
                continue
            chosen.append(str(codes[k]))
            taken[k] = True
            pts[n_pts] = (xs[k], ys[k])
            n_pts += 1
    rows = [_row(index, code, "Mission Locale", "permanence", "ML-1") for code in chosen]
    logger.info("rule ML-1: %d modelled Mission Locale permanences", len(rows))
    return pd.DataFrame(rows)


def model_cap_emploi(
    real: pd.DataFrame, index: CommuneIndex, *, antenne_radius_km: float = CAP_ANTENNE_RADIUS_KM
) -> pd.DataFrame:
    """Rule CAP-1: Cap Emploi sites at prefectures and antennes at sub-prefectures.

    Parameters
    ----------
    real
        The real sites.
    index
        Commune look-ups.
    antenne_radius_km
        A sub-prefecture with a Cap Emploi site within this distance gets no antenne.

    Returns
    -------
    pandas.DataFrame
    """
    cap = real[real["network"] == "Cap Emploi"]
    have_dep = set(cap["dep"])
    points = [tuple(p) for p in _site_xy(cap, index)]
    rows = []
    for dep, pref in PREFECTURES.items():
        if dep not in have_dep:
            rows.append(_row(index, pref, "Cap Emploi", "site", "CAP-1"))
            i = index.by_code[pref]
            points.append((index.x[i], index.y[i]))
    for dep in PREFECTURES:
        for code in SUB_PREFECTURES[dep]:
            i = index.by_code[code]
            pts = np.asarray(points)
            if np.min(np.hypot(pts[:, 0] - index.x[i], pts[:, 1] - index.y[i])) <= (
                antenne_radius_km * 1000.0
            ):
                continue
            rows.append(_row(index, code, "Cap Emploi", "antenne", "CAP-1"))
            points.append((index.x[i], index.y[i]))
    logger.info("rule CAP-1: %d modelled Cap Emploi sites", len(rows))
    return pd.DataFrame(rows)


def _largest_remainder(weights: dict[str, float], total: int, floor: dict[str, int]) -> dict:
    """Share ``total`` in proportion to ``weights`` (largest remainder), with minima."""
    out = dict(floor)
    rest = total - sum(out.values())
    if rest <= 0:
        return out
    wsum = sum(weights.values())
    quota = {k: rest * w / wsum for k, w in weights.items()}
    for k, q in quota.items():
        out[k] = out.get(k, 0) + int(np.floor(q))
    left = total - sum(out.values())
    order = sorted(quota, key=lambda k: (-(quota[k] - np.floor(quota[k])), k))
    for k in order[:left]:
        out[k] += 1
    return out


def model_avenir_actifs(
    real: pd.DataFrame,
    index: CommuneIndex,
    *,
    target_total: int = AA_TARGET_TOTAL,
    radius_km: float = AA_RADIUS_KM,
) -> pd.DataFrame:
    """Rule AA-2: modelled Avenir Actifs sites up to the regional figure of 130.

    Parameters
    ----------
    real
        The real sites.
    index
        Commune look-ups.
    target_total
        Real + modelled Avenir Actifs sites to reach.
    radius_km
        Smallest distance between two Avenir Actifs sites in the first pass.

    Returns
    -------
    pandas.DataFrame
    """
    aa = real[real["network"] == "Avenir Actifs"]
    need = max(target_total - len(aa), 0)
    if need == 0:
        return pd.DataFrame()
    c = index.communes
    pop = c.groupby("dep")["pop_mun"].sum()
    have_dep = set(aa["dep"])
    floor = {dep: (0 if dep in have_dep else 1) for dep in PREFECTURES}
    share = _largest_remainder({dep: float(pop.get(dep, 0.0)) for dep in PREFECTURES}, need, floor)
    points = [tuple(p) for p in _site_xy(aa, index)]
    r2 = (radius_km * 1000.0) ** 2
    rows = []
    for dep in sorted(PREFECTURES):
        first = [PREFECTURES[dep], *SUB_PREFECTURES[dep]]
        others = c.loc[(c["dep"] == dep) & ~c["insee"].isin(first)].sort_values(
            ["pop_mun", "insee"], ascending=[False, True], kind="stable"
        )
        candidates = first + [str(v) for v in others["insee"]]
        chosen: list[str] = []
        for spaced in (True, False):
            for code in candidates:
                if len(chosen) >= share[dep]:
                    break
                if code in chosen:
                    continue
                i = index.by_code[code]
                if spaced and points and code != PREFECTURES[dep]:
                    pts = np.asarray(points)
                    d2 = (pts[:, 0] - index.x[i]) ** 2 + (pts[:, 1] - index.y[i]) ** 2
                    if d2.min() <= r2:
                        continue
                chosen.append(code)
                points.append((index.x[i], index.y[i]))
        kinds = {PREFECTURES[dep]: "site"}
        rows += [
            _row(index, code, "Avenir Actifs", kinds.get(code, "antenne"), "AA-2")
            for code in chosen
        ]
    logger.info("rule AA-2: %d modelled Avenir Actifs sites", len(rows))
    return pd.DataFrame(rows)


def complete_modelled(real: pd.DataFrame, index: CommuneIndex) -> pd.DataFrame:
    """Return the modelled rows (rules ML-1, CAP-1, AA-2) for a directory of real sites.

    Parameters
    ----------
    real
        Real sites after de-duplication.
    index
        Commune look-ups.

    Returns
    -------
    pandas.DataFrame
        The modelled rows only.
    """
    parts = [
        model_missions_locales(real, index),
        model_cap_emploi(real, index),
        model_avenir_actifs(real, index),
    ]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
