"""The networks registry: canonical names, aliases from the raw files, circles."""

from __future__ import annotations

import pytest

from analysis.errors import UnknownNameError
from analysis.sites.networks import NETWORKS, SPRO_NETWORKS, canonical_network, network_circle


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Info Jeunes (PIJ/BIJ/CRIJ)", "Info Jeunes"),
        ("SCUIO (SUIO site)", "SCUIO"),
        ("SCUIO (proxy: university HQ)", "SCUIO"),
        ("Pôle emploi", "France Travail"),
        ("pole EMPLOI", "France Travail"),
        ("mission locale", "Mission Locale"),
        ("Chambre d’agriculture", "Chambre d'agriculture"),
        ("Cite des metiers", "Cité des métiers"),
        ("Campus connecté", "Campus connecté"),
        ("Apec", "APEC"),
        ("CIBC", "Avenir Actifs"),
    ],
)
def test_aliases(raw, canonical):
    assert canonical_network(raw) == canonical


def test_unknown_network_lists_known_ones():
    with pytest.raises(UnknownNameError) as err:
        canonical_network("Pole emplois")
    msg = str(err.value)
    assert "Pole emplois" in msg
    for name in ("Mission Locale", "France Travail", "Cap Emploi", "APEC", "Avenir Actifs"):
        assert name in msg
    assert isinstance(err.value, ValueError) and isinstance(err.value, KeyError)


def test_circles_and_spro_membership():
    assert network_circle("CIO") == 1 and network_circle("SCUIO") == 1
    assert network_circle("Info Jeunes") == 1
    for n in ("France Travail", "Cap Emploi", "APEC", "Mission Locale", "Avenir Actifs",
              "CCI", "CMA", "Chambre d'agriculture"):  # fmt: skip
        assert network_circle(n) == 2, n
    for n in ("MIFE", "CIDFF", "Maison de l'emploi", "Cité des métiers", "Labelled structure"):
        assert network_circle(n) == 3, n
    assert not NETWORKS["France Services"].spro
    assert "France Services" not in SPRO_NETWORKS
    assert len(SPRO_NETWORKS) == len(NETWORKS) - 1
