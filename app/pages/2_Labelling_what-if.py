"""Labelling application (what-if): what does a candidate site add, what does a closure lose?

Thin page: candidates are entered here (map click, commune form, CSV) and evaluated by
:class:`analysis.planning.whatif.WhatIf` (incremental passes on the road model).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import present, settings
from analysis.errors import SproError
from analysis.planning import common
from analysis.planning.candidates import (
    DEFAULT_KIND,
    candidates_from_records,
    read_candidates_csv,
)
from analysis.planning.whatif import WhatIf
from analysis.present.context import commune_at_click
from analysis.present.planner_maps import add_site_dots, base_map, finish
from app import components, loaders, page, widgets

page.setup("labelling what-if")

MODE_LABELS = {
    "road": "Road (car)",
    "transit": "Public transport (timetables)",
    "best": "Best of both",
}
KINDS = ("permanence", "site", "antenne")


@st.cache_resource(show_spinner="Computing today's times for every profile…", max_entries=8)
def session(modes: tuple[str, ...], road: str) -> WhatIf:
    """One what-if session per set of modes (baselines computed once, then shared)."""
    models = {m: loaders.load_access_model(m, road) for m in modes}
    return WhatIf(models, loaders.load_sites(), loaders.load_communes(), loaders.load_profiles())


try:
    communes = loaders.load_communes()
    sites = loaders.load_sites()
    profiles = loaders.load_profiles()
    road_model = loaders.load_road_model()
except SproError as exc:
    page.stop_on_load_error(exc)

networks = sorted(set(sites["network"].astype(str)))
st.session_state.setdefault("wi_candidates", [])

# --------------------------------------------------------------------------- sidebar
with st.sidebar:
    st.header("Evaluation")
    modes_avail = ["road", *(["transit", "best"] if loaders.transit_available() else [])]
    modes = st.multiselect(
        "Modes", modes_avail, default=["road"], format_func=MODE_LABELS.get, key="wi_modes"
    )
    rank_by = st.selectbox(
        "Rank candidates by",
        ["(all profiles they serve)", *profiles],
        format_func=lambda k: profiles[k].label if k in profiles else k,
        key="wi_rank_by",
    )
    basemap = widgets.basemap_select("wi_basemap")
    widgets.road_model_caption(road_model)

st.title("Labelling application — what does this site add?")
prov = common.sites_line(sites)
(st.warning if road_model.estimated else st.info)(
    f"Times: {road_model.label} ({road_model.times_are.upper()}). "
    f"Today's {prov}. Modelled sites stand where real data are missing."
)

# --------------------------------------------------------------------------- candidates
tab_map, tab_form, tab_csv, tab_close = st.tabs(
    ["Click on the map", "Commune form", "CSV of candidates", "Close a site"]
)


def room_for(n: int) -> bool:
    """Whether ``n`` more candidates fit under the page's limit (says so when not)."""
    have = len(st.session_state["wi_candidates"])
    cap = settings.whatif_page_max_candidates
    if have + n <= cap:
        return True
    page.error(
        f"This page evaluates at most {cap:,} candidates at once: you have {have:,} and are "
        f"adding {n:,}. Clear the list or split the file; for a whole call use the batch "
        "mode, `spro-access label-reports --candidates FILE --out DIR`, which takes any number."
    )
    return False


def add_record(rec: dict) -> None:
    if room_for(1):
        st.session_state["wi_candidates"].append(rec)


