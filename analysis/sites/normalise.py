"""Normalising the text and places of site records.

- :func:`text_key`, :func:`address_key`, :func:`addresses_match`, :func:`name_remainder`:
  accent-, case- and punctuation-insensitive comparisons used to de-duplicate sites;
- :func:`vintage_year`, :func:`infer_kind`: the year and the kind of a record;
- :class:`CommuneIndex`: resolves a commune from an INSEE code (current, former or a Lyon
  arrondissement), a name, a postcode or a point, and places a site inside its commune.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .. import settings
from ..communes import insee_code, load_arrondissements
from ..crs import polygons_l93, to_l93
from ..errors import DataMissingError, ValidationError
from ..territory import load_code_passage

logger = logging.getLogger(__name__)

#: Lyon's INSEE code; its arrondissements 69381-69389 are not communes of the COG.
LYON = "69123"

_ABBREVIATIONS = {
    "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard", "bvd": "boulevard",
    "pl": "place", "r": "rue", "rte": "route", "ch": "chemin", "chem": "chemin",
    "imp": "impasse", "all": "allee", "sq": "square", "crs": "cours", "fg": "faubourg",
    "st": "saint", "ste": "sainte", "pdt": "president", "gal": "general", "gen": "general",
    "dr": "docteur", "mal": "marechal", "qu": "quai", "esp": "esplanade",
}  # fmt: skip
_ADDRESS_STOPWORDS = {
    "de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au", "aux", "en", "sur",
    "bis", "ter", "etage", "er", "e", "eme", "batiment", "bat", "immeuble",
}  # fmt: skip
_GENERIC_NAME_WORDS = {
    "mission", "locale", "locales", "jeunes", "jeune", "jeunesse", "pour", "insertion",
    "professionnelle", "sociale", "ans", "16", "25", "point", "bureau", "centre", "regional",
    "information", "info", "espace", "pij", "bij", "crij", "sij", "cij", "ml", "mlj",
    "association", "ass", "asso", "pole", "emploi", "france", "travail", "agence", "siege",
    "site", "antenne", "permanence", "de", "du", "des", "la", "le", "les", "l", "d", "et",
    "a", "au", "en", "sur", "service", "services", "cio", "orientation", "chambre",
}  # fmt: skip


def text_key(value: object) -> str:
    """Lower-case ASCII words separated by single spaces (accents and punctuation dropped).

    Parameters
    ----------
    value
        Any text (``None``/NaN give ``""``).

    Returns
    -------
    str
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    s = unicodedata.normalize("NFKD", str(value))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = s.replace("œ", "oe").replace("æ", "ae").replace("’", "'")
    return re.sub(r"[^a-z0-9]+", " ", s).strip()


def commune_key(value: object) -> str:
    """Normalised commune name: ``Cedex`` suffixes dropped, ``St``/``Ste`` spelled out.

    Parameters
    ----------
    value
        A commune name as written in a file.

    Returns
    -------
    str
    """
    s = text_key(value)
    s = re.sub(r"\bcedex\b.*$", "", s).strip()
    words = [{"st": "saint", "ste": "sainte"}.get(w, w) for w in s.split()]
    return " ".join(words)


def address_key(value: object) -> str:
    """Normalised address: abbreviations expanded, PO boxes and leading zeros dropped.

    Parameters
    ----------
    value
        An address as written in a file.

    Returns
    -------
    str
    """
    s = text_key(value)
    s = re.sub(r"\b(bp|cs|tsa|cedex)\s*\d*\b", " ", s)
    words = []
    for w in s.split():
        w = _ABBREVIATIONS.get(w, w)
        if w.isdigit():
            w = str(int(w))
        words.append(w)
    return " ".join(words)


def _address_tokens(value: object) -> set[str]:
    return {w for w in address_key(value).split() if w not in _ADDRESS_STOPWORDS}


