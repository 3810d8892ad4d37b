"""Caravane and orientation bus: which stops, on which days, in what order?

Thin page: the choices go to :func:`analysis.planning.caravane.plan_caravane`.
"""

from __future__ import annotations

import streamlit as st

from analysis.errors import SproError, ValidationError
from analysis.planning import common
from analysis.planning.caravane import plan_caravane
from analysis.planning.school_days import default_season
from analysis.planning.season import season_dates
from analysis.present.documents import caravane_programme
from app import components, loaders, page, widgets

page.setup("caravane tours")

#: Itinerary columns shown on the page (the CSV has them all).
ITINERARY_COLUMNS = ["date", "day", "seq", "kind", "name", "arrive", "depart", "drive_min",
                     "target_reached", "audience"]  # fmt: skip


@st.cache_resource(show_spinner="Planning the tours…", max_entries=16)
def run(base, profile: str, colleges: bool, options: tuple[tuple[str, object], ...]):
    """One caravane plan (cached per choice); ``colleges``: stop at the collèges."""
    return plan_caravane(
        loaders.load_road_model(),
        loaders.load_sites(),
        loaders.load_communes(),
        base=base,
        profile=profile,
        profiles=loaders.load_profiles(),
        stop_points=loaders.load_college_stops() if colleges else None,
        **dict(options),
    )


try:
    communes = loaders.load_communes()
    sites = loaders.load_sites()
    profiles = loaders.load_profiles()
    road_model = loaders.load_road_model()
except SproError as exc:
    page.stop_on_load_error(exc)

options = (communes["nom"] + " — " + communes["insee"]).tolist()
default_base = next((i for i, o in enumerate(options) if o.endswith("— 43157")), 0)

with st.sidebar:
    st.header("Tour")
    base_kind = st.radio("Base", ["Commune", "Point (lon, lat)"], horizontal=True, key="ca_bk")
    if base_kind == "Commune":
        base_label = st.selectbox("Base commune", options, index=default_base, key="ca_base")
        base: object = base_label.rsplit(" — ", 1)[1]
    else:
        lon = st.number_input("Longitude", value=3.885, format="%.5f", key="ca_lon")
        lat = st.number_input("Latitude", value=45.043, format="%.5f", key="ca_lat")
        base = (float(lon), float(lat))
    profile = st.selectbox(
        "Target public",
        list(profiles),
        index=list(profiles).index("job_seekers") if "job_seekers" in profiles else 0,
        format_func=lambda k: profiles[k].label,
        key="ca_profile",
    )
    at_colleges = (
        st.radio("Stops at", ["Collèges", "Town halls"], horizontal=True, key="ca_at") == "Collèges"
    )
    if at_colleges:
        season_start, season_end = default_season()
        season = st.date_input(
            "Season (school days only, zone A)",
            value=(season_start, season_end),
            key="ca_season",
        )
        wednesdays = st.checkbox("Count Wednesdays (half days)", value=False, key="ca_wed")
        days = st.number_input(
            "Days (the first N school days; 0 = the whole season)",
            min_value=0,
            max_value=120,
            value=10,
            key="ca_days_season",
        )
        visits = st.number_input(
            "Visits per collège in the season (on different days)",
            min_value=1,
            max_value=5,
            value=1,
            key="ca_visits",
            help="1: each collège at most once a season. More: a collège may be visited again "
            "(its pupils met again; no new under-served people counted).",
        )
    else:
        days = st.number_input("Days", min_value=1, max_value=30, value=3, key="ca_days")
    stop_min = st.number_input(
        "Stop duration (min)", min_value=10, max_value=600, value=90, step=10, key="ca_stop"
    )
    drive = st.number_input(
        "Maximum driving per day (min)",
        min_value=10,
        max_value=720,
        value=240,
        step=10,
        key="ca_drive",
    )
    reach = st.slider("A stop reaches the communes within (min)", 5, 60, 20, step=5, key="ca_reach")
    under = st.slider(
        "Under-served beyond (min, road)",
        5,
        90,
        int(profiles[profile].thresholds_min.get("road", 30)),
        step=5,
        key=f"ca_under_{profile}",
    )
    start = st.text_input("Departure from the base", value="09:00", key="ca_start")
    max_day = st.number_input(
        "Maximum day length (min, 0 = none)",
        min_value=0,
        max_value=900,
        value=480,
        step=30,
        key="ca_day",
    )
    basemap = widgets.basemap_select("ca_basemap")
    widgets.road_model_caption(road_model)

