"""Labelling call reports (issue 13 item 2): batch evaluation, reports, PDFs, CLI, app section.

The figures are checked against the what-if's full recompute (``incremental=False``) and,
for one candidate, against a naive recompute by hand (the model's ``nearest`` over the
eligible sites plus the candidate, then the covered demand summed directly).
"""

from __future__ import annotations

import html
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from analysis import access
from analysis.cli import main
from analysis.commands import planning as planning_cmd
from analysis.planning.labelling import (
    evaluate_call,
    open_data_sites,
    read_call_csv,
    report_name,
)
from analysis.planning.whatif import what_if
from analysis.present import reports
from analysis.present.reports import fmt_people, fmt_share
from analysis.testing import synthetic_profiles, synthetic_region

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def region():
    return synthetic_region(9, 8, per_network=2, seed=7)


def call_csv(region, *, bad: bool = False) -> str:
    c = region.communes
    rows = [
        ("Permanence <b>Nord</b> & co", "Mission Locale", c["insee"].iloc[13]),
        ("Antenne Est", "CIO", c["insee"].iloc[40]),
        ("Point Sud", "Info Jeunes", c["insee"].iloc[62]),
        ("Agence Ouest", "France Travail", c["insee"].iloc[27]),
        ("Permanence Centre", "Mission Locale", c["insee"].iloc[36]),
    ]
    text = "name,network,insee\n" + "".join(f'"{n}",{w},{i}\n' for n, w, i in rows)
    if bad:
        text += "Mauvaise,Nowhere,43001\n"
    return text


@pytest.fixture(scope="module")
def call(region):
    cands = read_call_csv(call_csv(region).encode(), region.communes)
    return evaluate_call(
        region.model, region.sites, region.communes, cands, profiles=synthetic_profiles()
    )