with tab_map:
    c1, c2 = st.columns([3, 1])
    with c2:
        net_click = st.selectbox("Network", networks, key="wi_click_net")
        kind_click = st.selectbox("Kind", KINDS, key="wi_click_kind")
        name_click = st.text_input("Name", value="Candidate", key="wi_click_name")
    with c1:
        shown = sites[sites["network"] == net_click]
        fmap = base_map(shown["lon"].to_numpy(float), shown["lat"].to_numpy(float), basemap=basemap)
        add_site_dots(fmap, shown, name=f"Today's {net_click} sites ({len(shown)})", radius=4)
        clicked = components.show_map(
            components.map_payload(
                present.inline_leaflet(finish(fmap)), height=420, returned=("last_clicked",)
            )
        )
        page.caption(
            f"Grey dots: today's {net_click} sites. Click where the candidate would stand: "
            "the commune under the click fills the commune form."
        )
    last = (clicked or {}).get("last_clicked")
    if last:
        hit = commune_at_click(communes, last.get("lng"), last.get("lat"))
        if hit.found:
            page.info(f"{hit.message} Clicked at {hit.lon:.5f}, {hit.lat:.5f}.")
            # a new click fills the commune form (later changes in the form are kept)
            if st.session_state.get("wi_last_click") != (hit.lon, hit.lat):
                st.session_state["wi_last_click"] = (hit.lon, hit.lat)
                st.session_state["wi_form_commune"] = f"{hit.name} — {hit.insee}"
                st.session_state["wi_form_net"] = net_click
                page.caption("The commune form (next tab) now holds this commune.")
        else:
            page.warning(hit.message)
        if hit.found and st.button("Add this point as a candidate", key="wi_add_click"):
            add_record(
                {
                    "name": name_click,
                    "network": net_click,
                    "kind": kind_click,
                    "lon": last["lng"],
                    "lat": last["lat"],
                }
            )

with tab_form:
    f1, f2, f3, f4 = st.columns(4)
    name_f = f1.text_input("Name", value="Candidate", key="wi_form_name")
    net_f = f2.selectbox("Network", networks, key="wi_form_net")
    kind_f = f3.selectbox("Kind", KINDS, key="wi_form_kind")
    options = (communes["nom"] + " — " + communes["insee"]).tolist()
    commune_f = f4.selectbox("Commune", options, key="wi_form_commune")
    address_f = st.text_input(
        "Address (kept as text; the site stands at the commune's town hall)", key="wi_form_address"
    )
    if st.button("Add candidate", key="wi_add_form"):
        add_record(
            {
                "name": name_f,
                "network": net_f,
                "kind": kind_f,
                "insee": commune_f.rsplit(" — ", 1)[1],
                "address": address_f,
            }
        )


#: Messages (rows left out) shown one by one; the rest are counted in one line.
MAX_MESSAGES = 20
#: Candidate cards drawn per page (the ranking table and the downloads hold them all).
CARDS_PER_PAGE = 20


def show_messages(messages: list[str], *, prefix: str = "") -> None:
    """Show the first messages as warnings and count the others (a page stays light)."""
    for msg in messages[:MAX_MESSAGES]:
        page.warning(prefix + msg)
    if len(messages) > MAX_MESSAGES:
        page.warning(
            f"… and {len(messages) - MAX_MESSAGES:,} more row(s) left out (not shown here; "
            "fix the file and load it again)"
        )


def load_csv(data: bytes) -> None:
    """Read a candidates CSV held in memory; add its good rows, report the bad ones."""
    try:
        load = read_candidates_csv(data, communes)
    except SproError as exc:
        page.error(str(exc))
        return
    show_messages(load.messages())
    if not room_for(len(load.candidates)):
        return
    for rec in load.candidates.drop(columns="geometry").to_dict("records"):
        add_record({k: rec[k] for k in ("name", "network", "kind", "lon", "lat", "address")})
    page.success(f"{len(load.candidates)} candidate(s) loaded")


with tab_csv:
    page.caption(
        "Columns: name, network, kind (optional), and lon + lat or insee / commune. "
        "Comma or semicolon separated, UTF-8. Bad rows are listed; good rows load."
    )
    up = st.file_uploader("CSV file", type=["csv", "txt"], key="wi_csv")
    # Size checked before reading; the upload is read from memory, never saved.
    too_big = loaders.upload_error(up.size, up.name) if up is not None else None
    if too_big:
        page.error(too_big)
    pasted = st.text_area("…or paste the CSV here", key="wi_csv_text", height=120)
    if st.button("Load candidates", key="wi_load_csv"):
        if up is None:
            text = pasted.encode("utf-8")
            too_big = loaders.upload_error(len(text), "pasted text")
            if too_big:
                page.error(too_big)
            else:
                load_csv(text)
        elif not too_big:  # (a file too large is refused above)
            load_csv(up.getvalue())

with tab_close:
    labels = (
        sites["site_id"].astype(str)
        + " — "
        + sites["name"].astype(str)
        + " ("
        + sites["network"].astype(str)
        + ")"
    ).tolist()
    closing = st.multiselect("Sites to close (each evaluated alone)", labels, key="wi_close")

