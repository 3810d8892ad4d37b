"""SPRO access — coverage map: who is far from a career-guidance site, for which public?

Run with ``spro-access app`` (or ``streamlit run app/Home.py``). The page is thin: data come
from ``app/loaders.py`` (cached), figures and maps from the library (``analysis``).
"""

from __future__ import annotations

import html
import math

import streamlit as st

from analysis import present
from analysis.errors import SproError
from analysis.present.coverage_map import COLOUR_BY, commune_filter
from analysis.territory import DENSITY7_LABELS
from app import components, loaders, page, widgets

page.setup("coverage", sidebar="expanded")

st.markdown(
    """
    <style>
    .block-container { padding-top: 1.6rem; padding-bottom: 2rem; }
    [data-testid="stMetricValue"] { font-size: 1.55rem; }
    [data-testid="stMetricLabel"] p { font-size: 0.82rem; }
    [data-testid="stAppDeployButton"] { display: none; }
    .spro-head { font-weight: 600; margin: 0.2rem 0 -0.4rem 0; }
    .spro-est { color: #8a4b00; }
    dl.spro-card { margin: 0; font-size: 0.86rem; }
    dl.spro-card dt { color: #666; font-weight: 400; font-size: 0.76rem; margin-top: 0.35rem; }
    dl.spro-card dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
    .spro-sub { color: #555; margin-top: -0.6rem; margin-bottom: 0.6rem; }
    </style>
    """,
    unsafe_allow_html=True,
)

MODE_LABELS = {
    "road": "Road (car)",
    "transit": "Public transport (timetables)",
    "best": "Best of road and transit",
}
GROUPINGS = {
    "dep": "Department",
    "urban_class": "Urban / rural class",
    "density": "INSEE density level (7)",
    "frr": "France Ruralités Revitalisation",
    "epci": "EPCI (intercommunality)",
    "region": "Whole region",
}

# --------------------------------------------------------------------------- data & controls

try:
    profiles = loaders.load_profiles()
    loaders.load_communes()  # fail early, with a message, if the commune layer is missing
except SproError as exc:
    page.stop_on_load_error(exc)

profile_keys = list(profiles)
modes = ["road", *(["transit", "best"] if loaders.transit_available() else [])]


def _default_threshold() -> int:
    prof = profiles[st.session_state["profile"]]
    mode = st.session_state["mode"]
    try:
        value = prof.threshold(mode)
    except SproError:
        value = prof.threshold("road")
    return int(min(180, max(5, round(value))))


def _reset_threshold() -> None:
    st.session_state["threshold"] = _default_threshold()


# the public of the first question opens the page, when the profiles file has it
DEFAULT_PROFILE = "young_16_25" if "young_16_25" in profiles else profile_keys[0]
st.session_state.setdefault("profile", DEFAULT_PROFILE)
st.session_state.setdefault("mode", "road")
if st.session_state["profile"] not in profiles:
    st.session_state["profile"] = DEFAULT_PROFILE
if st.session_state["mode"] not in modes:
    st.session_state["mode"] = "road"
st.session_state.setdefault("threshold", _default_threshold())
st.session_state.setdefault("basemap", "positron" if loaders.tiles_reachable() else "none")

