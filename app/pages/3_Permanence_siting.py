"""Permanence siting: where should a network's next k permanences go?

Thin page: the choices go to :func:`analysis.planning.siting.site_permanences` (maximal
covering location, lazy greedy, exact integer program on small instances).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.errors import SproError
from analysis.planning import common
from analysis.planning.siting import HOSTS, site_permanences
from app import components, loaders, page, widgets

page.setup("permanence siting")

HOST_LABELS = {
    "town_halls": "Town halls (every commune)",
    "france_services": "France Services sites",
    "spro_sites": "Other networks' SPRO sites",
    "colleges": "Collèges (Éducation nationale, with a position)",
}


@st.cache_resource(show_spinner="Choosing the permanences…", max_entries=16)
def run(network: str, k: int, threshold: float, profile: str, hosts: tuple[str, ...], exact: bool):
    """One siting question (cached per choice)."""
    return site_permanences(
        loaders.load_road_model(),
        loaders.load_sites(),
        loaders.load_communes(),
        network=network,
        k=k,
        threshold_min=threshold,
        profile=profile,
        profiles=loaders.load_profiles(),
        hosts=hosts,
        france_services=loaders.load_france_services() if "france_services" in hosts else None,
        exact="auto" if exact else False,
    )


try:
    communes = loaders.load_communes()
    sites = loaders.load_sites()
    profiles = loaders.load_profiles()
    road_model = loaders.load_road_model()
except SproError as exc:
    page.stop_on_load_error(exc)

present = set(sites["network"].astype(str))
networks = [n for n in common.spro_networks() if any(n in p.networks for p in profiles.values())]
networks = sorted(networks, key=lambda n: (n not in present, n))

with st.sidebar:
    st.header("Question")
    network = st.selectbox(
        "Network",
        networks,
        index=networks.index("Mission Locale") if "Mission Locale" in networks else 0,
        key="si_network",
    )
    serving = [k for k, p in profiles.items() if network in p.networks]
    default = common.profile_for_network(network, profiles).key
    profile = st.selectbox(
        "Public to cover",
        serving,
        index=serving.index(default),
        format_func=lambda k: profiles[k].label,
        key=f"si_profile_{network}",
    )
    k = st.number_input("New permanences (k)", min_value=1, max_value=5000, value=5, key="si_k")
    threshold = st.slider(
        "Threshold (minutes, road)",
        min_value=5.0,
        max_value=90.0,
        step=5.0,
        value=float(profiles[profile].thresholds_min.get("road", 30)),
        key=f"si_threshold_{profile}",
    )
    hosts = st.multiselect(
        "Candidate hosts",
        list(HOSTS),
        default=list(HOSTS),
        format_func=HOST_LABELS.get,
        key="si_hosts",
    )
    exact = st.checkbox(
        "Also solve exactly (integer program, small instances) to report the greedy's gap",
        value=True,
        key="si_exact",
    )
    basemap = widgets.basemap_select("si_basemap")
    widgets.road_model_caption(road_model)

st.title("Permanence siting — where do the next permanences go?")
(st.warning if road_model.estimated else st.info)(
    f"Times: {road_model.label} ({road_model.times_are.upper()}). "
    f"Today's {common.sites_line(sites)}; existing sites stay fixed."
)
if not hosts:
    page.error("Choose at least one kind of candidate host.")
    st.stop()
try:
    res = run(network, int(k), float(threshold), profile, tuple(hosts), bool(exact))
except SproError as exc:
    page.error(str(exc))
    st.stop()

s = res.summary
est = f" ({res.times_are})" if res.estimated else ""
c = st.columns(4)
c[0].metric(
    f"Uncovered today{est}",
    f"{s['demand_uncovered_before']:,.0f}",
    help=f"{100 * s['share_uncovered_before']:.2f} % of the public",
)
c[1].metric(
    f"Uncovered after {len(res.picks)} picks{est}",
    f"{s['demand_uncovered_after']:,.0f}",
    delta=f"-{s['greedy_objective']:,.0f}",
    delta_color="inverse",
)
c[2].metric("Candidates", f"{s['candidates']:,}")
if s["exact_status"] == "not run":
    c[3].metric("Greedy's gap", "not computed")
else:
    c[3].metric(
        "Greedy's gap to the optimum",
        f"{100 * s['greedy_gap']:.2f} %" if s["greedy_gap"] > 0 else "0 %",
        help=f"{s['exact_solver']}: {s['exact_status']}, optimum {s['exact_objective']:,.0f}",
    )
for note in res.notes:
    page.caption(note)

left, right = st.columns([3, 2])
with left:
    components.show_static_map(res.map(basemap=basemap), height=560)
    page.caption(
        "Numbered: the picks in greedy order; shaded: the communes each newly covers; "
        "grey dots: today's eligible sites (fixed)."
    )
with right:
    st.subheader("Picks")
    st.dataframe(
        res.picks[
            [
                "order",
                "name",
                "host",
                "commune",
                "marginal_gain",
                "cumulative_gain",
                "communes_newly_covered",
                "in_exact",
                "times_are",
            ]
        ],
        hide_index=True,
        key="si_picks",
        column_config={
            "marginal_gain": st.column_config.NumberColumn("marginal gain", format="%.0f"),
            "cumulative_gain": st.column_config.NumberColumn("cumulative", format="%.0f"),
        },
    )

d = st.columns(4)
out_set = res.output_set()
widgets.table_download(
    d[0], "Picks (CSV)", out_set, "picks", file_name="picks.csv", key="si_dl_picks"
)
widgets.table_download(
    d[1], "Communes (CSV)", out_set, "communes", file_name="communes.csv", key="si_dl_communes"
)
widgets.gpkg_download(d[2], res.output_set, file_name="siting.gpkg", key="si_dl_gpkg")
widgets.map_download(
    d[3], lambda: res.map(basemap=basemap), file_name="siting_map.html", key="si_dl_html"
)
page.caption(f"Provenance: {res.provenance}.")
summary = pd.DataFrame([s]).T.rename(columns={0: "value"}).astype(str)
with st.expander("All figures"):
    st.dataframe(summary, key="si_summary")