def card_cells(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """The figures of a report's table, by (profile, mode) and data key."""
    out = {}
    for m in re.finditer(
        r"<tr class='card' data-profile='([^']*)' data-mode='([^']*)'>(.*?)</tr>", text, re.S
    ):
        cells = dict(re.findall(r"data-k='([^']*)'>([^<]*)<", m.group(3)))
        out[(html.unescape(m.group(1)), m.group(2))] = {
            k: html.unescape(v) for k, v in cells.items()
        }
    return out


# --------------------------------------------------------------------------- numbers
def test_report_figures_equal_the_whatif_cards(region, call):
    """Every figure of every report equals the what-if's full recompute of the same card."""
    cands = read_call_csv(call_csv(region).encode(), region.communes)
    ref = what_if(
        region.model, region.sites, region.communes, cands, profiles=synthetic_profiles(),
        incremental=False,
    ).cards  # fmt: skip
    ref_open = what_if(
        region.model, open_data_sites(region.sites), region.communes, cands,
        profiles=synthetic_profiles(), incremental=False,
    ).cards  # fmt: skip
    assert len(call.applications) == len(cands) == 5
    seen = 0
    for app in call.applications:
        cells = card_cells(reports.report_page(call, app))
        mine = ref[ref["candidate_id"] == app.candidate["candidate_id"]]
        assert set(cells) == set(zip(mine["profile"], mine["mode"], strict=True))
        for _, r in mine.iterrows():
            got = cells[(r["profile"], r["mode"])]
            o = ref_open[
                (ref_open["candidate_id"] == r["candidate_id"])
                & (ref_open["profile"] == r["profile"])
            ].iloc[0]
            assert got["demand_newly_covered"] == fmt_people(r["demand_newly_covered"])
            assert got["demand_newly_covered_open_data_only"] == fmt_people(
                o["demand_newly_covered"]
            )  # every synthetic profile has modelled sites: both numbers shown
            assert got["communes_newly_covered"] == str(int(r["communes_newly_covered"]))
            assert got["demand_time_improved"] == fmt_people(r["demand_time_improved"])
            assert got["catchment_demand"] == fmt_people(r["catchment_demand"])
            assert got["overlap_share"] == fmt_share(r["overlap_share"])
            assert got["p50_min"] == f"{r['p50_before_min']:.1f} → {r['p50_after_min']:.1f}"
            assert got["p90_min"] == f"{r['p90_before_min']:.1f} → {r['p90_after_min']:.1f}"
            seen += 1
    assert seen >= 8
    # the two numbers differ somewhere (the modelled completion matters in this region)
    both = call.cards
    assert (both["demand_newly_covered"] != both["demand_newly_covered_open_data_only"]).any()


def naive_newly_covered(region, sites, cand, key: str) -> float:
    """By hand: times with and without the candidate from the model, covered demand summed."""
    prof = synthetic_profiles()[key]
    model = region.model
    elig = access.eligible(prof, sites)
    row = pd.DataFrame(
        {"x_l93": [cand["x_l93"]], "y_l93": [cand["y_l93"]], "insee": [cand["insee"]]}
    )
    plus = pd.concat([elig[["x_l93", "y_l93", "insee"]], row], ignore_index=True)
    before = np.asarray(access.nearest_to(model, elig).time_s, float)
    after = np.asarray(access.nearest_to(model, plus).time_s, float)
    thr = prof.thresholds_min["road"] * 60.0
    demand = access.profile_demand(prof, region.communes)
    total = 0.0
    for t0, t1, d in zip(before, after, demand, strict=True):
        if t1 <= thr and not t0 <= thr:
            total += d
    return total


def test_one_report_checked_by_hand(region, call):
    """The first-ranked application: its newly covered demand recomputed naively, both numbers."""
    app = call.applications[0]
    cells = card_cells(reports.report_page(call, app))
    cand = app.candidate
    for (key, _mode), got in cells.items():
        assert got["demand_newly_covered"] == fmt_people(
            naive_newly_covered(region, region.sites, cand, key)
        )
        assert got["demand_newly_covered_open_data_only"] == fmt_people(
            naive_newly_covered(region, open_data_sites(region.sites), cand, key)
        )
    # the ranking: newly covered summed over the profiles served, best first
    totals = call.ranking["demand_newly_covered"].to_numpy()
    assert (np.diff(totals) <= 1e-9).all()
    naive_total = sum(
        naive_newly_covered(region, region.sites, cand, k) for k in app.cards["profile"]
    )
    assert call.ranking["demand_newly_covered"].iloc[0] == pytest.approx(naive_total)


def test_nearest_network_site_is_the_closest_one(region, call):
    """The nearest existing site of the network: the minimum over its sites taken one by one."""
    for app in call.applications:
        net = region.sites[region.sites["network"] == app.candidate["network"]]
        times = [
            float(np.asarray(access.nearest_to(region.model, net.iloc[[i]]).time_s)[app.host_row])
            for i in range(len(net))
        ]
        best = int(np.argmin(times))
        near = app.nearest.iloc[0]
        assert near["time_min"] == pytest.approx(times[best] / 60.0)
        assert near["site_name"] == net["name"].iloc[best]
        assert near["site_status"] == (
            "modelled" if net["provenance"].iloc[best] == "modelled" else "real"
        )
        assert region.communes["insee"].iloc[app.host_row] == app.candidate["insee"]


def test_report_page_map_labels_and_escaping(region, call):
    app = next(a for a in call.applications if "Nord" in a.candidate["name"])
    text = reports.report_page(call, app)
    # the user's name is text, never markup
    assert "<b>Nord</b>" not in text and "&lt;b&gt;Nord&lt;/b&gt; &amp; co" in text
    assert "<script" not in text.lower() and "http://" not in text.replace(
        "http://www.w3.org/2000/svg", ""
    )
    # the map: one path per commune of the area; the newly covered ones are those of the
    # what-if's changes (primary mode, any profile)
    svg = re.search(r"<svg.*?</svg>", text, re.S).group(0)
    ch = call.whatif.changes
    ch = ch[(ch["candidate_id"] == app.candidate["candidate_id"]) & (ch["mode"] == "road")]
    new = set(ch.loc[ch["status_change"] == "newly covered", "nom"])
    drawn_new = set(re.findall(r"<path class='commune new'[^>]*><title>([^<]*)</title>", svg))
    assert drawn_new == new and new
    assert svg.count("<path class='commune") >= len(set(ch["nom"]))
    assert svg.count("class='candidate'") == 1
    # the PDF's map: the same outlines, one path per colour
    merged = reports.commune_map_svg(call, app, merged=True)
    one = dict(re.findall(r"<path class='communes (\w+)' d='([^']*)'", merged))
    per = re.findall(r"<path class='commune (\w+)' d='([^']*)'", svg)
    for cls in ("new", "faster"):
        assert one.get(cls, "") == "".join(d for k, d in per if k == cls)
    assert "new" in one
    # labels: times, sites, demand
    assert "ESTIMATED" in text and "modelled" in text and "open-data sites only" in text


def test_real_only_call_has_one_number(region):
    """On open-data sites alone there is no second run, and the numbers are that run's."""
    cands = read_call_csv(call_csv(region).encode(), region.communes)
    real = open_data_sites(region.sites)
    call = evaluate_call(region.model, real, region.communes, cands, profiles=synthetic_profiles())
    assert call.open_data is None
    text = reports.report_page(call, call.applications[0])
    assert "open data only" not in text and "no modelled site" in text
    ref = what_if(region.model, real, region.communes, cands, profiles=synthetic_profiles()).cards
    got = call.cards.set_index(["candidate_id", "profile"])["demand_newly_covered"]
    exp = ref.set_index(["candidate_id", "profile"])["demand_newly_covered"]
    pd.testing.assert_series_equal(got.sort_index(), exp.sort_index())


def test_bad_rows_are_refused_with_file_row_and_fix(region, tmp_path):
    from analysis.errors import ValidationError

    p = tmp_path / "call.csv"
    p.write_text(call_csv(region, bad=True), encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        read_call_csv(p, region.communes)
    msg = str(e.value)
    assert str(p) in msg and "row 6" in msg and "unknown network 'Nowhere'" in msg
    assert "fix the row" in msg


def test_a_second_export_replaces_the_previous_set_whole(region, call, tmp_path):
    out = tmp_path / "o"
    files = call.export(out)
    names = {p.name for p in files.values()}
    assert {f"{report_name(a.candidate['candidate_id'])}.html" for a in call.applications} <= names
    (out / "mine.txt").write_text("keep", encoding="utf-8")
    from analysis.errors import OverwriteRefusedError

    with pytest.raises(OverwriteRefusedError):
        call.export(out)
    cands = read_call_csv(call_csv(region).encode(), region.communes).iloc[:2]
    small = evaluate_call(
        region.model, region.sites, region.communes, cands, profiles=synthetic_profiles()
    )
    small.export(out, overwrite=True)
    reps = sorted(p.name for p in out.glob("report_*.html"))
    assert reps == sorted(f"{a.report}.html" for a in small.applications)  # stale ones gone
    assert (out / "mine.txt").read_text(encoding="utf-8") == "keep"
    from analysis.present.outputs import verify_output_set

    assert verify_output_set(out)


# --------------------------------------------------------------------------- PDF
needs_pdf = pytest.mark.skipif(
    reports.pdf_unavailable() is not None,
    reason=f"PDF reports cannot be drawn here: {reports.pdf_unavailable()}",
)


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        _Counter.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@needs_pdf
def test_pdf_is_one_page_and_fetches_nothing(region, call):
    import weasyprint

    app = call.applications[0]
    pdf = reports.report_pdf(call, app)
    assert pdf.startswith(b"%PDF")
    for each in call.applications:  # one page each
        doc = weasyprint.HTML(string=reports.report_page(call, each, for_pdf=True)).render()
        assert len(doc.pages) == 1, each.candidate["name"]
    # a page naming a remote image: the fetcher refuses it, a data: image is kept
    server = HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/x.png"
        page = (
            f"<html><body><img src='{url}'><link rel='stylesheet' href='{url}.css'>"
            "<img src='data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADU"
            "lEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='>text</body></html>"
        )
        import logging

        logging.getLogger("weasyprint").setLevel(logging.CRITICAL)
        out = reports.html_to_pdf(page)
    finally:
        server.shutdown()
        server.server_close()
    assert out.startswith(b"%PDF")
    assert _Counter.hits == []


@needs_pdf
def test_cli_pdf_reports(region, tmp_path, capsys, synthetic_cli):
    csv = tmp_path / "call.csv"
    csv.write_text(call_csv(region), encoding="utf-8")
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(tmp_path / "o"), "--pdf"])
    _, err = capsys.readouterr()
    assert rc == 0, err
    pdfs = sorted((tmp_path / "o").glob("report_*.pdf"))
    assert len(pdfs) == 5 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    assert "report_C1.pdf" in (tmp_path / "o" / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def synthetic_cli(region, monkeypatch):
    monkeypatch.setattr(
        planning_cmd,
        "_load_inputs",
        lambda args: (
            region.communes,
            open_data_sites(region.sites) if args.real_only else region.sites,
            synthetic_profiles(),
        ),
    )
    monkeypatch.setattr(
        planning_cmd,
        "_load_models",
        lambda modes, communes, road, date: {m: region.model for m in modes},
    )


def test_cli_batch_writes_ranked_table_and_reports(region, call, tmp_path, capsys, synthetic_cli):
    csv = tmp_path / "call.csv"
    csv.write_text(call_csv(region), encoding="utf-8")
    out_dir = tmp_path / "o"
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "ESTIMATED" in out and "with the open-data sites only" in out
    ranking = pd.read_csv(out_dir / "ranking.csv", dtype={"insee": str})
    # ranking order: the what-if's (newly covered summed over profiles, ties by minutes)
    ref = what_if(
        region.model, region.sites, region.communes,
        read_call_csv(csv, region.communes), profiles=synthetic_profiles(),
    ).ranking  # fmt: skip
    assert ranking["candidate_id"].tolist() == ref["candidate_id"].tolist()
    assert ranking["rank"].tolist() == [1, 2, 3, 4, 5]
    assert ranking["demand_newly_covered"].is_monotonic_decreasing
    assert (ranking["times_are"] == "estimated").all()
    assert ranking["run_provenance"].str.contains("modelled").all()
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    for _, r in ranking.iterrows():
        assert (out_dir / r["report"]).is_file()
        assert f"href='{r['report']}'" in index
    assert index.index(ranking["report"].iloc[0]) < index.index(ranking["report"].iloc[-1])
    assert (out_dir / "metadata.json").is_file() and (out_dir / "cards.csv").is_file()
    # an existing non-empty folder is refused without --overwrite, taken with it
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(out_dir)])
    _, err = capsys.readouterr()
    assert rc == 2 and "not empty" in err and "--overwrite" in err
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(out_dir), "--overwrite",
               "--real-only"])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "open-data sites only" not in out  # one number: no modelled site in the run


