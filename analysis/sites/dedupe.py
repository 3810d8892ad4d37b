"""Merging the records that describe the same place.

The same access point often appears in several files (a Mission Locale in the 2019
annuaire, the 2023 structure list and the 2022 agency list) and sometimes twice in one
file (CIO Lyon Nord). Rule, applied within each group of records of the **same network
in the same commune**:

- two records are linked when their addresses match (:func:`~.normalise.addresses_match`),
  or both have coordinates less than 50 m apart, or they come from *different files* and
  their names are compatible once the network's generic words and the commune's name are
  removed (equal, or one of them empty: ``"Point information jeunesse - Gaillard"`` and
  ``"Point Information Jeunesse de Gaillard"``);
- the linked records form clusters; a cluster holding two records of the same file that
  are not linked by address or coordinates would merge two distinct sites of that file,
  so its name links are dropped and the records concerned are flagged
  ``possible_duplicate`` instead;
- a record with neither address nor coordinates (the 2022 agency list, some structure
  seats) never makes a site of its own when a compatible one exists: it joins the cluster
  whose names are the most similar (``difflib`` ratio, then the larger cluster);
  otherwise such records cluster among themselves by name;
- each cluster becomes one site, whose values are those of the preferred record: a real
  access point before a stand-in (``proxy``, ``low_confidence``), then with coordinates,
  then the newest vintage, then with an address, then the file order of
  :data:`~.records.SOURCE_FILES`. Missing address or postcode are filled from the others.
  ``merged_from`` lists every record's id; ``duplicate_merged`` (and
  ``duplicate_in_source`` when one file had it twice) is added to its flags, and the
  data-quality flags of any merged record (:data:`CARRIED_FLAGS`) are kept.
"""

from __future__ import annotations

import difflib
import logging
import math

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .normalise import CommuneIndex, addresses_match, name_remainder, text_key

logger = logging.getLogger(__name__)

#: Records of one network closer than this (metres) are the same place.
SAME_PLACE_M = 50.0

#: Data-quality flags of any merged record that the merged site keeps.
CARRIED_FLAGS = frozenset(
    {
        "coords_far_from_commune", "commune_corrected", "commune_name_mismatch",
        "postcode_other_dep", "commune_from_coordinates",
    }
)  # fmt: skip


def _commune_words(index: CommuneIndex, insee: str, arrondissement: str) -> set[str]:
    i = index.by_code[insee]
    words = set(text_key(index.names[i]).split())
    former = index.communes["former_names"].iat[i] if "former_names" in index.communes else ""
    for name in str(former).split("|"):
        words |= set(text_key(name).split())
    if arrondissement and arrondissement in index.arr:
        words |= set(text_key(index.arr[arrondissement].nom).split())
    return words


