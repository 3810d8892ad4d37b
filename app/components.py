"""Streamlit glue for the folium map: render a map once per view, reuse it on every rerun.

``streamlit_folium.st_folium`` re-renders the whole folium map in Python on every rerun
(about 1 s for the 4,025-commune choropleth: two JSON serialisations and a Jinja pass over
2 MB). :func:`map_payload` does that work once, with streamlit-folium's own helpers, and
:func:`show_map` sends the cached payload to the same front-end component. If a future
streamlit-folium changes these private helpers, :func:`show_map` falls back to
``st_folium`` (slower reruns, same map).
"""

from __future__ import annotations

from typing import Any

import folium

from analysis.present import fill_data

#: What the page reads back from the map: the last commune (feature) clicked.
RETURNED = ("last_active_drawing",)


def map_payload(
    fmap: folium.Map, *, height: int = 640, returned: tuple[str, ...] = RETURNED
) -> dict[str, Any]:
    """Arguments of the streamlit-folium component for a map, computed once.

    Parameters
    ----------
    fmap
        The map, from ``analysis.present.coverage_map(..., defer_data=True)`` (or not);
        not to be used after this call.
    height
        Height in pixels.
    returned
        What the map sends back (e.g. ``("last_clicked",)``); ``()`` for nothing.

    Returns
    -------
    dict
        Component arguments, or ``{"fallback": fmap, "height": height}`` when the
        installed streamlit-folium does not have the expected helpers.
    """
    if getattr(fmap, "height", None) and fmap.height[1] == "%":
        # a map sized in % of an iframe that the component sizes from the map: give it pixels
        fmap.height = (float(height), "px")
    try:
        import streamlit_folium as sf

        fmap.get_root().render()
        fmap.render()
        html = sf._get_html(fmap)
        header = sf._get_header(fmap)
        script = sf._get_map_string(fmap)
        key = sf.generate_js_hash(script, "map", False)  # on the light script: fast
        script = fill_data(script, fmap)
        css: list[str] = []
        js: list[str] = []

        def walk(el: Any) -> Any:
            yield el
            for child in getattr(el, "_children", {}).values():
                yield from walk(child)

        for el in walk(fmap):
            css.extend(href for _, href in getattr(el, "default_css", []))
            js.extend(src for _, src in getattr(el, "default_js", []))
        (s, w), (n, e) = fmap.get_bounds()
        return {
            "script": script,
            "header": header,
            "html": html,
            "id": sf.get_full_id(fmap),
            "key": key,
            "height": height,
            "width": None,
            "returned_objects": list(returned),
            "default": dict.fromkeys(returned),
            "zoom": None,
            "center": None,
            "feature_group": None,
            "return_on_hover": False,
            "layer_control": None,
            "pixelated": False,
            "css_links": list(dict.fromkeys(css)),
            "js_links": list(dict.fromkeys(js)),
            "wrap_longitude": False,
            "_bounds": [[s, w], [n, e]],
        }
    except (ImportError, AttributeError, TypeError, ValueError):
        return {"fallback": fmap, "height": height, "_returned": list(returned)}


def show_map(payload: dict[str, Any]) -> dict[str, Any]:
    """Show a map from :func:`map_payload`; return what the user did on it.

    Parameters
    ----------
    payload
        From :func:`map_payload` (cached per view).

    Returns
    -------
    dict
        ``{"last_active_drawing": GeoJSON feature or None}``.
    """
    import streamlit_folium as sf

    if "fallback" in payload:
        out = sf.st_folium(
            payload["fallback"],
            key="map",
            height=payload["height"],
            use_container_width=True,
            returned_objects=payload.get("_returned", list(RETURNED)),
        )
        return out or {}
    args = {k: v for k, v in payload.items() if not k.startswith("_")}
    return sf._component_func(**args) or {}


def show_static_map(fmap: folium.Map, *, height: int = 560) -> None:
    """Show a map that sends nothing back, as a self-contained page (Leaflet inlined).

    Parameters
    ----------
    fmap
        The map; not to be used after this call.
    height
        Height in pixels.
    """
    import streamlit.components.v1 as stc

    from analysis.present import map_html

    if getattr(fmap, "height", None) and fmap.height[1] == "%":
        fmap.height = (float(height) - 10, "px")
    stc.html(map_html(fmap), height=height)
