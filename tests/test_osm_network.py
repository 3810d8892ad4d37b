"""Online OSM downloads (skipped offline: settings.use_network off or no connection)."""

import pytest

from analysis.errors import ValidationError
from analysis.osm import build_osm_graph
from analysis.osm.load import network_available

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not network_available(), reason="no internet access (or SPRO_OFFLINE)"),
]


def test_download_small_place(tmp_path):
    cached, path = build_osm_graph(place="Saint-Romain-au-Mont-d'Or, France", cache_dir=tmp_path)
    g = cached.graph
    assert g.model == "osm" and g.n_nodes > 20
    assert g.label.startswith(
        "OpenStreetMap drive network (place 'Saint-Romain-au-Mont-d'Or, France', downloaded "
    )
    assert cached.extent.area_wkb is not None
    again, p2 = build_osm_graph(place="Saint-Romain-au-Mont-d'Or, France", cache_dir=tmp_path)
    assert p2 == path and again.graph.fingerprint() == g.fingerprint()


def test_place_that_cannot_be_geocoded(tmp_path):
    with pytest.raises(ValidationError, match="cannot be geocoded"):
        build_osm_graph(place="Qzxqzx-sur-Nowhere-12345, Atlantis", cache_dir=tmp_path)
