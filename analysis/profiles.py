"""Profiles: the publics whose access is measured, read from a TOML file.

A :class:`Profile` says which networks serve a public, how many people of each commune
belong to it (its *demand*) and how long a trip is acceptable per mode. The bundled
profiles live in ``analysis/profiles.toml`` (argued in ``docs/data.md``); a planner can
write their own file with the same layout and load it with :func:`load_profiles`.

Demand per commune (:func:`profile_demand`) is ``share × base`` where ``base`` is

- ``"pop_mun"``: the legal population;
- ``"age_bands"``: ``pop_mun × Σ coefficient × band share`` over the INSEE Filosofi 2021
  age bands of ``../shared/data/population_grid/communes_84_age_shares_filosofi2021.csv``;
- ``"pop_15_64"``: ``pop_mun ×`` the share aged 15-64 (3/7 of 11-17, 18-24, 25-39, 40-54,
  55-64);
- ``"file"``: a column of a CSV keyed by ``insee`` (commune-level figures of your own);
- ``"dares_job_seekers"``: job seekers A, B, C at the end of 2024, the DARES count where
  it exists (Ain, Allier, Ardèche: ``official``), elsewhere a model scaled to the real
  totals (``estimated``; :mod:`analysis.demand`);
- ``"drees_pch_actp"``: PCH + ACTP disability-allowance recipients per department (DREES
  2019) spread within each department by age group (:mod:`analysis.demand`).

:func:`profile_demand_status` says, commune by commune, whether the figure is a count
(``official``) or an estimate.
"""

from __future__ import annotations

import difflib
import io
import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import settings
from .communes import insee_code
from .errors import DataMissingError, EmptyProfileError, UnknownNameError, ValidationError
from .io import decode_text
from .manifest import verify_input
from .sites.networks import NETWORKS, SPRO_NETWORKS, canonical_network

logger = logging.getLogger(__name__)

#: Path of the bundled profiles file.
PROFILES_FILE: Path = Path(__file__).with_name("profiles.toml")

#: Modes every profile of a file must give a threshold for.
REQUIRED_MODES: tuple[str, ...] = ("road", "transit", "walk")

#: Every mode a threshold may be given for (``best`` = faster of road and transit).
KNOWN_MODES: tuple[str, ...] = ("road", "transit", "walk", "best")

#: Demand bases.
DEMAND_BASES: tuple[str, ...] = (
    "pop_mun", "age_bands", "pop_15_64", "file", "dares_job_seekers", "drees_pch_actp",
)  # fmt: skip

#: Bases computed by :mod:`analysis.demand` from the mirror's ``demand/`` files.
MIRROR_DEMAND_BASES: tuple[str, ...] = ("dares_job_seekers", "drees_pch_actp")

#: Demand statuses: a count, an estimate, or counts in some communes and estimates in the
#: others (``mixed``; :func:`profile_demand_status` gives each commune's).
DEMAND_STATUSES: tuple[str, ...] = ("official", "estimated", "mixed")

#: Age-band shares making up the population aged 15-64.
POP_15_64_BANDS: dict[str, float] = {
    "share_11_17_shrunk": 3 / 7,
    "share_18_24_shrunk": 1.0,
    "share_25_39": 1.0,
    "share_40_54": 1.0,
    "share_55_64": 1.0,
}

#: The age-share table, relative to :data:`analysis.settings.shared_data_dir`.
AGE_SHARES_FILE = Path("population_grid") / "communes_84_age_shares_filosofi2021.csv"

_AGE_COLUMNS = (
    "share_0_3", "share_4_5", "share_6_10", "share_11_17", "share_18_24", "share_25_39",
    "share_40_54", "share_55_64", "share_65_79", "share_80p", "share_11_17_shrunk",
    "share_18_24_shrunk",
)  # fmt: skip

_PROFILE_KEYS = {"label", "description", "networks", "thresholds_min", "demand"}
_DEMAND_KEYS = {"base", "share", "bands", "status", "source", "file", "column", "note"}


