"""Labelling call benchmark: 30 applications with their reports, against the plain what-if.

    .venv/bin/python benchmarks/bench_reports.py [--applications 30] [--repeat 2] [--no-pdf]

On the bundled region (4,025 communes, the road model in force, the bundled directory with
its modelled completion, the profiles file): ``--applications`` random candidates (each at a
random commune, SPRO networks served by a profile cycled). Timed in the same run, each from
fresh sessions (today's times computed anew), best of ``--repeat``:

- baseline: the plain what-if of the same candidates (``WhatIf(...).evaluate``);
- the call: :func:`analysis.planning.labelling.evaluate_call` (the what-if, the
  open-data-only what-if for the two-number rule, the nearest site of each network);
- the call with its reports written as HTML (ranked CSV, cards, GeoPackage, index, one
  report each: ``CallResult.export``), and separately with the PDFs (once).

The target of issue 13 is under 30 s for the batch with its reports.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--applications", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()

    from analysis import access
    from analysis.communes import load_communes
    from analysis.inputs import load_models, load_sites
    from analysis.planning.candidates import candidates_from_records
    from analysis.planning.labelling import evaluate_call
    from analysis.planning.whatif import WhatIf
    from analysis.present.reports import pdf_unavailable
    from analysis.profiles import load_profiles
    from analysis.sites.networks import SPRO_NETWORKS

    t0 = time.perf_counter()
    communes = load_communes()
    model = load_models(["road"], communes)["road"]
    sites = load_sites()
    profiles = load_profiles()
    print(
        f"inputs loaded in {time.perf_counter() - t0:.2f} s; road model: {model.label} "
        f"({access.times_are_label(model).upper()}); {len(sites)} sites "
        f"({int((sites['provenance'] == 'modelled').sum())} modelled); {len(communes)} communes"
    )
    served = [n for n in SPRO_NETWORKS if any(n in p.networks for p in profiles.values())]
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(len(communes), size=args.applications, replace=False)
    records = [
        {
            "name": f"Application {i + 1}",
            "network": served[i % len(served)],
            "insee": str(communes["insee"].iloc[r]),
        }
        for i, r in enumerate(rows)
    ]
    load = candidates_from_records(records, communes, source="benchmark")
    assert not load.problems, load.messages()
    cands = load.candidates
    print(f"{len(cands)} applications over {len(set(cands['network']))} networks")

    def plain():
        return WhatIf(model, sites, communes, profiles).evaluate(cands)

    def call():
        return evaluate_call(model, sites, communes, cands, profiles=profiles)

    def with_reports(pdf: bool):
        with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
            c = call()
            files = c.export(Path(tmp) / "out", pdf=pdf)
            return c, len(files)

    plain()  # warm-up: numba compilation, caches of the communes' projection
    with_reports(False)

    def best(f, reps):
        ts = []
        out = None
        for _ in range(reps):
            t = time.perf_counter()
            out = f()
            ts.append(time.perf_counter() - t)
        return min(ts), out

    t_plain, res = best(plain, args.repeat)
    t_call, c = best(call, args.repeat)
    t_html, (_, n_html) = best(lambda: with_reports(False), args.repeat)
    # the call's figures are the what-if's
    a = res.cards.set_index(["candidate_id", "profile", "mode"])["demand_newly_covered"]
    b = c.cards.set_index(["candidate_id", "profile", "mode"])["demand_newly_covered"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    print(f"baseline, plain what-if of {len(cands)} candidates: {t_plain:6.2f} s")
    print(
        f"call evaluation (+ open-data-only what-if, nearest sites): {t_call:6.2f} s "
        f"({t_call / t_plain:.1f}x the baseline)"
    )
    print(
        f"call + reports written, HTML ({n_html} files): {t_html:6.2f} s "
        f"({t_html / t_plain:.1f}x the baseline; {(t_html - t_call) / len(cands) * 1000:.0f} ms "
        "per report) — target < 30 s"
    )
    if args.no_pdf:
        return
    why = pdf_unavailable()
    if why:
        print(f"PDF: skipped ({why})")
        return
    t_pdf, (_, n_pdf) = best(lambda: with_reports(True), 1)
    print(
        f"call + reports written, HTML + PDF ({n_pdf} files): {t_pdf:6.2f} s "
        f"({t_pdf / t_plain:.1f}x the baseline; PDF {(t_pdf - t_html) / len(cands):.2f} s "
        "per report)"
    )


if __name__ == "__main__":
    main()
