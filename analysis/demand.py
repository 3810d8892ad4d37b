"""Real demand where it exists: job seekers (DARES) and people with disabilities (DREES).

Two demand bases of :mod:`analysis.profiles` rest on this module:

``dares_job_seekers``
    Job seekers registered in categories A, B, C at the end of 2024. In Ain, Allier and
    Ardèche the DARES count of each commune is used as it is (status ``official``; 1,043
    communes, counts rounded to 5). Elsewhere a rate per inhabitant by attraction-area
    category (AAV2020) × INSEE density level (7 levels), fitted on those 1,043 communes
    (:func:`fit_rate_model`; sparse cells shrunk toward the product of their margins), is
    applied to the legal population and scaled to the real totals that exist
    (:func:`load_job_seeker_totals`): a department's own 2024-T4 total where the facts file
    has one (only 01, 03, 07, whose communes are official anyway), and for the nine other
    departments together the regional total (610,740, DREETS) less the three departments.
    No other department has a 2024 total: their split is the model's (status
    ``estimated``). :func:`holdout_report` measures the error on held-out communes.
``drees_pch_actp``
    Recipients of the disability allowances PCH and ACTP per department (DREES, latest
    year: 2019 for all twelve), spread within each department by age group: recipients
    under 20, 20-59 and 60+ in proportion to each commune's population of that age (Filosofi
    2021 age bands on the legal population); the department's own age split where DREES
    publishes it, the pooled split of the departments that publish it otherwise
    (:func:`disability_estimate`, status ``estimated``).

Every file is read from :data:`analysis.settings.shared_data_dir` and verified with
:func:`analysis.manifest.verify_input`; the commune classes come from
:func:`analysis.territory.load_commune_classes`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import settings
from .communes import load_communes
from .errors import ValidationError
from .manifest import mirror_file, read_mirror_csv
from .profiles import AGE_SHARES_FILE, load_age_shares
from .territory import load_commune_classes

logger = logging.getLogger(__name__)

DEMAND_SUBDIR = "demand"
DARES_FILE = "defm_dares_2024T4_ABC_communes_dep01_03_07.csv"
FACTS_FILE = "demandeurs_emploi_dep_aura_facts.csv"
PCH_FILE = "pch_actp_allocataires_dep_aura_drees_2017_2019.csv"

#: Period and category of the job-seeker figures used.
JOB_SEEKER_PERIOD = "2024-T4"
JOB_SEEKER_CATEGORY = "ABC"
#: Code of the region's row in the facts files.
REGION_CODE = "84"
#: The departments of Auvergne-Rhône-Alpes.
DEPARTMENTS: tuple[str, ...] = (
    "01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74",
)  # fmt: skip

#: Pseudo-populations tried when shrinking a cell's rate toward its prior (inhabitants).
PRIOR_POP_GRID: tuple[float, ...] = (
    300.0,
    1_000.0,
    3_000.0,
    10_000.0,
    30_000.0,
    100_000.0,
    300_000.0,
    1_000_000.0,
)
#: Folds of the by-commune cross-validation (and of the choice of the pseudo-population).
N_FOLDS = 10
#: Seed of the fold assignment (deterministic).
FOLD_SEED = 20241231

#: Age groups of the DREES split and the Filosofi bands making them up (share weights).
PCH_AGE_GROUPS: dict[str, dict[str, float]] = {
    "under_20": {
        "share_0_3": 1.0, "share_4_5": 1.0, "share_6_10": 1.0, "share_11_17_shrunk": 1.0,
        "share_18_24_shrunk": 2 / 7,
    },
    "20_59": {
        "share_18_24_shrunk": 5 / 7, "share_25_39": 1.0, "share_40_54": 1.0,
        "share_55_64": 0.5,
    },
    "60_plus": {"share_55_64": 0.5, "share_65_79": 1.0, "share_80p": 1.0},
}  # fmt: skip
_PCH_GROUP_COLUMNS = {
    "under_20": "pch_moins20",
    "20_59": "pch_actp_20_59",
    "60_plus": "pch_actp_60plus",
}


# --------------------------------------------------------------------------- files
def _root(shared_dir: str | Path | None) -> Path:
    return Path(settings.shared_data_dir if shared_dir is None else shared_dir)


def _stamp(root: Path, *names: str) -> tuple[tuple[str, int, int], ...]:
    """Verify the files (on every call: a stat once digested) and key the caches on them."""
    out = []
    for name in names:
        p = _demand_file(name, root)
        st = p.stat()
        out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _demand_file(name: str, shared_dir: Path) -> Path:
    return mirror_file(
        DEMAND_SUBDIR, name, shared_dir=shared_dir, kind="demand", origin="DARES/DREES",
        docs_section="Demand",
    )  # fmt: skip


def _counts(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1).tolist()
        raise ValidationError(
            f"{column} must be a non-negative number; restore the file from the mirror",
            source=path,
            rows=rows,
        )
    return values.to_numpy(float)


@lru_cache(maxsize=4)
def _dares_cached(shared_dir: Path, _stamp: tuple) -> pd.DataFrame:
    path = _demand_file(DARES_FILE, shared_dir)
    df = read_mirror_csv(path, ["insee", "dep", "nombre_de_demandeurs_d_emploi"])
    codes = df["insee"].str.strip().str.zfill(5)
    if codes.duplicated().any():
        rows = (np.flatnonzero(codes.duplicated(keep=False).to_numpy()) + 1).tolist()
        raise ValidationError("duplicate insee codes", source=path, rows=rows)
    out = pd.DataFrame(
        {
            "dep": df["dep"].str.strip().str.zfill(2).to_numpy(),
            "job_seekers": _counts(df, "nombre_de_demandeurs_d_emploi", path),
        },
        index=pd.Index(codes.to_numpy(), name="insee"),
    )
    return out


def load_dares_communes(*, shared_dir: str | Path | None = None) -> pd.DataFrame:
    """Return the DARES job seekers (A, B, C, end of 2024) of the communes that have them.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    pandas.DataFrame
        Index ``insee``; columns ``dep`` and ``job_seekers`` (counts rounded to 5 by DARES).
        Ain, Allier and Ardèche: 1,043 communes.

    Raises
    ------
    DataMissingError
        If the file is not in the mirror.
    ValidationError
        If its digest differs from the manifest's, a column is missing, a code is
        duplicated or a count is not a non-negative number.
    """
    root = _root(shared_dir)
    return _dares_cached(root, _stamp(root, DARES_FILE)).copy()


@lru_cache(maxsize=4)
def _totals_cached(shared_dir: Path, _stamp: tuple) -> dict[str, float]:
    path = _demand_file(FACTS_FILE, shared_dir)
    df = read_mirror_csv(path, ["dep", "periode", "categorie", "nombre"])
    rows = df[(df["periode"] == JOB_SEEKER_PERIOD) & (df["categorie"] == JOB_SEEKER_CATEGORY)]
    deps = rows["dep"].str.strip().str.zfill(2)
    if deps.duplicated().any():
        raise ValidationError(
            f"two {JOB_SEEKER_PERIOD} {JOB_SEEKER_CATEGORY} totals for one department",
            source=path,
        )
    values = _counts(rows, "nombre", path)
    return dict(zip(deps, values.tolist(), strict=True))


def load_job_seeker_totals(*, shared_dir: str | Path | None = None) -> dict[str, float]:
    """Return the real job-seeker totals (A, B, C, end of 2024) that exist.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    dict
        Department code (and ``"84"``, the region) → total. The facts file of the mirror
        gives 01, 03, 07 and the region only; its 2019-12 rows (03, 15, 43, 63) are another
        period and are not returned.
    """
    root = _root(shared_dir)
    return dict(_totals_cached(root, _stamp(root, FACTS_FILE)))


@lru_cache(maxsize=4)
def _pch_cached(shared_dir: Path, _stamp: tuple) -> pd.DataFrame:
    path = _demand_file(PCH_FILE, shared_dir)
    cols = ["dep", "departement", "annee", "total_pch_actp", *_PCH_GROUP_COLUMNS.values()]
    df = read_mirror_csv(path, cols)
    df = df.assign(dep=df["dep"].str.strip().str.zfill(2))
    df = df[df["dep"].isin(DEPARTMENTS)].copy()
    df["annee"] = pd.to_numeric(df["annee"], errors="coerce")
    df["total"] = _counts(df, "total_pch_actp", path)
    for group, col in _PCH_GROUP_COLUMNS.items():
        df[group] = pd.to_numeric(df[col].replace("", np.nan), errors="coerce")
    latest = df.sort_values("annee").groupby("dep", sort=True).tail(1).set_index("dep")
    lacking = sorted(set(DEPARTMENTS) - set(latest.index))
    if lacking:
        raise ValidationError(
            f"no PCH/ACTP figure for department(s) {', '.join(lacking)}; restore the file "
            "from the mirror",
            source=path,
        )
    out = latest.loc[list(DEPARTMENTS), ["departement", "annee", "total", *PCH_AGE_GROUPS]]
    out["annee"] = out["annee"].astype(int)
    return out


def load_pch_actp(*, shared_dir: str | Path | None = None) -> pd.DataFrame:
    """Return the PCH + ACTP recipients of each department, latest year.

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    pandas.DataFrame
        Index ``dep`` (the twelve departments), columns ``departement``, ``annee`` (2019
        for all twelve in the mirror), ``total`` and the published age groups
        ``under_20``, ``20_59``, ``60_plus`` (NaN where DREES gives none: Ain, and Ardèche
        under 60).
    """
    root = _root(shared_dir)
    return _pch_cached(root, _stamp(root, PCH_FILE)).copy()


# --------------------------------------------------------------------------- rate model
@dataclass(frozen=True)
class RateModel:
    """Job seekers per inhabitant by attraction-area category × density level.

    ``rate(a, d) = (C_ad + m · prior_ad) / (P_ad + m)`` with ``prior_ad = r_a · r_d / r``,
    the margins themselves shrunk toward the overall rate ``r`` the same way
    (``r_a = (C_a + m · r) / (P_a + m)``): a cell with many inhabitants keeps its own
    rate, an empty one takes the product of its margins.

    Attributes
    ----------
    overall
        Overall rate of the fitting communes.
    aav, density
        Shrunk margin rates (category → rate, level → rate).
    cells
        Shrunk cell rates, ``(category, level) → rate``, for the cells seen in the fit.
    prior_pop
        The pseudo-population ``m``.
    """

    overall: float
    aav: dict[int, float]
    density: dict[int, float]
    cells: dict[tuple[int, int], float] = field(default_factory=dict)
    prior_pop: float = 10_000.0

    def rate(self, aav: ArrayLike, density7: ArrayLike) -> np.ndarray:
        """Rate per inhabitant of each commune of classes ``(aav, density7)``."""
        a = np.asarray(aav, dtype=int)
        d = np.asarray(density7, dtype=int)
        out = np.empty(len(a), dtype=float)
        for i, (ai, di) in enumerate(zip(a.tolist(), d.tolist(), strict=True)):
            cell = self.cells.get((ai, di))
            if cell is None:
                ra = self.aav.get(ai, self.overall)
                rd = self.density.get(di, self.overall)
                cell = ra * rd / self.overall
            out[i] = cell
        return out

    def predict(self, pop: ArrayLike, aav: ArrayLike, density7: ArrayLike) -> np.ndarray:
        """Job seekers of each commune: ``rate × pop``."""
        return np.asarray(pop, dtype=float) * self.rate(aav, density7)


def _shrunk(counts: pd.Series, pops: pd.Series, prior: float | pd.Series, m: float) -> pd.Series:
    return (counts + m * prior) / (pops + m)


def fit_rate_model(
    counts: ArrayLike,
    pop: ArrayLike,
    aav: ArrayLike,
    density7: ArrayLike,
    *,
    prior_pop: float,
) -> RateModel:
    """Fit the rate per inhabitant by attraction-area category × density level.

    Parameters
    ----------
    counts, pop, aav, density7
        One value per fitting commune: job seekers, legal population, AAV2020 category,
        INSEE density level.
    prior_pop
        Pseudo-population ``m`` of the shrinkage (see :class:`RateModel`).

    Returns
    -------
    RateModel
    """
    df = pd.DataFrame(
        {
            "c": np.asarray(counts, float),
            "p": np.asarray(pop, float),
            "a": np.asarray(aav, int),
            "d": np.asarray(density7, int),
        }
    )
    total_p = float(df["p"].sum())
    if total_p <= 0:
        raise ValidationError("the job-seeker model needs communes with inhabitants to fit")
    overall = float(df["c"].sum()) / total_p
    m = float(prior_pop)
    by_a = df.groupby("a")[["c", "p"]].sum()
    by_d = df.groupby("d")[["c", "p"]].sum()
    ra = _shrunk(by_a["c"], by_a["p"], overall, m)
    rd = _shrunk(by_d["c"], by_d["p"], overall, m)
    by_ad = df.groupby(["a", "d"])[["c", "p"]].sum()
    keys_a = by_ad.index.get_level_values(0)
    keys_d = by_ad.index.get_level_values(1)
    prior = ra.reindex(keys_a).to_numpy() * rd.reindex(keys_d).to_numpy() / overall
    cells = _shrunk(by_ad["c"], by_ad["p"], pd.Series(prior, index=by_ad.index), m)
    return RateModel(
        overall=overall,
        aav=dict(zip(map(int, ra.index.tolist()), map(float, ra.tolist()), strict=True)),
        density=dict(zip(map(int, rd.index.tolist()), map(float, rd.tolist()), strict=True)),
        cells={
            (int(a), int(d)): float(v)
            for (a, d), v in zip(by_ad.index.tolist(), cells.tolist(), strict=True)
        },
        prior_pop=m,
    )


def fold_ids(codes: pd.Index | np.ndarray, n_folds: int = N_FOLDS) -> np.ndarray:
    """Deterministic fold (0 … n_folds-1) of each commune code (seeded permutation)."""
    codes = np.asarray(codes, dtype=str)
    order = np.random.default_rng(FOLD_SEED).permutation(len(codes))
    folds = np.empty(len(codes), dtype=int)
    folds[order] = np.arange(len(codes)) % n_folds
    # the fold depends on the sorted position, not on the caller's row order
    rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
    return folds[rank]


def _cv_predictions(train: pd.DataFrame, m: float, folds: np.ndarray) -> np.ndarray:
    pred = np.empty(len(train))
    for k in np.unique(folds):
        test = folds == k
        fit = train.loc[~test]
        model = fit_rate_model(
            fit["job_seekers"], fit["pop"], fit["aav"], fit["density7"], prior_pop=m
        )
        rows = train.loc[test]
        pred[test] = model.predict(rows["pop"], rows["aav"], rows["density7"])
    return pred


def choose_prior_pop(train: pd.DataFrame) -> float:
    """Pick the pseudo-population of :data:`PRIOR_POP_GRID` with the least absolute error.

    10-fold cross-validation by commune inside ``train`` (columns ``job_seekers``, ``pop``,
    ``aav``, ``density7``; index ``insee``); ties go to the larger value (more shrinkage).
    """
    folds = fold_ids(train.index)
    errors = []
    for m in PRIOR_POP_GRID:
        pred = _cv_predictions(train, m, folds)
        errors.append(float(np.abs(pred - train["job_seekers"].to_numpy()).sum()))
    best = min(range(len(PRIOR_POP_GRID)), key=lambda i: (round(errors[i], 6), -i))
    return float(PRIOR_POP_GRID[best])


def fit_job_seeker_model(train: pd.DataFrame, *, prior_pop: float | None = None) -> RateModel:
    """Fit the model on ``train`` (see :func:`choose_prior_pop` for its columns)."""
    m = choose_prior_pop(train) if prior_pop is None else float(prior_pop)
    return fit_rate_model(
        train["job_seekers"], train["pop"], train["aav"], train["density7"], prior_pop=m
    )


# --------------------------------------------------------------------------- the region
def _region_table(shared_dir: Path) -> pd.DataFrame:
    """Every commune of the region: dep, pop, aav, density7, real count (NaN if none)."""
    communes = load_communes()
    classes = load_commune_classes(shared_dir=shared_dir)
    codes = communes["insee"].astype(str).to_numpy()
    lacking = ~pd.Index(codes).isin(classes.index)
    if lacking.any():
        raise ValidationError(
            f"{int(lacking.sum())} communes have no density level or attraction-area "
            f"category (e.g. {codes[lacking][0]}); restore the territory files of the mirror"
        )
    c = classes.reindex(codes)
    table = pd.DataFrame(
        {
            "dep": communes["dep"].astype(str).to_numpy(),
            "pop": communes["pop_mun"].to_numpy(float),
            "aav": c["aav_category"].to_numpy(int),
            "density7": c["density7"].to_numpy(int),
        },
        index=pd.Index(codes, name="insee"),
    )
    dares = load_dares_communes(shared_dir=shared_dir)
    unknown = dares.index.difference(table.index)
    if len(unknown):
        raise ValidationError(
            f"{len(unknown)} DARES commune code(s) are not COG 2026 communes of the region "
            f"(e.g. {unknown[0]})",
            source=str(DARES_FILE),
        )
    table["job_seekers"] = dares["job_seekers"].reindex(table.index)
    # a department with some DARES rows must have all of them (no partial departments)
    for dep in sorted(set(dares["dep"])):
        in_dep = table["dep"] == dep
        n_missing = int(table.loc[in_dep, "job_seekers"].isna().sum())
        if n_missing:
            raise ValidationError(
                f"the DARES file covers department {dep} only in part: {n_missing} of its "
                f"{int(in_dep.sum())} communes have no row",
                source=str(DARES_FILE),
            )
    return table


@dataclass(frozen=True)
class JobSeekerEstimate:
    """Job seekers per commune of the region, with their status and how they were made.

    Attributes
    ----------
    communes
        Index ``insee``; columns ``dep``, ``job_seekers`` (the figure used), ``status``
        (``official``/``estimated``), ``model`` (the rate model's figure before scaling).
    model
        The rate model fitted on every official commune.
    scale
        Scaling factor per group: department code, or ``"rest of region"`` for the
        departments without a total of their own scaled together to the regional total.
    controls
        The real totals used, by the same keys.
    """

    communes: pd.DataFrame
    model: RateModel
    scale: dict[str, float]
    controls: dict[str, float]

    @property
    def official_departments(self) -> tuple[str, ...]:
        """Departments whose every commune carries a DARES count."""
        off = self.communes[self.communes["status"] == "official"]
        return tuple(sorted(set(off["dep"])))


@lru_cache(maxsize=4)
def _estimate_cached(shared_dir: Path, _stamp: tuple) -> JobSeekerEstimate:
    table = _region_table(shared_dir)
    official = table["job_seekers"].notna()
    train = table.loc[official]
    model = fit_job_seeker_model(train)
    modelled = model.predict(table["pop"], table["aav"], table["density7"])
    out = pd.DataFrame(
        {
            "dep": table["dep"],
            "job_seekers": np.where(official, table["job_seekers"].fillna(0.0), modelled),
            "status": np.where(official, "official", "estimated"),
            "model": modelled,
        },
        index=table.index,
    )
    totals = load_job_seeker_totals(shared_dir=shared_dir)
    scale: dict[str, float] = {}
    controls: dict[str, float] = {}
    est = out["status"] == "estimated"
    own = [d for d in sorted(set(out.loc[est, "dep"])) if d in totals]
    for dep in own:  # an estimated department with its own real total
        rows = est & (out["dep"] == dep)
        s = totals[dep] / out.loc[rows, "job_seekers"].sum()
        out.loc[rows, "job_seekers"] *= s
        scale[dep], controls[dep] = float(s), float(totals[dep])
    rest = est & ~out["dep"].isin(own)
    if rest.any() and REGION_CODE in totals:
        known = float(out.loc[~rest, "job_seekers"].sum())
        target = totals[REGION_CODE] - known
        if target <= 0:
            raise ValidationError(
                f"the regional total {totals[REGION_CODE]:,.0f} is below the departments' "
                f"own totals {known:,.0f}",
                source=str(FACTS_FILE),
            )
        s = target / out.loc[rest, "job_seekers"].sum()
        out.loc[rest, "job_seekers"] *= s
        scale["rest of region"], controls["rest of region"] = float(s), float(target)
    elif rest.any():
        logger.warning("no regional job-seeker total: the model's figures are left unscaled")
    return JobSeekerEstimate(communes=out, model=model, scale=scale, controls=controls)


def job_seeker_estimate(*, shared_dir: str | Path | None = None) -> JobSeekerEstimate:
    """Return the job seekers of every commune of the region (see the module docstring).

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    JobSeekerEstimate
        Official DARES counts in Ain, Allier and Ardèche; elsewhere the rate model scaled
        so that the region totals 610,740 (DREETS, end of 2024).
    """
    root = _root(shared_dir)
    est = _estimate_cached(root, _stamp(root, DARES_FILE, FACTS_FILE))
    return JobSeekerEstimate(
        communes=est.communes.copy(),
        model=est.model,
        scale=dict(est.scale),
        controls=dict(est.controls),
    )


# --------------------------------------------------------------------------- held-out error
def _errors(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    e = pred - y
    return {
        "median_abs_error": float(np.median(np.abs(e))),
        "mean_abs_error": float(np.mean(np.abs(e))),
        # Σ|error| ÷ Σ count: the share of the job seekers put in the wrong commune
        "abs_error_share": float(np.abs(e).sum() / y.sum()) if y.sum() > 0 else float("nan"),
        "median_rel_error_50plus": float(np.median(np.abs(e)[y >= 50] / y[y >= 50]))
        if (y >= 50).any()
        else float("nan"),
    }


def _group_errors(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    df = pd.DataFrame({"y": y, "p": pred, "g": groups}).groupby("g")[["y", "p"]].sum()
    rel = (df["p"] - df["y"]).abs() / df["y"]
    return {str(k): float(v) for k, v in rel.items()}


def holdout_report(*, shared_dir: str | Path | None = None) -> dict[str, object]:
    """Measure the job-seeker model on communes it was not fitted on.

    Two designs, both on the 1,043 official communes:

    - **leave one department out**: fit on two departments (the pseudo-population chosen
      by cross-validation inside them), predict the third; errors of the model's own
      figure, of the figure scaled to the department's real total (what the tool does
      where a department has a total), and of the naive rule "department total spread in
      proportion to population" (the baseline the model must beat);
    - **10-fold by commune**: every commune predicted by a model fitted on the other
      nine-tenths.

    Parameters
    ----------
    shared_dir
        The local mirror.

    Returns
    -------
    dict
        ``"by_department"``: one dict per held-out department (``total_error`` of the
        model's department total, relative; per-commune errors ``model``, ``scaled``,
        ``proportional``, each with ``median_abs_error`` (job seekers),
        ``mean_abs_error``, ``abs_error_share`` (Σ|error| ÷ Σ count) and
        ``median_rel_error_50plus`` (median relative error of communes of 50+ job
        seekers); ``groups_scaled``: relative error of the totals by density level);
        ``"kfold"``: the same per-commune errors for the 10-fold design (model figure);
        ``"pooled_lodo"``: per-commune errors pooled over the three held-out departments
        (model and scaled); ``"prior_pop"``: the pseudo-population of the final model.
    """
    root = _root(shared_dir)
    table = _region_table(root)
    train_all = table.loc[table["job_seekers"].notna()]
    deps = sorted(set(train_all["dep"]))
    by_dep: list[dict[str, object]] = []
    pooled_y, pooled_model, pooled_scaled = [], [], []
    for dep in deps:
        test = train_all[train_all["dep"] == dep]
        fit = train_all[train_all["dep"] != dep]
        model = fit_job_seeker_model(fit)
        pred = model.predict(test["pop"], test["aav"], test["density7"])
        y = test["job_seekers"].to_numpy(float)
        scaled = pred * y.sum() / pred.sum()
        proportional = test["pop"].to_numpy(float) * y.sum() / test["pop"].sum()
        by_dep.append(
            {
                "dep": dep,
                "communes": len(test),
                "real_total": float(y.sum()),
                "model_total": float(pred.sum()),
                "total_error": float(pred.sum() / y.sum() - 1.0),
                "prior_pop": model.prior_pop,
                "model": _errors(y, pred),
                "scaled": _errors(y, scaled),
                "proportional": _errors(y, proportional),
                "groups_scaled": _group_errors(y, scaled, test["density7"].to_numpy()),
            }
        )
        pooled_y.append(y)
        pooled_model.append(pred)
        pooled_scaled.append(scaled)
    y_all = np.concatenate(pooled_y)
    folds = fold_ids(train_all.index)
    m = choose_prior_pop(train_all)
    kfold = _cv_predictions(train_all, m, folds)
    return {
        "by_department": by_dep,
        "pooled_lodo": {
            "model": _errors(y_all, np.concatenate(pooled_model)),
            "scaled": _errors(y_all, np.concatenate(pooled_scaled)),
        },
        "kfold": _errors(train_all["job_seekers"].to_numpy(float), kfold),
        "prior_pop": m,
    }


# --------------------------------------------------------------------------- disability
def _age_group_population(shared_dir: Path) -> pd.DataFrame:
    """Return the population of each DREES age group per commune (shares × pop_mun)."""
    communes = load_communes()
    shares = load_age_shares(Path(shared_dir) / AGE_SHARES_FILE)
    codes = communes["insee"].astype(str).to_numpy()
    lacking = ~pd.Index(codes).isin(shares.index)
    if lacking.any():
        raise ValidationError(
            f"no age shares for {int(lacking.sum())} commune(s) (e.g. {codes[lacking][0]})"
        )
    s = shares.reindex(codes)
    pop = communes["pop_mun"].to_numpy(float)
    out = pd.DataFrame(index=pd.Index(codes, name="insee"))
    out["dep"] = communes["dep"].astype(str).to_numpy()
    for group, bands in PCH_AGE_GROUPS.items():
        share = np.zeros(len(codes))
        for col, w in bands.items():
            share += w * s[col].to_numpy(float)
        out[group] = pop * share
    return out


def department_age_split(pch: pd.DataFrame) -> pd.DataFrame:
    """Recipients per department and age group, filling the groups DREES leaves out.

    A department with every group published keeps them (they sum to its total). Where
    groups are missing, the total less the published groups is shared among the missing
    ones in the proportions of the departments that publish every group (pooled).

    Parameters
    ----------
    pch
        :func:`load_pch_actp`.

    Returns
    -------
    pandas.DataFrame
        Index ``dep``, one column per age group; each row sums to the department's total.
    """
    groups = list(PCH_AGE_GROUPS)
    full = pch[groups].notna().all(axis=1)
    if not full.any():
        raise ValidationError("no department publishes the age split of its recipients")
    pooled = pch.loc[full, groups].sum()
    out = pch[groups].copy()
    for dep in pch.index[~full]:
        row = pch.loc[dep, groups]
        known = row.notna()
        rest = float(pch.loc[dep, "total"] - row[known].sum())
        weights = pooled[~known] / pooled[~known].sum()
        out.loc[dep, list(weights.index)] = rest * weights.to_numpy()
    return out.astype(float)


@lru_cache(maxsize=4)
def _disability_cached(shared_dir: Path, _stamp: tuple) -> pd.DataFrame:
    pch = load_pch_actp(shared_dir=shared_dir)
    split = department_age_split(pch)
    pops = _age_group_population(shared_dir)
    result = np.zeros(len(pops))
    for group in PCH_AGE_GROUPS:
        dep_pop = pops.groupby("dep")[group].transform("sum").to_numpy(float)
        count = split[group].reindex(pops["dep"]).to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            part = np.where(dep_pop > 0, count * pops[group].to_numpy(float) / dep_pop, 0.0)
        result += part
    return pd.DataFrame(
        {"dep": pops["dep"], "disabled": result, "status": "estimated"}, index=pops.index
    )


def disability_estimate(*, shared_dir: str | Path | None = None) -> pd.DataFrame:
    """Return PCH + ACTP recipients per commune (department figures spread by age group).

    Parameters
    ----------
    shared_dir
        The local mirror (default :data:`analysis.settings.shared_data_dir`).

    Returns
    -------
    pandas.DataFrame
        Index ``insee`` (every commune of the region); columns ``dep``, ``disabled`` and
        ``status`` (``estimated``). Each department sums to its DREES figure.
    """
    root = _root(shared_dir)
    return _disability_cached(root, _stamp(root, PCH_FILE)).copy()


# --------------------------------------------------------------------------- profile hook
def commune_demand(base: str, codes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Figures and statuses of a demand base for the communes ``codes`` (row order kept).

    Parameters
    ----------
    base
        ``dares_job_seekers`` or ``drees_pch_actp``.
    codes
        INSEE codes (COG 2026 communes of the region).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Demand (float) and status (``official``/``estimated``) per code.

    Raises
    ------
    ValidationError
        If a code is not a commune of the region.
    """
    if base == "dares_job_seekers":
        table = job_seeker_estimate().communes
        column = "job_seekers"
    elif base == "drees_pch_actp":
        table = disability_estimate()
        column = "disabled"
    else:  # pragma: no cover - the profile parser refuses other bases
        raise ValueError(base)
    wanted = codes.astype(str).to_numpy()
    lacking = ~pd.Index(wanted).isin(table.index)
    if lacking.any():
        raise ValidationError(
            f"the {base} demand covers the communes of Auvergne-Rhône-Alpes (COG 2026): "
            f"{int(lacking.sum())} commune(s) are not among them (e.g. {wanted[lacking][0]})"
        )
    rows = table.reindex(wanted)
    return rows[column].to_numpy(float), rows["status"].to_numpy(str)