@dataclass(frozen=True)
class Profile:
    """One public: the networks serving it, its demand per commune, its thresholds.

    Attributes
    ----------
    key
        Short identifier (``young_16_25``).
    label
        Plain-words name.
    networks
        Canonical names of the networks serving the public.
    thresholds_min
        Acceptable travel time per mode, minutes (``road``, ``transit``, ``walk``, ``best``).
    share
        Multiplier applied to the demand base (a rate; 1 for the whole base).
    base
        Demand base: ``pop_mun``, ``age_bands``, ``pop_15_64`` or ``file``.
    bands
        For ``age_bands``: age-share column → coefficient.
    demand_file, demand_column
        For ``file``: a CSV with an ``insee`` column and the count column.
    demand_status
        ``official`` (a count), ``estimated`` (a rate applied to a base) or ``mixed``
        (counts where they exist, estimates elsewhere).
    demand_source
        Where the figures come from.
    description
        Who the public is, and why these networks.
    """

    key: str
    label: str
    networks: tuple[str, ...]
    thresholds_min: dict[str, float] = field(default_factory=dict)
    share: float = 1.0
    base: str = "pop_mun"
    bands: dict[str, float] = field(default_factory=dict)
    demand_file: str | None = None
    demand_column: str | None = None
    demand_status: str = "estimated"
    demand_source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "networks", tuple(self.networks))
        object.__setattr__(self, "thresholds_min", dict(self.thresholds_min))
        object.__setattr__(self, "bands", dict(self.bands))

    @property
    def estimated(self) -> bool:
        """Whether the demand is an estimate, at least in part (not ``official``)."""
        return self.demand_status != "official"

    def threshold(self, mode: str) -> float:
        """Return the threshold for ``mode`` in minutes.

        Parameters
        ----------
        mode
            ``road``, ``transit``, ``walk`` or ``best``.

        Returns
        -------
        float

        Raises
        ------
        UnknownNameError
            If the profile has no threshold for this mode.
        """
        if mode not in self.thresholds_min:
            raise UnknownNameError("mode", mode, self.thresholds_min)
        return float(self.thresholds_min[mode])


def _suggest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) > 0
    )


#: Names Windows reserves for devices (a folder so named cannot be created or opened there).
_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10)]
)
#: The longest profile key (it names folders, with a suffix of up to ~100 characters).
MAX_KEY_LENGTH = 64
_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
KEY_RULE = (
    f"a profile key names output folders: use 1 to {MAX_KEY_LENGTH} ASCII letters, digits, "
    "'-' and '_', starting with a letter or a digit, not a name Windows reserves (CON, PRN, "
    "AUX, NUL, COM1-COM9, LPT1-LPT9) nor 'all' (the command line's every-profile choice)"
)


def key_problem(key: str) -> str | None:
    """Say why ``key`` cannot be a profile key (it names output folders), or ``None``.

    The rule, :data:`KEY_RULE`, is the one of :func:`load_profiles` and of
    :func:`analysis.runs.default_out_dir`: no path separator or ``..``, no space, no
    non-ASCII letter, no Windows device name, at most :data:`MAX_KEY_LENGTH` characters.
    """
    if not key:
        return "the key is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"the key has {len(key)} characters"
    if not _KEY_RE.fullmatch(key):
        bad = sorted({ch for ch in key if not (ch.isascii() and (ch.isalnum() or ch in "-_"))})
        if bad:
            return f"the key holds {', '.join(repr(ch) for ch in bad)}"
        return "the key starts with '-' or '_'"
    if key.upper() in _RESERVED_NAMES:
        return f"{key!r} is a device name on Windows"
    if key == "all":
        return "'all' means every profile on the command line"
    return None


def valid_share(share: object) -> bool:
    """Whether ``share`` is a demand share: a number above 0 and at most 1 (one rule).

    Profiles files are checked with it when read, profiles built in code when their demand
    is computed (:func:`analysis.access.profile_demand`).
    """
    return _positive_number(share) and float(share) <= 1  # type: ignore[arg-type]