st.title("Caravane and orientation bus — stops, days, order")
(st.warning if road_model.estimated else st.info)(
    f"Driving times: {road_model.label} ({road_model.times_are.upper()})."
    f" Who is under-served is judged against today's {common.sites_line(sites)}."
)
try:
    dates: tuple[str, ...] | None = None
    if at_colleges:
        if not isinstance(season, tuple | list) or len(season) != 2:
            raise ValidationError("choose the first and the last day of the season")
        dates = tuple(
            d.isoformat()
            for d in season_dates(
                season[0], season[1], wednesdays=wednesdays, days=int(days) or None
            )
        )
except SproError as exc:
    page.error(str(exc))
    st.stop()
opts = (
    ("days", len(dates) if dates else int(days)),
    ("dates", dates),
    ("stop_min", float(stop_min)),
    ("max_drive_min", float(drive)),
    ("reach_min", float(reach)),
    ("underserved_min", float(under)),
    ("day_start", start),
    ("max_day_min", float(max_day) if max_day else None),
    ("max_visits", int(visits) if at_colleges else 1),
)
try:
    res = run(base, profile, at_colleges, opts)
except SproError as exc:
    page.error(str(exc))
    st.stop()

s = res.summary
est = f" ({res.times_are})" if res.estimated else ""
c = st.columns(4)
c[0].metric(f"Target people reached{est}", f"{s['target_reached']:,.0f}")
c[1].metric(
    f"Share of the under-served target{est}",
    f"{100 * (s['share_reached'] if s['share_reached'] == s['share_reached'] else 0):.1f} %",
    help=f"{s['target_total']:,.0f} {profiles[profile].label.lower()} live beyond "
    f"{s['underserved_threshold_min']:g} min of an eligible site",
)
c[2].metric(
    "Stops",
    f"{s['stops']}",
    help=f"over {s['days_used']} of {s['days']} day(s)"
    + (f"; {s['audience_met']:,.0f} pupils met at the collèges" if s["audience_met"] else ""),
)
c[3].metric(f"Driving per day (min){est}", s["drive_min_per_day"] or "—")
for note in res.notes:
    page.caption(note)

left, right = st.columns([3, 2])
with left:
    components.show_static_map(res.map(basemap=basemap), height=560)
    page.caption(
        "Numbered stops per day (colour); lines are straight, the times follow the road model. "
        "Shaded: the under-served communes each stop reaches."
    )
with right:
    st.subheader("Itinerary")
    st.dataframe(
        res.itinerary[ITINERARY_COLUMNS],
        hide_index=True,
        key="ca_itinerary",
    )
    if len(res.excluded):
        with st.expander(f"Stops left out ({len(res.excluded)})"):
            st.dataframe(res.excluded, hide_index=True, key="ca_excluded")

d = st.columns(4)
widgets.table_download(
    d[0], "Itinerary (CSV)", res.output_set(), "itinerary", file_name="itinerary.csv",
    key="ca_dl_csv",
)  # fmt: skip
widgets.gpkg_download(d[1], res.output_set, file_name="caravane.gpkg", key="ca_dl_gpkg")
widgets.map_download(
    d[2], lambda: res.map(basemap=basemap), file_name="caravane_map.html", key="ca_dl_html"
)
d[3].download_button(
    "Printable programme (HTML)",
    data=caravane_programme(res).encode("utf-8"),
    file_name="programme.html",
    mime="text/html",
    key="ca_dl_programme",
)
page.caption(f"Provenance: {res.provenance}.")