with st.sidebar:
    st.header("View")
    profile_key = st.selectbox(
        "Public (profile)",
        profile_keys,
        format_func=lambda k: profiles[k].label,
        key="profile",
        on_change=_reset_threshold,
        help="Each public is served by its own networks (profiles file).",
    )
    profile = profiles[profile_key]
    served = (
        f"every SPRO network ({len(profile.networks)})"
        if len(profile.networks) > 8
        else ", ".join(profile.networks)
    )
    page.caption(f"Served by: {served}")
    mode = st.radio(
        "Mode",
        modes,
        format_func=MODE_LABELS.get,
        key="mode",
        on_change=_reset_threshold,
    )
    if mode in ("transit", "best"):
        try:
            tt = loaders.load_transit_model().timetable
            page.caption(
                "Timetables in force: "
                + "; ".join(
                    f"{f['name']} on {d.strftime('%a')} {d.isoformat()}"
                    + (f" ({f['service_label']})" if f.get("supplements") else "")
                    for f, d in zip(tt.feeds, tt.feed_days, strict=True)
                )
            )
            for w in tt.meta.get("warnings", []):
                page.caption(f"Warning: {w}")
        except Exception:
            pass
    if len(modes) == 1:
        page.caption(
            "Public transport and best-of-two need the transit module, "
            "not available in this installation."
        )
    threshold = st.slider(
        "Threshold (minutes)",
        min_value=5,
        max_value=180,
        step=5,
        key="threshold",
        format="%d min",
        help="Communes farther than this from an eligible site are flagged under-served.",
    )
    page.caption(f"Profile default for this mode: {_default_threshold():g} min")
    include_modelled = st.toggle(
        "Include modelled sites",
        value=True,
        key="include_modelled",
        help=(
            "Modelled sites complete networks whose open data falls short (Mission Locale "
            "permanences, Cap Emploi, Avenir Actifs). Switch off to see what the real "
            "open-data sites alone say."
        ),
    )
    basemap = widgets.basemap_select(
        "basemap",
        help="Without internet, tiles cannot load: keep 'No base map'; every layer still shows.",
    )
    colour_by = st.selectbox(
        "Colour the communes by",
        list(COLOUR_BY),
        format_func=COLOUR_BY.get,
        key="colour_by",
        help="The official classes of the communes (INSEE density grid, FRR zoning) in "
        "place of the time; the communes beyond the threshold stay outlined.",
    )
    density_filter = st.multiselect(
        "Show only the density levels",
        list(DENSITY7_LABELS),
        format_func=lambda k: f"{k} {DENSITY7_LABELS[k]}",
        key="filter_density",
        placeholder="every level",
        help="INSEE's 7-level density grid: 1 large urban centres … 5-7 rural. The other "
        "communes are drawn faint.",
    )
    frr_only = st.toggle(
        "Only France Ruralités Revitalisation communes",
        value=False,
        key="filter_frr",
        help="The FRR zoning (FRR and FRR+); the other communes are drawn faint.",
    )
    road = "auto"
    try:
        road_model = loaders.load_road_model(road)
        widgets.road_model_caption(road_model)
    except SproError as exc:
        page.error(f"No road model: {exc}")
        st.stop()

# --------------------------------------------------------------------------- coverage

try:
    result = loaders.coverage(profile_key, mode, float(threshold), road, include_modelled)
except SproError as exc:
    page.error(f"No coverage for this view: {exc}")
    st.stop()
except Exception as exc:  # transit/best failures must read clearly, not as a traceback
    if mode != "road":
        page.error(
            f"{MODE_LABELS[mode]} times could not be computed: {exc}. "
            "Choose *Road (car)* in the sidebar, or check the timetable (GTFS) data."
        )
        st.stop()
    raise

tables = loaders.view_tables(profile_key, mode, float(threshold), road, include_modelled)
head = tables["headline"]
est = f" ({result.times_are})" if result.estimated else ""

st.title("SPRO access — coverage map")
st.markdown(
    f'<div class="spro-sub">{html.escape(profile.label)} · {html.escape(MODE_LABELS[mode])} · '
    f"threshold {threshold:g} min · {len(result.sites)} eligible sites</div>",
    unsafe_allow_html=True,
)

facts = present.provenance_facts(result, loaders.load_sites(include_modelled))
banner = "  \n".join(  # our bold labels; the facts (file names...) escaped as text
    f"**{label}:** {page.text(value)}"
    for label, value in (
        ("Real", facts.real),
        ("Modelled", facts.modelled),
        ("Estimated", facts.estimated),
    )
)
if facts.estimated_times or facts.n_modelled:
    st.warning(banner, icon="⚠️")
else:
    st.info(banner, icon="ℹ️")


def _minutes(v: float) -> str:
    return f"{v:.0f} min" if math.isfinite(v) else "no service"


st.markdown(
    '<div class="spro-head">Headline figures'
    + (f' · <span class="spro-est">{result.times_are} times</span>' if result.estimated else "")
    + "</div>",
    unsafe_allow_html=True,
)
c = st.columns(6)
if head["sites_modelled"] > 0:  # a figure resting on modelled sites, beside the open-data one
    n_mod = f"{head['sites_modelled']:.0f} modelled sites"
    c[0].metric(
        f"Share beyond {threshold:g} min · open data only",
        f"{100 * head['share_beyond']:.1f} % · {100 * head['share_beyond_open_data_only']:.1f} %",
        help=f"With the {n_mod} that complete the open data, then with the open-data "
        f"sites alone. Share of the profile's demand (people){est} beyond the threshold.",
    )
    c[1].metric(
        "People beyond · open data only",
        f"{head['demand_beyond']:,.0f} · {head['demand_beyond_open_data_only']:,.0f}",
        help=f"With the {n_mod}, then with the open-data sites alone" + est,
    )
else:
    c[0].metric(
        f"Share beyond {threshold:g} min",
        f"{100 * head['share_beyond']:.1f} %",
        help=f"Share of the profile's demand (people){est} beyond the threshold.",
    )
    c[1].metric("People beyond", f"{head['demand_beyond']:,.0f}", help="Demand beyond" + est)