records = st.session_state["wi_candidates"]
st.subheader(f"Candidates ({len(records)}) and closures ({len(closing)})")
if records:
    st.dataframe(pd.DataFrame(records), hide_index=True, key="wi_cand_table")
    if st.button("Clear the candidates", key="wi_clear"):
        st.session_state["wi_candidates"] = []
        st.rerun()

if st.button("Evaluate", type="primary", key="wi_evaluate"):
    load = candidates_from_records(records, communes, source="candidates")
    st.session_state["wi_skipped"] = load.messages()
    st.session_state.pop("wi_result", None)
    if not modes:
        page.error("Choose at least one mode.")
    else:
        try:
            with st.spinner("Evaluating…"):
                st.session_state["wi_result"] = session(tuple(modes), "auto").evaluate(
                    load.candidates if len(load.candidates) else None,
                    remove=[lab.split(" — ", 1)[0] for lab in closing],
                    rank_by=None if rank_by not in profiles else rank_by,
                )
        except SproError as exc:
            page.error(str(exc))
show_messages(st.session_state.get("wi_skipped", []), prefix="Skipped: ")

# --------------------------------------------------------------------------- reports for a call
#: Most applications one batch of reports takes here (the command line takes any number).
MAX_CALL_REPORTS = 200


@st.cache_resource(show_spinner="Computing today's times on the open-data sites…", max_entries=4)
def open_session(modes: tuple[str, ...], road: str):
    """The what-if session on the open-data sites only (the two-number rule), shared."""
    from analysis.planning.labelling import load_open_session

    return load_open_session(session(modes, road))


with st.expander("Reports for a call", expanded=bool(st.session_state.get("wi_call"))):
    from analysis.planning.labelling import evaluate_call
    from analysis.present.reports import pdf_unavailable

    page.caption(
        "One printable page per candidate above (the committee's file: map of the communes it "
        "newly covers, demand newly covered per profile and mode, overlap, labels) and the "
        "ranked table. Closures are not part of a call. Same files as "
        "`spro-access label-reports`."
    )
    no_pdf = pdf_unavailable()
    want_pdf = st.checkbox(
        "Include the PDFs", value=False, key="wi_rep_pdf", disabled=bool(no_pdf), help=no_pdf
    )
    if st.button("Build the reports", key="wi_rep_build"):
        st.session_state.pop("wi_call", None)
        if not records:
            page.error("Add the call's applications as candidates first (form, map or CSV).")
        elif len(records) > MAX_CALL_REPORTS:
            page.error(
                f"{len(records):,} candidates: this page builds at most {MAX_CALL_REPORTS} "
                "reports at a time; run `spro-access label-reports --candidates FILE --out DIR` "
                "for the whole call."
            )
        elif not modes:
            page.error("Choose at least one mode.")
        else:
            call_load = candidates_from_records(records, communes, source="candidates")
            show_messages(call_load.messages(), prefix="Not in the reports: ")
            try:
                with st.spinner("Evaluating the call and drawing its reports…"):
                    wi = session(tuple(modes), "auto")
                    call = evaluate_call(
                        wi.models, wi.sites, communes, call_load.candidates, session=wi,
                        open_session=open_session(tuple(modes), "auto"),
                    )  # fmt: skip
                    st.session_state["wi_call"] = {
                        "ranking": call.ranking,
                        "ranking_csv": present.table_csv_bytes(call.output_set(), "ranking"),
                        "zip": call.zip_bytes(pdf=want_pdf and not no_pdf),
                        "notes": call.notes,
                        "records": [dict(r) for r in records],
                    }
            except SproError as exc:
                page.error(str(exc))
    built = st.session_state.get("wi_call")
    if built:
        if built["records"] != records:
            page.warning(
                "The candidates changed since these reports were built: press *Build the "
                "reports* again."
            )
        for note in built["notes"]:
            page.caption(note)
        st.dataframe(built["ranking"], hide_index=True, key="wi_rep_ranking")
        r1, r2 = st.columns(2)
        r1.download_button(
            "Ranked table (CSV)", built["ranking_csv"], file_name="ranking.csv",
            mime="text/csv", key="wi_rep_dl_ranking",
        )  # fmt: skip
        r2.download_button(
            "Reports (zip: index, one report per application)", built["zip"],
            file_name="label_reports.zip", mime="application/zip", key="wi_rep_dl_zip",
        )  # fmt: skip