def addresses_match(a: object, b: object, *, ratio: float = 0.85) -> bool:
    """Whether two addresses designate the same place.

    True when both are non-empty and either the significant words of one are all in the
    other (``"Place Pierre-Marie-Durand - CS 90005"`` vs ``"Place Pierre-Marie Durand"``)
    or their normalised strings are similar (``difflib`` ratio ≥ ``ratio``).

    Parameters
    ----------
    a, b
        Addresses.
    ratio
        Similarity threshold for the string comparison.

    Returns
    -------
    bool
    """
    ta, tb = _address_tokens(a), _address_tokens(b)
    if not ta or not tb:
        return False
    small, large = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    numbers_small = {w for w in small if w.isdigit()}
    numbers_large = {w for w in large if w.isdigit()}
    if numbers_small and numbers_large and not numbers_small & numbers_large:
        return False  # different street numbers
    if len(small) >= 2 and small <= large:
        return True
    return difflib.SequenceMatcher(None, address_key(a), address_key(b)).ratio() >= ratio


def name_remainder(name: object, commune_words: set[str] | None = None) -> str:
    """Return what is left of a site name without generic network words and the commune.

    ``"Point information jeunesse - Gaillard"`` and ``"Point Information Jeunesse de
    Gaillard"`` both give ``""``; ``"Pôle emploi SAINT ETIENNE OUEST"`` gives ``"ouest"``.

    Parameters
    ----------
    name
        Site name.
    commune_words
        Words of the commune's names to drop too.

    Returns
    -------
    str
    """
    drop = _GENERIC_NAME_WORDS | (commune_words or set())
    words = [w for w in text_key(name).split() if w not in drop and not w.isdigit()]
    return " ".join(words)


_YEAR = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)")


def vintage_year(value: object) -> int | None:
    """Return the first year (1980-2049) written in a vintage string, or ``None``.

    Parameters
    ----------
    value
        E.g. ``"Annuaire service-public ~2019-07; repo commit 2019-10-22"`` or
        ``"17/12/2021"``.

    Returns
    -------
    int or None
    """
    m = _YEAR.search("" if value is None else str(value))
    return int(m.group(1)) if m else None


def infer_kind(subtype: object, name: object = "") -> str:
    """Kind of site from its subtype and name: ``site``, ``antenne``, ``permanence``, ``mobile``.

    Parameters
    ----------
    subtype, name
        Free text from the source file.

    Returns
    -------
    str
    """
    s = f"{text_key(subtype)} {text_key(name)}"
    if re.search(r"\b(bus|itinerant|itinerante|mobile|caravane)\b", s):
        return "mobile"
    if re.search(r"\bpermanence", s):
        return "permanence"
    if re.search(r"\bantenne", s):
        return "antenne"
    return "site"


def stable_unit(key: str) -> float:
    """Return a deterministic number in [0, 1) from a string (reproducible placement).

    Parameters
    ----------
    key
        Any string.

    Returns
    -------
    float
    """
    h = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2**64


@dataclass
class Resolved:
    """A commune found for a record.

    Attributes
    ----------
    insee
        COG 2026 code of a commune of the region, or ``""`` if none.
    arrondissement
        Lyon arrondissement code (69381-69389) when known, else ``""``.
    how
        ``code``, ``former_code``, ``arrondissement``, ``name``, ``postcode``, ``point``.
    """

    insee: str
    arrondissement: str = ""
    how: str = ""


_postcode_cache: dict[int, tuple[pd.DataFrame, list[list[str]], dict[str, list[int]]]] = {}


def _postcode_rows(communes: pd.DataFrame) -> tuple[list[list[str]], dict[str, list[int]]]:
    """Postcodes of each row and rows of each postcode, computed once per table."""
    hit = _postcode_cache.get(id(communes))
    if hit is None or hit[0] is not communes:
        pcs = [str(v).split() for v in communes["postcodes"].fillna("")]
        rows: dict[str, list[int]] = {}
        for j, codes in enumerate(pcs):
            for pc in codes:
                rows.setdefault(pc, []).append(j)
        _postcode_cache.clear()
        hit = _postcode_cache[id(communes)] = (communes, pcs, rows)
    return hit[1], hit[2]