def test_cli_bad_csv_exits_2_with_the_row(region, tmp_path, capsys, synthetic_cli):
    csv = tmp_path / "call.csv"
    csv.write_text(call_csv(region, bad=True), encoding="utf-8")
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(tmp_path / "o")])
    _, err = capsys.readouterr()
    assert rc == 2
    line = [x for x in err.splitlines() if x.strip()]
    assert len(line) == 1, err
    assert str(csv) in err and "row 6" in err and "Nowhere" in err and "valid networks are" in err
    assert not (tmp_path / "o").exists()  # nothing written
    csv.write_text("name,network\nA,CIO\n", encoding="utf-8")
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(tmp_path / "o")])
    _, err = capsys.readouterr()
    assert rc == 2 and "no position column" in err


# --------------------------------------------------------------------------- app
def test_whatif_page_reports_for_a_call():
    """The what-if page's "Reports for a call": ranked table and zip of the reports."""
    import io
    import zipfile

    from streamlit.testing.v1 import AppTest

    from analysis import settings

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    old = settings.use_network
    settings.use_network = False
    try:
        at = AppTest.from_file(str(ROOT / "app" / "pages" / "2_Labelling_what-if.py"),
                               default_timeout=240)  # fmt: skip
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at.button(key="wi_rep_build").click().run()
        assert any("applications as candidates first" in e.value for e in at.error)
        at.text_area(key="wi_csv_text").input(
            "name,network,commune\n<i>Perm</i> Yssingeaux,Mission Locale,Yssingeaux\n"
            "Antenne Brioude,CIO,Brioude\n"
        )
        at.button(key="wi_load_csv").click().run()
        at.button(key="wi_rep_build").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        ranking = next(df.value for df in at.dataframe if "profiles_served" in df.value.columns)
        assert len(ranking) == 2 and ranking["rank"].tolist() == [1, 2]
        assert ranking["demand_newly_covered"].is_monotonic_decreasing
        built = at.session_state["wi_call"]
        z = zipfile.ZipFile(io.BytesIO(built["zip"]))
        names = set(z.namelist())
        assert {"index.html", "ranking.csv", "report_C1.html", "report_C2.html"} <= names
        rep = z.read("report_C1.html").decode("utf-8")
        assert "&lt;i&gt;Perm&lt;/i&gt;" in rep and "<i>Perm" not in rep
        assert "MODELLED" in rep  # main-road times, labelled
        zipped = pd.read_csv(io.BytesIO(z.read("ranking.csv")))
        assert zipped["candidate_id"].tolist() == ranking["candidate_id"].tolist()
        assert built["ranking_csv"] == z.read("ranking.csv")
        assert not any(n.endswith(".pdf") for n in names)
        # the candidates change: the reports say they are out of date
        at.text_area(key="wi_csv_text").input("name,network,commune\nTrois,CIO,Le Puy-en-Velay\n")
        at.button(key="wi_load_csv").click().run()
        assert any("candidates changed" in w.value for w in at.warning)
        if reports.pdf_unavailable() is None:  # with the PDFs
            at.checkbox(key="wi_rep_pdf").check()
            at.button(key="wi_rep_build").click().run()
            assert not at.exception, [e.value for e in at.exception]
            z = zipfile.ZipFile(io.BytesIO(at.session_state["wi_call"]["zip"]))
            pdfs = [n for n in z.namelist() if n.endswith(".pdf")]
            assert len(pdfs) == 3 and z.read(pdfs[0]).startswith(b"%PDF")
            assert not any("candidates changed" in w.value for w in at.warning)
    finally:
        settings.use_network = old