c[2].metric(
    "Communes beyond", f"{head['communes_beyond']:,.0f}", help="of " + f"{len(result.communes):,}"
)
c[3].metric("Median time (P50)", _minutes(head["p50_min"]), help="Demand-weighted" + est)
c[4].metric("P90 time", _minutes(head["p90_min"]), help="Demand-weighted" + est)
c[5].metric(
    "Under-served clusters",
    f"{head['clusters']:,.0f}",
    help=f"{head['rural_clusters']:.0f} mainly rural. Contiguous communes beyond the threshold.",
)

# --------------------------------------------------------------------------- map + details

map_col, detail_col = st.columns([3.2, 1], gap="medium")

with map_col:
    density_key = tuple(sorted(int(v) for v in density_filter))
    returned = components.show_map(
        loaders.map_payload(
            profile_key,
            mode,
            float(threshold),
            road,
            basemap,
            include_modelled,
            colour_by,
            density_key,
            bool(frr_only),
        )
    )
    page.caption(
        (
            "Colour: time to the nearest eligible site"
            + (f" ({result.times_are})" if result.estimated else "")
            if colour_by == "time"
            else f"Colour: {COLOUR_BY[colour_by]}"
        )
        + ". Dark outline: beyond the threshold; dashed: under-served clusters. "
        "Filled dots: real sites; hollow dashed dots: modelled sites. "
        "Click a commune for its details."
    )
    if density_key or frr_only:
        kept = commune_filter(result.communes, density=density_key, frr_only=frr_only)
        sub = result.communes[kept]
        beyond = float(sub.loc[~sub["covered"].astype(bool), "demand"].sum())
        total = float(sub["demand"].sum())
        page.caption(
            f"Filter: {int(kept.sum()):,} of {len(kept):,} communes shown (the others faint); "
            f"{beyond:,.0f} of their {total:,.0f} people{est} beyond {threshold:g} min"
            + (f" ({100 * beyond / total:.1f} %)." if total > 0 else ".")
        )

options = tables["commune_options"]
by_insee = {o.rsplit(" — ", 1)[1]: o for o in options}
clicked = None
drawing = (returned or {}).get("last_active_drawing") or {}
props = drawing.get("properties") or {}
if isinstance(props, dict) and props.get("insee") in by_insee:
    clicked = props["insee"]
if clicked and clicked != st.session_state.get("_last_click"):
    st.session_state["_last_click"] = clicked
    st.session_state["commune"] = by_insee[clicked]
if st.session_state.get("commune") not in by_insee.values():
    st.session_state["commune"] = by_insee[present.default_commune(result)]


@st.fragment
def commune_panel() -> None:
    """Details of one commune (a fragment: picking a commune reruns only this)."""
    st.subheader("Commune")
    choice = st.selectbox(
        "Commune (name or INSEE code)", options, key="commune", label_visibility="collapsed"
    )
    card = present.commune_card(result, choice.rsplit(" — ", 1)[1])
    covered = card["Covered"].startswith("yes")
    (page.success if covered else page.error)(
        f"{card['Time to nearest site']} — {'covered' if covered else 'beyond the threshold'}"
    )
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in card.items())
    st.markdown(f'<dl class="spro-card">{rows}</dl>', unsafe_allow_html=True)


@st.fragment
def summary_panel() -> None:
    """Summary table by the chosen grouping (a fragment: regrouping reruns only this)."""
    by = st.radio(
        "Summarise by",
        list(GROUPINGS),
        format_func=GROUPINGS.get,
        horizontal=True,
        key="summary_by",
    )
    summary = present.summary_table(result, by)
    no_service = ~summary[["p50_min", "p90_min"]].apply(lambda c: c.map(math.isfinite))
    st.dataframe(
        summary.mask(no_service.reindex(columns=summary.columns, fill_value=False)),
        hide_index=True,
        width="stretch",
        key="summary_table",
        column_config={
            "group": GROUPINGS[by],
            "grouping": None,
            "demand": st.column_config.NumberColumn("demand", format="%.0f"),
            "demand_beyond": st.column_config.NumberColumn(
                f"demand beyond {threshold:g} min", format="%.0f"
            ),
            "share_beyond_pct": st.column_config.ProgressColumn(
                "share beyond (%)", min_value=0, max_value=100, format="%.1f %%"
            ),
            "p50_min": st.column_config.NumberColumn("P50 (min)", format="%.1f"),
            "p90_min": st.column_config.NumberColumn("P90 (min)", format="%.1f"),
        },
    )
    left, right = st.columns([4, 1])
    left.caption(
        f"Demand = the profile's share of the population. Times are "
        f"{'estimated' if result.estimated else 'measured'}; P50/P90 weighted by demand"
        + (
            "; an empty P50/P90 means that much of the demand has no service in this mode."
            if no_service.to_numpy().any()
            else "."
        )
    )
    right.download_button(
        "This table (CSV)",
        lambda: present.csv_bytes(summary, provenance=result.provenance),
        file_name=f"spro_{profile_key}_{mode}_{threshold:g}min_summary_{by}.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl_summary_view",
    )