def _parse_profile(key: str, raw: Any, *, src: str, folder: Path) -> Profile:
    """Validate one ``[profiles.<key>]`` table and build the :class:`Profile`."""
    where = f"profile {key!r}"
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be a table", source=src)
    unknown = sorted(set(raw) - _PROFILE_KEYS)
    if unknown:
        hint = _suggest(unknown[0], sorted(_PROFILE_KEYS))
        raise ValidationError(
            f"{where}: unknown field(s) {', '.join(unknown)}{hint}; allowed: "
            f"{', '.join(sorted(_PROFILE_KEYS))}",
            source=src,
        )
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValidationError(f"{where}: give a non-empty `label`", source=src)

    nets = raw.get("networks")
    if isinstance(nets, str):
        nets = [nets]
    if not isinstance(nets, list) or not nets:
        raise ValidationError(
            f'{where}: `networks` must be a non-empty list of network names (or ["*"] for '
            f"every SPRO network); known networks: {', '.join(sorted(NETWORKS))}",
            source=src,
        )
    networks: list[str] = []
    for name in nets:
        if name == "*":
            networks.extend(SPRO_NETWORKS)
            continue
        try:
            canon = canonical_network(name)
        except UnknownNameError as exc:
            raise UnknownNameError(
                "network", name, [n for n in NETWORKS if NETWORKS[n].spro], source=src
            ) from exc
        if not NETWORKS[canon].spro:
            raise ValidationError(
                f"{where}: {canon!r} is not an SPRO network (its sites are candidate hosts, "
                "not access points); remove it from `networks`",
                source=src,
            )
        networks.append(canon)
    networks = list(dict.fromkeys(networks))

    thr = raw.get("thresholds_min")
    if not isinstance(thr, Mapping):
        raise ValidationError(
            f"{where}: missing `thresholds_min`, e.g. thresholds_min = "
            "{ road = 30, transit = 45, walk = 20 }",
            source=src,
        )
    for mode in thr:
        if mode not in KNOWN_MODES:
            raise UnknownNameError("mode", mode, KNOWN_MODES, source=src)
    missing = [m for m in REQUIRED_MODES if m not in thr]
    if missing:
        raise ValidationError(
            f"{where}: missing threshold for {', '.join(missing)} in `thresholds_min` "
            f"(minutes for each of {', '.join(REQUIRED_MODES)})",
            source=src,
        )
    for mode, value in thr.items():
        if not _positive_number(value):
            raise ValidationError(
                f"{where}: the {mode} threshold must be a positive number of minutes, "
                f"not {value!r} (field `thresholds_min.{mode}`)",
                source=src,
            )
    thresholds = {m: float(v) for m, v in thr.items()}
    thresholds.setdefault("best", thresholds["road"])

    dem = raw.get("demand", {"base": "pop_mun"})
    if not isinstance(dem, Mapping):
        raise ValidationError(f"{where}: `demand` must be a table", source=src)
    unknown = sorted(set(dem) - _DEMAND_KEYS)
    if unknown:
        hint = _suggest(unknown[0], sorted(_DEMAND_KEYS))
        raise ValidationError(
            f"{where}: unknown demand field(s) {', '.join(unknown)}{hint}", source=src
        )
    base = dem.get("base", "pop_mun")
    if base not in DEMAND_BASES:
        raise UnknownNameError("demand base", base, DEMAND_BASES, source=src)
    share = dem.get("share", 1.0)
    if not valid_share(share):
        raise ValidationError(
            f"{where}: demand `share` must be a number above 0 and at most 1 (the share of "
            f"the base the profile counts: 0 leaves nobody to reach, and every share of the "
            f"results undefined), not {share!r}",
            source=src,
        )
    bands = dem.get("bands", {})
    if base == "age_bands":
        if not isinstance(bands, Mapping) or not bands:
            raise ValidationError(
                f'{where}: base "age_bands" needs `bands = {{ share_18_24_shrunk = 0.5, ... }}`',
                source=src,
            )
        for col, coef in bands.items():
            if col not in _AGE_COLUMNS:
                raise UnknownNameError("age band", col, _AGE_COLUMNS, source=src)
            if not ((_positive_number(coef) or coef == 0) and float(coef) <= 1):
                raise ValidationError(
                    f"{where}: band coefficient {col} (field `demand.bands.{col}`) must be a "
                    f"number from 0 to 1 (the share of the band the profile counts), not "
                    f"{coef!r}",
                    source=src,
                )
        if not any(_positive_number(c) for c in bands.values()):
            raise ValidationError(
                f"{where}: every coefficient of `demand.bands` is 0: the profile would count "
                "nobody; give at least one band a coefficient above 0",
                source=src,
            )
    demand_file = None
    demand_column = None
    if base == "file":
        if not dem.get("file") or not dem.get("column"):
            raise ValidationError(
                f'{where}: base "file" needs `file` (a CSV with an `insee` column) and '
                "`column` (the count column)",
                source=src,
            )
        fpath = Path(str(dem["file"]))
        demand_file = str(fpath if fpath.is_absolute() else (folder / fpath))
        demand_column = str(dem["column"])
    status = dem.get("status", "estimated")
    if status not in DEMAND_STATUSES:
        raise UnknownNameError("demand status", status, DEMAND_STATUSES, source=src)
    return Profile(
        key=key,
        label=label.strip(),
        networks=tuple(networks),
        thresholds_min=thresholds,
        share=float(share),
        base=base,
        bands={str(k): float(v) for k, v in dict(bands).items()},
        demand_file=demand_file,
        demand_column=demand_column,
        demand_status=status,
        demand_source=str(dem.get("source", "")),
        description=str(raw.get("description", "")),
    )


