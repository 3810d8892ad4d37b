"""Soak test: many consecutive coverage and what-if requests through the library.

The app and the notebook keep one process alive for a whole working session: every change
of profile, threshold or candidate is one more request. This script runs ``--requests``
consecutive coverage requests (one pass each, with the summaries and clusters the app
shows) and as many what-if requests (a candidate permanence in a different commune each
time, and a closure) on the estimated regional network of the 4,025 communes, and prints
the resident memory (RSS) before, after, its growth and its trend.

Run: ``.venv/bin/python benchmarks/soak.py [--requests 200] [--sites bundled|synthetic]``.
``tests/test_soak.py`` runs the same loop and asserts the growth stays under a bound.
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psutil

#: The publics of the soak (demand = legal population × share: no extra data file needed).
PROFILE_KWARGS: tuple[dict[str, Any], ...] = (
    {
        "key": "young",
        "label": "16-25",
        "networks": ("Mission Locale", "Info Jeunes"),
        "thresholds_min": {"road": 20.0},
        "share": 0.1,
    },
    {
        "key": "job_seekers",
        "label": "Job seekers",
        "networks": ("France Travail",),
        "thresholds_min": {"road": 30.0},
        "share": 0.07,
    },
    {
        "key": "everyone",
        "label": "Everyone",
        "networks": ("Mission Locale", "Info Jeunes", "France Travail", "CIO"),
        "thresholds_min": {"road": 30.0},
        "share": 1.0,
    },
)


def synthetic_sites(communes: pd.DataFrame, *, n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Sites of four networks near the origin points of random communes (modelled)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(communes), size=n, replace=False)
    nets = np.array(["Mission Locale", "Info Jeunes", "France Travail", "CIO"])
    return pd.DataFrame(
        {
            "site_id": [f"SOAK{i:04d}" for i in range(n)],
            "name": [f"Soak site {i}" for i in range(n)],
            "network": nets[rng.integers(0, len(nets), n)],
            "kind": "permanence",
            "x_l93": communes["x_l93"].to_numpy(float)[pick] + rng.uniform(-300, 300, n),
            "y_l93": communes["y_l93"].to_numpy(float)[pick] + rng.uniform(-300, 300, n),
            "lon": communes["lon"].to_numpy(float)[pick],
            "lat": communes["lat"].to_numpy(float)[pick],
            "provenance": "modelled",
        }
    )


def rss_mb() -> float:
    """Resident memory of this process after a full garbage collection, MB."""
    gc.collect()
    return psutil.Process().memory_info().rss / 1e6


@dataclass
class SoakReport:
    """Memory over a soak run."""

    requests: int
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float
    seconds: float
    samples: list[tuple[int, float]] = field(default_factory=list)

    @property
    def growth_mb(self) -> float:
        """RSS after minus RSS before, MB."""
        return self.rss_after_mb - self.rss_before_mb

    @property
    def slope_mb_per_100(self) -> float:
        """Least-squares trend of the sampled RSS, MB per 100 requests (second half)."""
        pts = self.samples[len(self.samples) // 2 :]
        if len(pts) < 2:
            return 0.0
        x = np.array([p[0] for p in pts], float)
        y = np.array([p[1] for p in pts], float)
        return float(np.polyfit(x, y, 1)[0] * 100)

    def lines(self) -> list[str]:
        """The report, one figure per line."""
        return [
            f"requests:        {self.requests}",
            f"RSS before:      {self.rss_before_mb:8.1f} MB",
            f"RSS after:       {self.rss_after_mb:8.1f} MB",
            f"RSS growth:      {self.growth_mb:+8.1f} MB",
            f"RSS peak:        {self.rss_peak_mb:8.1f} MB",
            f"trend (2nd half): {self.slope_mb_per_100:+7.2f} MB per 100 requests",
            f"time:            {self.seconds:8.1f} s",
        ]


def soak(
    communes: pd.DataFrame,
    model: Any,
    sites: pd.DataFrame,
    *,
    requests: int = 200,
    whatif: bool = True,
    warmup: int = 5,
    sample_every: int = 10,
) -> SoakReport:
    """Run ``requests`` coverage requests (and as many what-if requests) and measure RSS.

    Parameters
    ----------
    communes, model, sites
        The inputs (commune table, road model, site directory).
    requests
        Consecutive coverage requests; each changes the profile and the threshold.
    whatif
        Also run one what-if request after each coverage request (a candidate in a
        different commune each time, every fifth one also a closure), on one long-lived
        what-if session as the app keeps it.
    warmup
        Requests run before the first measurement (imports, caches, allocator pools).
    sample_every
        Sample the RSS every this many requests (for the trend).

    Returns
    -------
    SoakReport
    """
    from analysis.coverage import compute_coverage
    from analysis.profiles import Profile

    profiles = [Profile(**kw) for kw in PROFILE_KWARGS]
    session = None
    if whatif:
        from analysis.planning.whatif import WhatIf

        session = WhatIf(model, sites, communes, profiles)
    rng = np.random.default_rng(1)
    x = communes["x_l93"].to_numpy(float)
    y = communes["y_l93"].to_numpy(float)
    site_ids = sites["site_id"].astype(str).to_numpy()
    adjacency = None

    def one(i: int) -> None:
        nonlocal adjacency
        prof = profiles[i % len(profiles)]
        res = compute_coverage(
            model, sites, communes, prof, threshold_min=10.0 + i % 31, adjacency=adjacency
        )
        adjacency = res._adjacency
        res.summary("region")
        res.summary("dep")
        res.clusters()
        if session is not None:
            j = int(rng.integers(len(communes)))
            cand = pd.DataFrame(
                {
                    "name": [f"candidate {i}"],
                    "network": [prof.networks[0]],
                    "x_l93": [x[j] + 100.0],
                    "y_l93": [y[j]],
                }
            )
            remove = [str(site_ids[i % len(site_ids)])] if i % 5 == 0 else []
            out = session.evaluate(cand, remove=remove)
            out.side_by_side()

    for i in range(warmup):
        one(i)
    before = rss_mb()
    peak = before
    samples = [(0, before)]
    t0 = time.perf_counter()
    for i in range(requests):
        one(warmup + i)
        if (i + 1) % sample_every == 0:
            now = rss_mb()
            peak = max(peak, now)
            samples.append((i + 1, now))
    seconds = time.perf_counter() - t0
    after = rss_mb()
    return SoakReport(
        requests=requests,
        rss_before_mb=before,
        rss_after_mb=after,
        rss_peak_mb=max(peak, after),
        seconds=seconds,
        samples=samples,
    )


def load_inputs(sites: str = "bundled") -> tuple[pd.DataFrame, Any, pd.DataFrame, str]:
    """Communes, the estimated network, and the bundled directory (or synthetic sites)."""
    from analysis.communes import load_communes
    from analysis.estimated.network import load_or_build_estimated_network

    communes = load_communes()
    model = load_or_build_estimated_network(communes)
    if sites == "bundled":
        try:
            from analysis.sites.directory import load_bundled_directory

            directory = load_bundled_directory()
            return communes, model, directory, f"bundled directory ({len(directory)} sites)"
        except (ImportError, OSError, ValueError) as exc:
            print(f"bundled directory unavailable ({exc}); using synthetic sites")
    table = synthetic_sites(communes)
    return communes, model, table, f"synthetic sites ({len(table)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sites", choices=("bundled", "synthetic"), default="bundled")
    parser.add_argument("--no-whatif", action="store_true")
    args = parser.parse_args(argv)
    communes, model, sites, what = load_inputs(args.sites)
    print(f"{len(communes):,} communes, {model.label}; {what}")
    kinds = "coverage" + ("" if args.no_whatif else " + what-if")
    print(f"{args.requests} consecutive {kinds} requests")
    report = soak(communes, model, sites, requests=args.requests, whatif=not args.no_whatif)
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