with detail_col:
    commune_panel()

# --------------------------------------------------------------------------- tables & downloads

tab_sum, tab_clu, tab_bands, tab_dq, tab_dl = st.tabs(
    ["Summary", "Under-served clusters", "Map data (time bands)", "Data quality", "Downloads"]
)

with tab_sum:
    summary_panel()

with tab_clu:
    clusters = tables["clusters"]
    if clusters.empty:
        page.info(f"No commune is beyond {threshold:g} min for this public.")
    else:
        st.dataframe(
            clusters[
                [
                    "name",
                    "communes",
                    "population",
                    "demand",
                    "rural_share",
                    "max_time_min",
                    "mean_time_min",
                    "deps",
                    "times_are",
                ]
            ],
            hide_index=True,
            width="stretch",
            key="clusters_table",
            column_config={
                "population": st.column_config.NumberColumn(format="%.0f"),
                "demand": st.column_config.NumberColumn(format="%.0f"),
                "rural_share": st.column_config.NumberColumn("rural share", format="%.2f"),
                "max_time_min": st.column_config.NumberColumn("max time (min)", format="%.0f"),
                "mean_time_min": st.column_config.NumberColumn("mean time (min)", format="%.0f"),
            },
        )
        page.caption("Mainly rural clusters first, then by demand beyond the threshold.")

with tab_bands:
    bands = tables["bands"]
    st.dataframe(
        bands.drop(columns="colour"),
        hide_index=True,
        width="stretch",
        key="bands_table",
        column_config={
            "band": "time band (min)",
            "population": st.column_config.NumberColumn(format="%.0f"),
            "demand": st.column_config.NumberColumn(format="%.0f"),
            "share_of_demand": st.column_config.NumberColumn("share of demand", format="%.3f"),
        },
    )
    page.caption("The colours of the map: communes, population and demand per time band.")

with tab_dq:
    dq = loaders.quality_table(include_modelled)
    if dq.empty:
        page.info("No data-quality flag on the sites of this view.")
    else:
        st.markdown(
            "Checks run on the real files, not trusted blindly: coordinates far from the "
            "declared commune, postcodes that do not match, duplicates of one network at one "
            "place, sites outside the region, stale vintages. Counts over the site directory:"
        )
        st.dataframe(dq, hide_index=True, width="stretch", key="quality_table")

with tab_dl:
    stem = f"spro_{profile_key}_{mode}_{threshold:g}min"
    page.caption(
        "Files of the current view. Text cells are neutralised against spreadsheet formulas; "
        "each file carries the provenance line"
        + (f" and says the times are {result.times_are}." if result.estimated else ".")
    )
    d = st.columns(5)
    d[0].download_button(
        "Communes (CSV)",
        lambda: present.table_csv_bytes(present.coverage_output_set(result), "communes"),
        file_name=f"{stem}_communes.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl_communes",
    )
    d[1].download_button(
        "Clusters (CSV)",
        lambda: present.table_csv_bytes(present.coverage_output_set(result), "clusters"),
        file_name=f"{stem}_clusters.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl_clusters",
    )
    d[2].download_button(
        "Summaries (CSV)",
        lambda: present.table_csv_bytes(present.coverage_output_set(result), "summary"),
        file_name=f"{stem}_summary.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl_summary",
    )
    d[3].download_button(
        "GeoPackage",
        lambda: present.gpkg_bytes(present.coverage_output_set(result)),
        file_name=f"{stem}.gpkg",
        mime="application/geopackage+sqlite3",
        on_click="ignore",
        key="dl_gpkg",
    )
    d[4].download_button(
        "Map (HTML)",
        lambda: present.map_html(
            present.coverage_map(
                result,
                loaders.load_web_base(),
                basemap=basemap,
                colour_by=colour_by,
                density=density_key,
                frr_only=bool(frr_only),
            )
        ).encode("utf-8"),
        file_name=f"{stem}_map.html",
        mime="text/html",
        on_click="ignore",
        key="dl_html",
    )

page.caption(f"Provenance: {result.provenance}. Road model: {result.model_label}.")
