"""Soak: 200 consecutive coverage and what-if requests keep the process's memory flat.

Runs the loop of ``benchmarks/soak.py`` on the real commune layer and the estimated
regional network (4,025 nodes) with synthetic sites, and checks the growth of the resident
memory (after a full garbage collection) against a generous bound: a leak of a commune
table, a GeoDataFrame or a what-if baseline per request would exceed it within 200
requests. No timing is asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"

#: Bound on the RSS growth over the run (MB). A healthy run measures a few MB either way.
MAX_GROWTH_MB = 150.0


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak_benchmark", SOAK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def soak():
    return _soak_module()


@pytest.mark.slow
def test_200_requests_keep_memory_flat(soak, capsys):
    communes, model, sites, _ = soak.load_inputs("synthetic")
    assert len(communes) == 4025 and model.graph.n_nodes == 4025
    report = soak.soak(communes, model, sites, requests=200, whatif=True)
    with capsys.disabled():
        print("\nsoak: " + "; ".join(" ".join(line.split()) for line in report.lines()))
    assert report.requests == 200
    assert len(report.samples) == 21  # every 10 requests, plus the start
    assert report.growth_mb < MAX_GROWTH_MB, report.lines()
    assert report.rss_peak_mb - report.rss_before_mb < 2 * MAX_GROWTH_MB, report.lines()


def test_soak_requests_give_the_same_answer_every_time(soak):
    """The loop is not measuring a degenerate run: repeated requests agree exactly."""
    from analysis.coverage import compute_coverage
    from analysis.profiles import Profile
    from analysis.testing import synthetic_region

    region = synthetic_region(8, 6)
    prof = Profile(**soak.PROFILE_KWARGS[2])
    first = compute_coverage(region.model, region.sites, region.communes, prof)
    for _ in range(20):
        again = compute_coverage(
            region.model, region.sites, region.communes, prof, adjacency=first._adjacency
        )
    np.testing.assert_array_equal(again.communes["time_min"], first.communes["time_min"])
    assert again.clusters()["insee_list"].tolist() == first.clusters()["insee_list"].tolist()