result = st.session_state.get("wi_result")
if result is None:
    page.info("Add candidates (or choose sites to close), then press *Evaluate*.")
    st.stop()

# --------------------------------------------------------------------------- cards
est = f" ({result.times_are})" if result.estimated else ""
cards = result.cards
for note in result.notes:
    page.caption(note)
groups = sorted(cards.groupby("candidate_id", sort=False), key=lambda g: g[1]["rank"].min())
n_pages = max(1, -(-len(groups) // CARDS_PER_PAGE))
if n_pages > 1:
    card_page = int(
        st.number_input(
            f"Cards page (of {n_pages}; {CARDS_PER_PAGE} per page, best ranked first)",
            min_value=1,
            max_value=n_pages,
            value=1,
            key="wi_card_page",
        )
    )
    page.caption(
        f"{len(groups):,} candidates and closures: their cards are shown {CARDS_PER_PAGE} at "
        "a time; the ranking table and the downloads hold them all."
    )
else:
    card_page = 1
first_card = (card_page - 1) * CARDS_PER_PAGE
for _, group in groups[first_card : first_card + CARDS_PER_PAGE]:
    first = group.iloc[0]
    verb = "candidate" if first["action"] == "add" else "closure"
    st.markdown(f"#### #{first['rank']:.0f} · {verb}")
    st.text(f"{first['candidate_name']} — {first['network']}, {first['kind']}")
    cols = st.columns(min(len(group), 4))
    for i, (_, r) in enumerate(group.iterrows()):
        with cols[i % len(cols)]:
            page.caption(
                f"{profiles[r['profile']].label} · {MODE_LABELS.get(r['mode'], r['mode'])}"
                f" · {r['threshold_min']:g} min"
            )
            if r["action"] == "add":
                st.metric(f"Newly covered{est}", f"{r['demand_newly_covered']:,.0f}")
                st.metric(
                    f"Time improves for{est}",
                    f"{r['demand_time_improved']:,.0f}",
                    help=f"mean gain {r['mean_gain_min']:.1f} min, max {r['max_gain_min']:.1f}",
                )
                ov = r["overlap_share"]
                st.metric(
                    "Overlap with existing catchments", "—" if pd.isna(ov) else f"{100 * ov:.0f} %"
                )
            else:
                st.metric(f"Losing cover{est}", f"{r['demand_losing_cover']:,.0f}")
                st.metric(
                    f"Time worsens for{est}",
                    f"{r['demand_time_worsened']:,.0f}",
                    help=f"mean loss {r['mean_loss_min']:.1f} min",
                )
            page.caption(
                f"P50 {r['p50_before_min']:.1f} → {r['p50_after_min']:.1f} min; "
                f"P90 {r['p90_before_min']:.1f} → {r['p90_after_min']:.1f} min"
            )

tab_side, tab_changes, tab_rmap, tab_dl = st.tabs(
    ["Side by side", "Communes that change", "Map", "Downloads"]
)
with tab_side:

    def _fmt(v):
        if isinstance(v, float):
            return "—" if pd.isna(v) else f"{v:,.2f}"
        return str(v)

    st.dataframe(result.side_by_side().map(_fmt), key="wi_side")
    page.caption(
        "Catchment: communes for which the candidate becomes the nearest eligible site within "
        "the threshold; overlap: the share of its demand already covered today."
    )
with tab_changes:
    st.dataframe(result.changes.drop(columns="geometry"), hide_index=True, key="wi_changes")
with tab_rmap:
    components.show_static_map(result.map(basemap=basemap), height=520)
with tab_dl:
    d = st.columns(4)
    out_set = result.output_set()
    widgets.table_download(
        d[0], "Cards (CSV)", out_set, "cards", file_name="cards.csv", key="wi_dl_cards"
    )
    widgets.table_download(
        d[1], "Changed communes (CSV)", out_set, "changes", file_name="changes.csv",
        key="wi_dl_changes",
    )  # fmt: skip
    if len(result.changes):
        widgets.gpkg_download(d[2], result.output_set, file_name="whatif.gpkg", key="wi_dl_gpkg")
    widgets.map_download(
        d[3], lambda: result.map(basemap=basemap), file_name="whatif_map.html", key="wi_dl_html"
    )
page.caption(f"Provenance: {result.provenance}. Default kind of a new site: {DEFAULT_KIND}.")