def _components(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    if not edges:
        return np.arange(n)
    a = np.array(edges, dtype=np.int64)
    m = coo_matrix((np.ones(len(a)), (a[:, 0], a[:, 1])), shape=(n, n))
    _, labels = connected_components(m, directed=False)
    return labels


def _compatible(a: str, b: str) -> bool:
    """Name remainders designate the same structure: equal, or one of them generic."""
    return a == b or not a or not b


def _cluster_group(g: pd.DataFrame, index: CommuneIndex) -> tuple[np.ndarray, set[int]]:
    """Cluster labels of one (network, commune) group and the rows to flag as possible dups."""
    n = len(g)
    files = g["file"].to_numpy(object)
    addr = g["address"].to_numpy(object)
    names = [text_key(v) for v in g["name"]]
    x = g["x_l93"].to_numpy(float)
    y = g["y_l93"].to_numpy(float)
    has_xy = np.isfinite(x)
    located = has_xy | np.array([bool(str(a).strip()) for a in addr])
    rem = [
        name_remainder(nm, _commune_words(index, ins, arr))
        for nm, ins, arr in zip(g["name"], g["insee"], g["arrondissement"], strict=True)
    ]
    strong: list[tuple[int, int]] = []
    weak: list[tuple[int, int]] = []
    for a in range(n):
        for b in range(a + 1, n):
            near = has_xy[a] and has_xy[b] and math.hypot(x[a] - x[b], y[a] - y[b]) <= SAME_PLACE_M
            if near or addresses_match(addr[a], addr[b]):
                strong.append((a, b))
            elif located[a] and located[b] and files[a] != files[b] and _compatible(rem[a], rem[b]):
                weak.append((a, b))
    strong_lab = _components(n, strong)
    labels = _components(n, strong + weak)
    flagged: set[int] = set()
    for lab in np.unique(labels):
        members = np.flatnonzero(labels == lab)
        bad = any(
            files[a] == files[b] and strong_lab[a] != strong_lab[b]
            for a in members
            for b in members
            if a < b
        )
        if bad:  # name links would merge two distinct sites of one file: keep them apart
            for a, b in weak:
                if labels[a] == lab:
                    flagged.update((a, b))
            labels[members] = strong_lab[members] + n  # back to address/coordinate links
    # records without address or coordinates join the most similar compatible site
    loose = [u for u in range(n) if not located[u]]
    attached: dict[int, int] = {}
    for u in loose:
        cands: dict[int, float] = {}
        for m in range(n):
            if located[m] and _compatible(rem[u], rem[m]):
                score = difflib.SequenceMatcher(None, names[u], names[m]).ratio()
                cands[labels[m]] = max(cands.get(labels[m], 0.0), score)
        if cands:
            size = {lab: int((labels == lab).sum()) for lab in cands}
            attached[u] = max(cands, key=lambda lab: (cands[lab], size[lab], -lab))
    for u, lab in attached.items():
        labels[u] = lab
    rest = [u for u in loose if u not in attached]
    extra = [
        (a, b) for i, a in enumerate(rest) for b in rest[i + 1 :] if _compatible(rem[a], rem[b])
    ]
    if extra:
        sub = _components(n, extra)
        for u in rest:
            labels[u] = sub[u] + 2 * n
    _, labels = np.unique(labels, return_inverse=True)
    return labels, flagged


def merge_duplicates(records: pd.DataFrame, index: CommuneIndex) -> pd.DataFrame:
    """Merge the records of one place into one site (see the module docstring).

    Parameters
    ----------
    records
        Output of :func:`~.records.resolve_records` for every file, concatenated.
    index
        Commune look-ups.

    Returns
    -------
    pandas.DataFrame
        One row per site, with ``merged_from`` (``;``-joined record ids) and
        ``n_records``; the ``flag_list`` column gains ``duplicate_merged``,
        ``duplicate_in_source`` and ``possible_duplicate`` where they apply.
    """
    recs = records.reset_index(drop=True).copy()
    recs["_has_xy"] = np.isfinite(recs["x_l93"].to_numpy(float))
    recs["_has_addr"] = recs["address"].astype(str).str.len() > 0
    recs["_proxy"] = recs["flag_list"].map(lambda f: "proxy" in f or "low_confidence" in f)
    out_rows = []
    for _, g in recs.groupby(["network", "insee"], sort=True):
        labels, flagged = _cluster_group(g, index)
        for lab in np.unique(labels):
            members = g.iloc[np.flatnonzero(labels == lab)]
            order = members.sort_values(
                ["_proxy", "_has_xy", "vintage_year", "_has_addr", "priority", "row"],
                ascending=[True, False, False, False, True, True],
                kind="stable",
            )
            rep = order.iloc[0].to_dict()
            flags = list(rep["flag_list"])
            for member_flags in members["flag_list"]:  # record-level problems stay visible
                flags.extend(f for f in member_flags if f in CARRIED_FLAGS)
            positions = [g.index.get_loc(ix) for ix in members.index]
            if any(p in flagged for p in positions):
                flags.append("possible_duplicate")
            if len(members) > 1:
                flags.append("duplicate_merged")
                if members["file"].duplicated().any():
                    flags.append("duplicate_in_source")
                if not rep["address"]:
                    filled = order.loc[order["_has_addr"], "address"]
                    if len(filled):
                        rep["address"] = filled.iloc[0]
                        flags = [f for f in flags if f != "no_address"]
                if not rep["postcode"]:
                    pcs = order.loc[order["postcode"].astype(str).str.len() > 0, "postcode"]
                    if len(pcs):
                        rep["postcode"] = pcs.iloc[0]
                if not rep["arrondissement"]:
                    arrs = order.loc[order["arrondissement"].astype(str).str.len() > 0]
                    if len(arrs):
                        rep["arrondissement"] = arrs["arrondissement"].iloc[0]
            rep["flag_list"] = flags
            rep["merged_from"] = ";".join(order["site_id"])
            rep["n_records"] = len(members)
            out_rows.append(rep)
    out = pd.DataFrame(out_rows).drop(columns=["_has_xy", "_has_addr", "_proxy"])
    logger.info("%d records merged into %d sites", len(recs), len(out))
    return out.sort_values("site_id", kind="stable").reset_index(drop=True)