class TransitLike:
    """A non-road access model (only ``.nearest``), answering like the road model."""

    mode = "transit"
    estimated = False
    label = "test transit"

    def __init__(self, road):
        self.road = road

    def nearest(self, x, y, host_ids=None):
        return self.road.nearest(x, y, host_ids=host_ids)


def test_two_modes_and_an_application_no_profile_serves(region):
    """Road + a transit-like model: a row per mode; a network no profile serves: ranked last."""
    c = region.communes
    text = call_csv(region) + f"Cap Emploi Est,Cap Emploi,{c['insee'].iloc[50]}\n"
    cands = read_call_csv(text.encode(), c)
    models = {"road": region.model, "transit": TransitLike(region.model)}
    call = evaluate_call(models, region.sites, c, cands, profiles=synthetic_profiles())
    ref = what_if(models, region.sites, c, cands, profiles=synthetic_profiles(),
                  incremental=False).cards  # fmt: skip
    for app in call.applications[:-1]:
        cells = card_cells(reports.report_page(call, app))
        modes = {m for _, m in cells}
        assert modes == {"road", "transit"}
        for _, r in ref[ref["candidate_id"] == app.candidate["candidate_id"]].iterrows():
            got = cells[(r["profile"], r["mode"])]
            assert got["demand_newly_covered"] == fmt_people(r["demand_newly_covered"])
        # the nearest site of its network answers per mode (the same times here)
        assert list(app.nearest["mode"]) == ["road", "transit"]
        assert app.nearest["time_min"].iloc[0] == pytest.approx(app.nearest["time_min"].iloc[1])
    last = call.applications[-1]
    assert last.candidate["name"] == "Cap Emploi Est" and last.rank == len(call.applications)
    assert last.cards.empty and any("Cap Emploi Est" in n for n in call.notes)
    page = reports.report_page(call, last)
    assert "serves none of the profiles" in page and "no Cap Emploi site reachable" in page
    assert call.ranking["rank"].tolist() == list(range(1, 7))
    assert call.ranking["demand_newly_covered"].iloc[-1] == 0
    assert "Times are ESTIMATED (road, transit)" in reports.index_page(call)


