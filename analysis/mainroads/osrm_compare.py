"""Any road model against the OSRM car times between Isère's town halls.

The OSRM matrix is not a road model (it answers only its 512 town halls), so it is
compared pair by pair: each model times the same town-hall pairs, both ends joining the
network by the model's own site rule (:meth:`analysis.road_model.RoadModel.snap_sites`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from ..errors import ValidationError
from ..estimated.calibration import ErrorStats
from ..io import atomic_path, check_can_write, write_csv, write_json
from ..road_model import RoadModel
from .calibrate import OsrmReference, heldout_origins, load_osrm_reference, stats_by_band


def pair_times(model: RoadModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Door-to-door times between every pair of points on a road model, seconds.

    Parameters
    ----------
    model
        A road model (``snap_sites`` and ``graph``).
    x, y
        Points, Lambert-93 metres.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``; ``inf`` where a point is too far from the network.
    """
    if not hasattr(model, "snap_sites"):
        raise ValidationError(f"{getattr(model, 'label', model)!r} is not a road model")
    snap = model.snap_sites(np.asarray(x, float), np.asarray(y, float))
    out = np.full((len(x), len(x)), np.inf)
    ok = np.flatnonzero(~snap.too_far)
    if len(ok):
        nodes = snap.node[ok]
        uniq, inv = np.unique(nodes, return_inverse=True)
        d = dijkstra(model.graph.csr, directed=True, indices=uniq)[:, nodes][inv]
        off = snap.offset_s[ok]
        out[np.ix_(ok, ok)] = d + off[:, None] + off[None, :]
    np.fill_diagonal(out, 0.0)
    return out


@dataclass(frozen=True)
class OsrmComparison:
    """A road model against the OSRM matrix.

    Attributes
    ----------
    label
        The model's label.
    overall, heldout
        Error on all pairs, and on the pairs of two origins the calibration held out.
    bands
        Error per band of OSRM time (all pairs).
    table
        One row per pair: ``from``, ``to``, ``osrm_min``, ``model_min``, ``ratio``.
    """

    label: str
    overall: ErrorStats
    heldout: ErrorStats
    bands: pd.DataFrame
    table: pd.DataFrame = field(repr=False)

    def to_text(self) -> str:
        """Return a short report."""
        return "\n".join(
            [
                f"model: {self.label}",
                "reference: OSRM car times between the 512 town halls of Isère (2021)",
                f"all pairs:      {self.overall.as_dict()}",
                f"held-out pairs: {self.heldout.as_dict()}",
                self.bands.to_string(index=False, float_format=lambda v: f"{v:.2f}"),
            ]
        )

    def write(self, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write ``osrm_pairs.csv``, ``osrm_summary.json`` and ``osrm_report.txt``."""
        out = Path(out_dir)
        files = {
            "pairs_csv": out / "osrm_pairs.csv",
            "summary_json": out / "osrm_summary.json",
            "report_txt": out / "osrm_report.txt",
        }
        for p in files.values():
            check_can_write(p, overwrite=overwrite)
        write_csv(self.table, files["pairs_csv"], overwrite=overwrite)
        write_json(
            {
                "model": self.label,
                "all": self.overall.as_dict(),
                "heldout": self.heldout.as_dict(),
                "bands": self.bands.to_dict(orient="records"),
            },
            files["summary_json"],
        )
        with atomic_path(files["report_txt"]) as tmp:
            tmp.write_text(self.to_text() + "\n", encoding="utf-8")
        return files


def compare_with_osrm(model: RoadModel, reference: OsrmReference | None = None) -> OsrmComparison:
    """Time the OSRM town-hall pairs on ``model`` and report the error.

    Parameters
    ----------
    model
        Any road model (commune adjacency, main roads, OSM).
    reference
        The OSRM reference; the mirror's if not given.

    Returns
    -------
    OsrmComparison
    """
    ref = reference or load_osrm_reference()
    t = pair_times(model, ref.x, ref.y)
    n = len(ref.insee)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    off = (ii != jj) & np.isfinite(t)
    held = heldout_origins(ref.insee)
    both = off & held[ii] & held[jj]
    table = pd.DataFrame(
        {
            "from": ref.insee[ii[off]],
            "to": ref.insee[jj[off]],
            "osrm_min": ref.time_s[off] / 60,
            "model_min": t[off] / 60,
        }
    )
    table["ratio"] = table["model_min"] / table["osrm_min"]
    return OsrmComparison(
        label=str(getattr(model, "label", "model")),
        overall=ErrorStats.of(t[off], ref.time_s[off]),
        heldout=ErrorStats.of(t[both], ref.time_s[both]),
        bands=stats_by_band(t[off], ref.time_s[off]),
        table=table,
    )
