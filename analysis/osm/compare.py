"""How far one road model is from another: estimated vs OSM times, commune by commune.

:func:`compare_models` runs the same nearest-site question on both models and compares
the times of the communes both cover (status ``"ok"`` in both): the ratio ``a / b`` (e.g.
estimated / OSM) with its median and 10th/90th percentiles, the differences in minutes,
and how often both models pick the same nearest site. Communes only one model covers
(e.g. outside a partial extract) are counted, not compared.

It only uses the :class:`~analysis.road_model.RoadModel` interface (``nearest``,
``snap_sites``, ``label``), so it compares any two models.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ValidationError
from ..io import check_can_write, write_csv, write_json
from ..stats import weighted_quantile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelComparison:
    """Commune-by-commune comparison of two road models.

    Attributes
    ----------
    table
        One row per commune: ``insee``, ``nom`` (if given), ``time_a_min``,
        ``time_b_min``, ``status_a``, ``status_b``, ``site_a``, ``site_b`` (positions in
        the site list), ``compared`` (both models cover it), ``ratio`` (a / b) and
        ``diff_min`` (a - b), NaN where not compared.
    summary
        Counts, ratio quantiles (``ratio_p10``, ``ratio_median``, ``ratio_p90``),
        population-weighted median ratio, difference quantiles, share of communes with the
        same nearest site, per urban class when the communes have ``urban_class``.
    label_a, label_b
        The two models' labels.
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    label_a: str
    label_b: str
    by_class: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_text(self) -> str:
        """Return a short human-readable report."""
        s = self.summary
        lines = [
            f"A: {self.label_a}",
            f"B: {self.label_b}",
            f"communes: {s['n_communes']:,}; compared (covered by both): {s['n_compared']:,}; "
            f"not covered by A: {s['n_not_a']:,}; not covered by B: {s['n_not_b']:,}",
        ]
        if s["n_compared"]:
            lines += [
                f"time ratio A/B: median {s['ratio_median']:.2f}, P10 {s['ratio_p10']:.2f}, "
                f"P90 {s['ratio_p90']:.2f} (population-weighted median "
                f"{s['ratio_median_pop']:.2f})",
                f"difference A-B: median {s['diff_median_min']:+.1f} min, P10 "
                f"{s['diff_p10_min']:+.1f} min, P90 {s['diff_p90_min']:+.1f} min",
                f"same nearest site: {100 * s['same_site_share']:.1f}% of compared communes",
            ]
        if s.get("sites_too_far_a") or s.get("sites_too_far_b"):
            lines.append(
                f"sites off the network: A {s['sites_too_far_a']}, B {s['sites_too_far_b']} "
                f"(of {s['n_sites']})"
            )
        if not self.by_class.empty:
            lines.append("by urban class (median ratio, P90 ratio, communes):")
            for cls, row in self.by_class.iterrows():
                lines.append(
                    f"  {cls}: {row['ratio_median']:.2f}, {row['ratio_p90']:.2f}, "
                    f"{int(row['n_compared']):,}"
                )
        return "\n".join(lines)

    def write(self, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write ``comparison_communes.csv``, ``comparison_summary.json`` and ``.txt``.

        Parameters
        ----------
        out_dir
            Output folder (created).
        overwrite
            Replace existing files.

        Returns
        -------
        dict
            The written files by kind.
        """
        out = Path(out_dir)
        files = {
            "communes_csv": out / "comparison_communes.csv",
            "summary_json": out / "comparison_summary.json",
            "report_txt": out / "comparison_report.txt",
        }
        for p in files.values():
            check_can_write(p, overwrite=overwrite)
        write_csv(self.table, files["communes_csv"], overwrite=overwrite)
        summary = dict(self.summary)
        summary["by_urban_class"] = self.by_class.reset_index().to_dict(orient="records")
        write_json(summary, files["summary_json"])
        from ..io import atomic_path

        with atomic_path(files["report_txt"]) as tmp:
            tmp.write_text(self.to_text() + "\n", encoding="utf-8")
        return files


def _as_xy(sites_xy: Any) -> tuple[np.ndarray, np.ndarray]:
    """Accept ``(x, y)`` arrays, an ``(n, 2)`` array or a table with ``x_l93``/``y_l93``."""
    if isinstance(sites_xy, pd.DataFrame):
        return sites_xy["x_l93"].to_numpy(float), sites_xy["y_l93"].to_numpy(float)
    if isinstance(sites_xy, tuple) and len(sites_xy) == 2:
        x, y = (np.asarray(a, dtype=float) for a in sites_xy)
    else:
        arr = np.asarray(sites_xy, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValidationError("sites_xy must be (x, y) arrays or an (n, 2) array")
        x, y = arr[:, 0], arr[:, 1]
    if x.shape != y.shape:
        raise ValidationError("site x and y must have the same length")
    return x, y


def _stats(ratio: np.ndarray, diff: np.ndarray) -> dict[str, float]:
    if len(ratio) == 0:
        nan = float("nan")
        return dict.fromkeys(
            ("ratio_p10", "ratio_median", "ratio_p90", "ratio_mean", "diff_p10_min",
             "diff_median_min", "diff_p90_min", "abs_diff_median_min"), nan,
        )  # fmt: skip
    q = np.quantile(ratio, [0.1, 0.5, 0.9])
    d = np.quantile(diff, [0.1, 0.5, 0.9])
    return {
        "ratio_p10": float(q[0]),
        "ratio_median": float(q[1]),
        "ratio_p90": float(q[2]),
        "ratio_mean": float(ratio.mean()),
        "diff_p10_min": float(d[0]),
        "diff_median_min": float(d[1]),
        "diff_p90_min": float(d[2]),
        "abs_diff_median_min": float(np.median(np.abs(diff))),
    }


def compare_models(
    model_a: Any,
    model_b: Any,
    sites_xy: Any,
    communes: gpd.GeoDataFrame,
) -> ModelComparison:
    """Compare the times of two road models to the same sites, commune by commune.

    Parameters
    ----------
    model_a, model_b
        Road models (e.g. the estimated network and the OSM model) whose origins are
        ``communes`` in order.
    sites_xy
        Site coordinates in Lambert-93: ``(x, y)`` arrays, an ``(n, 2)`` array, or a
        table with ``x_l93``/``y_l93``.
    communes
        The commune table (``insee``; ``nom``, ``pop_mun``, ``urban_class`` used if
        present).

    Returns
    -------
    ModelComparison
        Ratios are ``a / b``.

    Raises
    ------
    ValidationError
        If a model was built for other communes, or the models cover no commune in
        common.
    EmptyProfileError
        If there is no site (or none on a model's network).
    """
    insee = communes["insee"].to_numpy()
    for name, m in (("A", model_a), ("B", model_b)):
        ids = getattr(m, "origin_ids", None)
        if ids is not None and (
            len(ids) != len(insee)
            or not np.array_equal(np.asarray(ids, dtype=str), insee.astype(str))
        ):
            raise ValidationError(
                f"model {name} ({m.label}) was built for other communes; rebuild it"
            )
    x, y = _as_xy(sites_xy)
    ra = model_a.nearest(x, y)
    rb = model_b.nearest(x, y)
    ta = np.asarray(ra.time_s, dtype=float) / 60.0
    tb = np.asarray(rb.time_s, dtype=float) / 60.0
    sa = np.asarray(ra.status, dtype=object)
    sb = np.asarray(rb.status, dtype=object)
    ok_a = (sa == "ok") & np.isfinite(ta)
    ok_b = (sb == "ok") & np.isfinite(tb)
    both = ok_a & ok_b & (tb > 0)
    ratio = np.full(len(insee), np.nan)
    diff = np.full(len(insee), np.nan)
    ratio[both] = ta[both] / tb[both]
    diff[both] = ta[both] - tb[both]
    table = pd.DataFrame(
        {
            "insee": insee,
            **({"nom": communes["nom"].to_numpy()} if "nom" in communes else {}),
            "time_a_min": ta,
            "time_b_min": tb,
            "status_a": sa,
            "status_b": sb,
            "site_a": np.asarray(ra.site),
            "site_b": np.asarray(rb.site),
            "compared": both,
            "ratio": ratio,
            "diff_min": diff,
        }
    )
    n_both = int(both.sum())
    if n_both == 0:
        raise ValidationError(
            f"the two models cover no commune in common ({model_a.label}; {model_b.label}); "
            "use an OSM extract that covers the communes"
        )
    summary: dict[str, Any] = {
        "model_a": model_a.label,
        "model_b": model_b.label,
        "n_communes": len(insee),
        "n_sites": len(x),
        "n_compared": n_both,
        "n_not_a": int((~ok_a).sum()),
        "n_not_b": int((~ok_b).sum()),
        "status_counts_a": pd.Series(sa).value_counts().to_dict(),
        "status_counts_b": pd.Series(sb).value_counts().to_dict(),
    }
    summary.update(_stats(ratio[both], diff[both]))
    if "pop_mun" in communes:
        pop = communes["pop_mun"].to_numpy(dtype=float)[both]
        summary["ratio_median_pop"] = (
            float(weighted_quantile(ratio[both], pop, 0.5)) if pop.sum() > 0 else float("nan")
        )
    else:
        summary["ratio_median_pop"] = float("nan")
    summary["same_site_share"] = float(
        np.mean(np.asarray(ra.site)[both] == np.asarray(rb.site)[both])
    )
    for name, m in (("a", model_a), ("b", model_b)):
        snap = m.snap_sites(x, y) if hasattr(m, "snap_sites") else None
        summary[f"sites_too_far_{name}"] = int(snap.too_far.sum()) if snap is not None else 0
    by_class = pd.DataFrame()
    if "urban_class" in communes:
        cls = communes["urban_class"].to_numpy()
        rows = {}
        for c in pd.unique(cls[both]):
            sel = both & (cls == c)
            st = _stats(ratio[sel], diff[sel])
            rows[c] = {
                "n_compared": int(sel.sum()),
                "ratio_median": st["ratio_median"],
                "ratio_p90": st["ratio_p90"],
                "diff_median_min": st["diff_median_min"],
            }
        by_class = pd.DataFrame.from_dict(rows, orient="index")
        by_class.index.name = "urban_class"
    logger.info(
        "compared %d communes: median ratio %.2f, P90 %.2f",
        n_both, summary["ratio_median"], summary["ratio_p90"],
    )  # fmt: skip
    return ModelComparison(
        table=table, summary=summary, label_a=model_a.label, label_b=model_b.label,
        by_class=by_class,
    )  # fmt: skip