@needs_pdf
def test_two_mode_reports_stay_on_one_page(region):
    import weasyprint

    cands = read_call_csv(call_csv(region).encode(), region.communes)
    models = {"road": region.model, "transit": TransitLike(region.model)}
    call = evaluate_call(
        models, region.sites, region.communes, cands, profiles=synthetic_profiles()
    )
    assert max(len(a.cards) for a in call.applications) == 4
    for app in call.applications:
        doc = weasyprint.HTML(string=reports.report_page(call, app, for_pdf=True)).render()
        assert len(doc.pages) == 1, app.candidate["name"]


def test_cli_on_the_bundled_data_real_only_and_a_profiles_file(tmp_path, capsys):
    """label-reports end to end on the real inputs, with --real-only and --profiles-file."""
    import shutil

    from analysis import profiles as profiles_mod

    mine = tmp_path / "mine.toml"
    shutil.copy(Path(profiles_mod.__file__).with_name("profiles.toml"), mine)
    text = mine.read_text(encoding="utf-8")
    text = text.replace("[profiles.young_16_25]", "[profiles.jeunes]")
    mine.write_text(text.replace("[profiles.young_16_25.", "[profiles.jeunes."), encoding="utf-8")
    csv = tmp_path / "call.csv"
    csv.write_text(
        "name,network,commune\nPermanence,Mission Locale,Yssingeaux\nAntenne,CIO,Brioude\n",
        encoding="utf-8",
    )
    out_dir = tmp_path / "o"
    rc = main(["label-reports", "--candidates", str(csv), "--out", str(out_dir), "--real-only",
               "--profiles-file", str(mine)])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "MODELLED times" in out and "open-data sites only" not in out
    assert "modelled" not in out.split("sites:")[1].splitlines()[0]  # no modelled site
    cards = pd.read_csv(out_dir / "cards.csv")
    assert "jeunes" in set(cards["profile"]) and "young_16_25" not in set(cards["profile"])
    assert (cards["modelled_sites_serving"] == 0).all()
    ranking = pd.read_csv(out_dir / "ranking.csv")
    assert sorted(ranking["name"]) == ["Antenne", "Permanence"]
    for name in ranking["report"]:
        page = (out_dir / name).read_text(encoding="utf-8")
        assert "<svg" in page and "no modelled site" in page and "MODELLED" in page