def load_profiles(path: str | os.PathLike[str] | None = None) -> dict[str, Profile]:
    """Read and validate a profiles file.

    Parameters
    ----------
    path
        A TOML file laid out like ``analysis/profiles.toml``; default that file.

    Returns
    -------
    dict of str to Profile
        In file order.

    Raises
    ------
    DataMissingError
        If the file does not exist or is not a file.
    ValidationError
        If the file is not valid TOML, has no profile, or a profile lacks a label,
        networks, a threshold per mode (road, transit, walk) or a valid demand.
    UnknownNameError
        For an unknown network, mode, demand base or age band (lists the valid ones).
    """
    p = PROFILES_FILE if path is None else Path(path)
    src = str(p)
    if not p.exists():
        raise DataMissingError(f"profiles file not found: {p}")
    if not p.is_file():
        raise DataMissingError(
            f"profiles file not found: {p} is a folder, not a file; give the path of a TOML "
            "file laid out like analysis/profiles.toml"
        )
    try:
        text = decode_text(p.read_bytes(), source=src, legacy=False)
    except ValidationError as exc:
        raise ValidationError(f"not a valid TOML file: {exc.detail}", source=src) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"not a valid TOML file ({exc})", source=src) from exc
    table = data.get("profiles")
    if not isinstance(table, Mapping) or not table:
        raise ValidationError(
            "no profile found: define at least one [profiles.<key>] table", source=src
        )
    for k in table:
        why = key_problem(str(k))
        if why:
            raise ValidationError(f"profile key {str(k)!r}: {why}; {KEY_RULE}", source=src)
    profiles = {
        str(k): _parse_profile(str(k), v, src=src, folder=p.parent) for k, v in table.items()
    }
    logger.debug("loaded %d profiles from %s", len(profiles), p)
    return profiles


def get_profile(key: str, profiles: Mapping[str, Profile] | None = None) -> Profile:
    """Return one profile by key.

    Parameters
    ----------
    key
        Profile key.
    profiles
        Profiles to pick from (default: the bundled file).

    Returns
    -------
    Profile

    Raises
    ------
    UnknownNameError
        If the key is unknown (lists the valid keys).
    """
    profiles = load_profiles() if profiles is None else profiles
    if key not in profiles:
        raise UnknownNameError("profile", key, profiles)
    return profiles[key]


_age_cache: dict[tuple[str, int], pd.DataFrame] = {}