def code_or_postcode(
    q: str, i: int, communes: pd.DataFrame, names_given: Sequence[object],
    addresses: Sequence[object],
) -> int:  # fmt: skip
    """Resolve a value that is commune ``i``'s INSEE code and other communes' postcode.

    The row's other fields decide: a commune name of one reading (in ``names_given`` or
    ``addresses``), one's postcode in an address, or the value written as the postcode of
    an address. Ambiguous: refused with both readings. The one rule of the tool, used by
    the directory import, the candidates and the planner commands.

    Parameters
    ----------
    q
        The value (five digits).
    i
        Row position of the commune whose INSEE code it is.
    communes
        The communes (``insee, nom, postcodes, x_l93, y_l93``).
    names_given, addresses
        The row's names (site, town) and its address or postcode fields.

    Returns
    -------
    int
        Row position of the commune meant.

    Raises
    ------
    ValidationError
        If the other fields do not decide (the message gives both readings).
    """
    if "postcodes" not in communes.columns:
        return i
    pcs, rows_of = _postcode_rows(communes)
    others = [j for j in rows_of.get(q, ()) if j != i]
    if not others:
        return i
    names = communes["nom"].astype(str).to_numpy()
    text = f" {' '.join(commune_key(c) for c in [*names_given, *addresses] if c)} "
    said = " ".join(str(c).strip() for c in addresses if c)
    by_code = f" {commune_key(names[i])} " in text or any(pc in said for pc in pcs[i])
    named = [j for j in others if f" {commune_key(names[j])} " in text]
    as_postcode = q in said
    if by_code and not named:
        return i
    if len(named) == 1 and not by_code:
        return named[0]
    if len(others) == 1 and as_postcode and not by_code:
        return others[0]
    xs, ys = communes["x_l93"].to_numpy(float), communes["y_l93"].to_numpy(float)
    km = min(float(np.hypot(xs[j] - xs[i], ys[j] - ys[i])) for j in others) / 1000
    listed = ", ".join(f"{names[j]} ({communes['insee'].iat[j]})" for j in others[:5])
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    raise ValidationError(
        f"{q!r} is both the INSEE code of {names[i]} and the postcode of {listed}{more} "
        f"({km:.0f} km or more apart); say which: give the commune's name, or write "
        f"insee:{q} for the INSEE code"
    )


def _code_passage() -> dict[str, str]:
    """Old commune codes → COG 2026 (empty, logged, when the mirror lacks the table)."""
    try:
        return load_code_passage()
    except DataMissingError as exc:
        logger.info("no commune code passage table: %s", exc)
        return {}