def load_age_shares(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read the Filosofi 2021 age-band shares per commune.

    Parameters
    ----------
    path
        Default ``<shared_data_dir>/population_grid/communes_84_age_shares_filosofi2021.csv``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``insee``, one column per age-band share.

    Raises
    ------
    DataMissingError
        If the file is missing.
    ValidationError
        If columns are missing or codes are duplicated, or the file differs from the
        SHA-256 of ``data/raw/MANIFEST.toml`` (:func:`analysis.manifest.verify_input`).
    """
    p = Path(settings.shared_data_dir) / AGE_SHARES_FILE if path is None else Path(path)
    if not p.exists():
        raise DataMissingError(
            f"age-band shares not found at {p}; age-based profiles need the local mirror "
            "../shared/data/population_grid (or set analysis.settings.shared_data_dir)"
        )
    verify_input(p)
    key = (str(p), p.stat().st_mtime_ns)
    if key not in _age_cache:
        df = pd.read_csv(p, dtype={"insee": str})
        missing = [c for c in ("insee", *_AGE_COLUMNS) if c not in df.columns]
        if missing:
            raise ValidationError(f"missing column(s) {', '.join(missing)}", source=str(p))
        if df["insee"].duplicated().any():
            raise ValidationError("duplicate insee codes", source=str(p))
        _age_cache.clear()
        _age_cache[key] = df.set_index("insee")[list(_AGE_COLUMNS)].astype(float)
    return _age_cache[key]


def _band_factor(bands: Mapping[str, float], communes: pd.DataFrame) -> np.ndarray:
    """Σ coefficient × band share per commune, aligned with ``communes``."""
    shares = load_age_shares()
    codes = communes["insee"].astype(str)
    missing = ~codes.isin(shares.index)
    if missing.any():
        raise ValidationError(
            f"no age shares for {int(missing.sum())} commune(s) (e.g. "
            f"{codes[missing].iloc[0]}); use a demand base that does not need them",
            source=str(AGE_SHARES_FILE),
        )
    table = shares.reindex(codes.to_numpy())
    factor = np.zeros(len(communes))
    for col, coef in bands.items():
        factor += float(coef) * table[col].to_numpy(float)
    return factor


def _read_demand_csv(p: Path) -> pd.DataFrame:
    """Read a demand CSV, decoded by the one rule of user text files (`decode_text`)."""
    text = decode_text(p.read_bytes(), source=str(p))
    try:
        return pd.read_csv(io.StringIO(text), dtype={"insee": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValidationError(
            f"cannot read the demand file as CSV ({exc}); save it as CSV (UTF-8) with an "
            "`insee` column",
            source=str(p),
        ) from exc


def _file_demand(profile: Profile, communes: pd.DataFrame) -> np.ndarray:
    """Commune counts from the profile's own CSV."""
    p = Path(str(profile.demand_file))
    if not p.exists():
        raise DataMissingError(f"demand file of profile {profile.key!r} not found: {p}")
    verify_input(p)
    df = _read_demand_csv(p)
    col = str(profile.demand_column)
    for needed in ("insee", col):
        if needed not in df.columns:
            raise ValidationError(
                f"missing column {needed!r}{_suggest(needed, list(df.columns))}", source=str(p)
            )
    # a code that lost its leading zero in a spreadsheet (1001) is 01001: the importer's rule
    codes = df["insee"].map(insee_code)
    if codes.duplicated().any():
        rows = (np.flatnonzero(codes.duplicated(keep=False).to_numpy()) + 1).tolist()
        raise ValidationError("duplicate insee codes", source=str(p), rows=rows)
    values = pd.to_numeric(df[col], errors="coerce")
    bad = ~np.isfinite(values.to_numpy(float)) | (values < 0).to_numpy()
    if bad.any():
        rows = (np.flatnonzero(bad) + 1).tolist()
        raise ValidationError(
            f"{col} must be a non-negative number (not inf)", source=str(p), rows=rows
        )
    if len(values) and not (values > 0).any():
        raise ValidationError(
            f"every figure of column {col!r} is 0: profile {profile.key!r} would count nobody "
            "(and every share of its results would be undefined); give the real counts",
            source=str(p),
        )
    series = pd.Series(values.to_numpy(float), index=codes.to_numpy())
    wanted = communes["insee"].astype(str)
    out = series.reindex(wanted.to_numpy())
    missing = out.isna().to_numpy()
    if missing.any():
        names = communes["nom"].astype(str) if "nom" in communes.columns else wanted
        shown = ", ".join(
            f"{c} {n}" if n != c else c
            for c, n in zip(wanted[missing][:5], names[missing][:5], strict=True)
        )
        more = f" and {int(missing.sum()) - 5:,} more" if missing.sum() > 5 else ""
        deps = sorted(set(wanted[missing].str[:2]))
        raise ValidationError(
            f"the demand figures do not cover the communes: {int(missing.sum()):,} of the "
            f"{len(wanted):,} communes have no row ({shown}{more}; departments "
            f"{', '.join(deps)}); give a figure for every commune (0 where there is nobody)",
            source=str(p),
        )
    outside = int((~series.index.isin(wanted)).sum())
    if outside:
        logger.info("%s: %d rows of communes outside the table ignored", p, outside)
    return out.to_numpy(float)


def profile_demand(profile: Profile, communes: pd.DataFrame) -> np.ndarray:
    """Return the profile's demand (people) per commune.

    Parameters
    ----------
    profile
        The public.
    communes
        Communes (see :func:`analysis.communes.load_communes`): ``insee`` and ``pop_mun``.

    Returns
    -------
    numpy.ndarray
        Float array aligned with the rows of ``communes``.

    Raises
    ------
    ValidationError
        If a needed column is missing or the demand figures do not cover the communes.
    DataMissingError
        If the age-share table or the profile's demand file is missing.
    """
    for col in ("insee", "pop_mun"):
        if col not in communes.columns:
            raise ValidationError(f"the communes table lacks the column {col!r}")
    pop = communes["pop_mun"].to_numpy(float)
    base = profile.base
    if base == "pop_mun":
        out = pop.copy()
    elif base == "age_bands":
        out = pop * _band_factor(profile.bands, communes)
    elif base == "pop_15_64":
        out = pop * _band_factor(POP_15_64_BANDS, communes)
    elif base == "file":
        out = _file_demand(profile, communes)
    elif base in MIRROR_DEMAND_BASES:
        from .demand import commune_demand  # demand reads the age shares from here: a cycle

        out = commune_demand(base, communes["insee"])[0]
    else:
        raise UnknownNameError("demand base", base, DEMAND_BASES)
    return np.asarray(out * float(profile.share), dtype=float)


def profile_demand_status(profile: Profile, communes: pd.DataFrame) -> np.ndarray:
    """Return, per commune, whether the profile's demand there is ``official`` or ``estimated``.

    Parameters
    ----------
    profile
        The public.
    communes
        Communes (``insee``).

    Returns
    -------
    numpy.ndarray
        One string per row of ``communes``: the commune's own status for a ``mixed`` base
        (``dares_job_seekers``: ``official`` where DARES counts exist), the profile's status
        otherwise.
    """
    if profile.base in MIRROR_DEMAND_BASES:
        from .demand import commune_demand

        return commune_demand(profile.base, communes["insee"])[1].astype(object)
    status = "estimated" if profile.demand_status == "mixed" else profile.demand_status
    return np.full(len(communes), status, dtype=object)


def eligible_sites(
    profile: Profile, sites: pd.DataFrame, *, allow_empty: bool = False
) -> pd.DataFrame:
    """Return the sites of the networks serving the profile.

    Parameters
    ----------
    profile
        The public.
    sites
        A site directory (``network`` column with canonical names).
    allow_empty
        Return an empty table instead of raising when no site serves the profile (e.g.
        to site the first permanences of a network).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        A copy of the matching rows (original index kept).

    Raises
    ------
    EmptyProfileError
        If no site of the directory serves the profile and ``allow_empty`` is false.
    ValidationError
        If ``sites`` has no ``network`` column.
    """
    if "network" not in sites.columns:
        raise ValidationError("the site table has no `network` column")
    mask = sites["network"].isin(profile.networks).to_numpy()
    out = sites.loc[mask].copy()
    if out.empty and not allow_empty:
        present = sorted(set(sites["network"].dropna().astype(str)))
        raise EmptyProfileError(
            f"profile {profile.key!r} has no eligible site: none of its networks "
            f"({', '.join(profile.networks)}) has a site in the directory (networks present: "
            f"{', '.join(present) or 'none'}); load a directory that includes them"
        )
    return out