class CommuneIndex:
    """Look-ups on the commune layer used to place and check sites.

    Parameters
    ----------
    communes
        As returned by :func:`analysis.communes.load_communes`.
    extra_postcodes
        ``{postcode: {insee, ...}}`` seen in the access-point files, used to resolve a
        postcode the commune layer does not list (CEDEX and PO-box codes).
    """

    def __init__(
        self,
        communes: gpd.GeoDataFrame,
        *,
        extra_postcodes: dict[str, set[str]] | None = None,
    ) -> None:
        self.communes = communes
        self.by_code = {c: i for i, c in enumerate(communes["insee"])}
        self.names = communes["nom"].to_numpy(object)
        self.deps = communes["dep"].to_numpy(object)
        self.pops = communes["pop_mun"].to_numpy(float)
        self.x = communes["x_l93"].to_numpy(float)
        self.y = communes["y_l93"].to_numpy(float)
        self.lon = communes["lon"].to_numpy(float)
        self.lat = communes["lat"].to_numpy(float)
        self.geoms_l93 = polygons_l93(communes).to_numpy()
        shapely.prepare(self.geoms_l93)
        self.tree = shapely.STRtree(self.geoms_l93)
        self.former_code: dict[str, str] = {}
        self.by_name: dict[str, set[int]] = {}
        self.postcodes: list[set[str]] = []
        self.by_postcode: dict[str, set[int]] = {}
        has_former = "former_codes" in communes.columns
        for i, row in enumerate(communes.itertuples(index=False)):
            self.by_name.setdefault(commune_key(row.nom), set()).add(i)
            if has_former:
                for old in str(row.former_codes).split():
                    self.former_code.setdefault(old, row.insee)
                for old_name in str(row.former_names).split("|"):
                    if old_name:
                        self.by_name.setdefault(commune_key(old_name), set()).add(i)
            pcs = set(str(getattr(row, "postcodes", "") or "").split())
            self.postcodes.append(pcs)
            for pc in pcs:
                self.by_postcode.setdefault(pc, set()).add(i)
        # INSEE's passage table (2003-2025 codes → COG 2026) completes the former codes
        self.former_code.update(
            {o: n for o, n in _code_passage().items() if o not in self.former_code}
        )
        # postcodes unknown to the commune layer (CEDEX, PO boxes) seen with a code elsewhere
        self.extra_by_postcode: dict[str, set[int]] = {}
        for pc, codes in (extra_postcodes or {}).items():
            if pc in self.by_postcode:
                continue
            for code in codes:
                if code in self.by_code:
                    self.extra_by_postcode.setdefault(pc, set()).add(self.by_code[code])
        arr = load_arrondissements()
        self.arr = {r.insee: r for r in arr.itertuples(index=False)}
        self.arr_by_postcode = {
            pc: r.insee for r in arr.itertuples(index=False) for pc in str(r.postcodes).split()
        }
        self.arr_geoms_l93 = dict(
            zip(
                arr["insee"],
                polygons_l93(arr).to_numpy(),
                strict=True,
            )
        )
        self._kd = cKDTree(np.column_stack([self.x, self.y]))
        minx, miny, maxx, maxy = settings.region_bbox_lonlat
        self.bbox = (minx, miny, maxx, maxy)
        self.region_l93 = shapely.union_all(self.geoms_l93)
        shapely.prepare(self.region_l93)

    # ------------------------------------------------------------------ checks
    def postcode_flag(self, i: int, insee: str, postcode: str, *, from_postcode: bool) -> str:
        """Return the data-quality flag of a postcode that disagrees with commune ``i``.

        ``"postcode_other_dep"`` when it belongs to another department, else
        ``"postcode_not_commune"`` when it is not one of the commune's postcodes (not raised
        when the commune was itself read from that postcode); ``""`` when they agree (Lyon's
        arrondissement postcodes count as Lyon's). The one rule for bundled and user files.
        """
        if (
            not postcode
            or postcode in self.postcodes[i]
            or (insee == LYON and postcode in self.arr_by_postcode)
        ):
            return ""
        if postcode[:2] != str(self.deps[i]):
            return "postcode_other_dep"
        return "" if from_postcode else "postcode_not_commune"

    # ------------------------------------------------------------------ codes
    def from_code(self, code: object) -> Resolved | None:
        """Resolve an INSEE code (current, former, or a Lyon arrondissement)."""
        c = insee_code(code)
        if c in self.by_code:
            return Resolved(c, "", "code")
        if c in self.arr:
            return Resolved(str(self.arr[c].commune), c, "arrondissement")
        if c in self.former_code:
            return Resolved(self.former_code[c], "", "former_code")
        return None

    def name_matches(self, i: int, name: object) -> bool:
        """Whether a written commune name fits commune ``i`` (current or former name)."""
        key = commune_key(name)
        if not key:
            return True
        if i in self.by_name.get(key, set()):
            return True
        current = commune_key(self.names[i])
        if self.communes["insee"].iat[i] == LYON and key.startswith("lyon"):
            return True
        # a shortened or lengthened form (Belleville / Belleville-en-Beaujolais,
        # Moûtiers / Moutiers-Tarentaise): one name starts the other
        return f"{current} ".startswith(f"{key} ") or f"{key} ".startswith(f"{current} ")

    def from_name(self, name: object, *, dep: str | None = None) -> list[int]:
        """Communes (row positions) whose current or former name is ``name``."""
        found = sorted(self.by_name.get(commune_key(name), set()))
        if dep:
            found = [i for i in found if self.deps[i] == dep]
        return found

    def from_postcode(self, postcode: str, *, name: object = "") -> Resolved | None:
        """Commune of a postcode: the one named in ``name`` if any, else the most populous.

        Parameters
        ----------
        postcode
            Five digits.
        name
            Text that may contain the commune's name (e.g. the site's name).

        Returns
        -------
        Resolved or None
        """
        cands = sorted(self.by_postcode.get(postcode, set()) or self.extra_by_postcode.get(
            postcode, set()))  # fmt: skip
        if not cands:
            if postcode in self.arr_by_postcode:
                a = self.arr_by_postcode[postcode]
                return Resolved(str(self.arr[a].commune), a, "postcode")
            return None
        text = f" {commune_key(name)} "
        named = [i for i in cands if f" {commune_key(self.names[i])} " in text]
        if named:
            pick = max(named, key=lambda i: (len(commune_key(self.names[i])), self.pops[i]))
        else:
            pick = max(cands, key=lambda i: (self.pops[i], -i))
        code = str(self.communes["insee"].iat[pick])
        arr = self.arr_by_postcode.get(postcode, "") if code == LYON else ""
        return Resolved(code, arr, "postcode")

    def at_point(self, x: float, y: float) -> int | None:
        """Row position of the commune containing a Lambert-93 point, if any."""
        hits = self.tree.query(shapely.Point(x, y), predicate="within")
        return int(hits[0]) if len(hits) else None

    def nearest_commune(self, x: float, y: float) -> str:
        """INSEE code of the commune whose origin point is nearest a Lambert-93 point."""
        _, near = self._kd.query([x, y])
        return str(self.communes["insee"].iat[int(near)])

    def distance_to_commune(self, i: int, x: float, y: float) -> float:
        """Distance (m) from a Lambert-93 point to commune ``i``'s polygon (0 inside)."""
        return float(shapely.distance(self.geoms_l93[i], shapely.Point(x, y)))

    def in_region(self, x: float, y: float) -> bool:
        """Whether a Lambert-93 point lies in the region (within 100 m of a commune)."""
        return bool(shapely.dwithin(self.region_l93, shapely.Point(x, y), 100.0))

    # ------------------------------------------------------------------ placing
    def anchor(self, insee: str, arrondissement: str = "") -> tuple[float, float, shapely.Geometry]:
        """Origin point (x, y in Lambert-93) and polygon to place a commune-level site."""
        if arrondissement and arrondissement in self.arr:
            r = self.arr[arrondissement]
            return float(r.x_l93), float(r.y_l93), self.arr_geoms_l93[arrondissement]
        i = self.by_code[insee]
        return float(self.x[i]), float(self.y[i]), self.geoms_l93[i]

    @staticmethod
    def jitter(
        x: float, y: float, polygon: shapely.Geometry, k: int, *, step_m: float = 200.0
    ) -> tuple[float, float]:
        """Return the ``k``-th point of a golden-angle spiral around (x, y), inside ``polygon``.

        ``k = 0`` is the point itself. The radius is ``step_m × √k``; when the point falls
        outside the polygon the radius is halved (up to 6 times), then the anchor is used.

        Returns
        -------
        tuple of float
            Lambert-93 coordinates.
        """
        if k <= 0:
            return x, y
        angle = k * math.pi * (3 - math.sqrt(5))
        r = step_m * math.sqrt(k)
        for _ in range(7):
            px, py = x + r * math.cos(angle), y + r * math.sin(angle)
            if shapely.contains_xy(polygon, px, py):
                return px, py
            r /= 2
        return x, y


def project(
    lon: pd.Series | np.ndarray, lat: pd.Series | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude to Lambert-93 (a thin alias of :func:`analysis.crs.to_l93`)."""
    return to_l93(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
