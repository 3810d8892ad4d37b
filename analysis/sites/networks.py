"""The canonical registry of SPRO networks.

The Service Public Régional de l'Orientation gathers networks in three circles:

- circle 1, first-level information on studies and careers: CIO (pupils), SCUIO
  (students), Info Jeunes (young people), plus the Campus connectés (distance students);
- circle 2, the five operators of the Conseil en évolution professionnelle (France
  Travail, Cap Emploi, APEC, Missions Locales, Avenir Actifs) and the consular chambers
  (CCI, CMA, Chambres d'agriculture);
- circle 3, the structures labelled by the Région (MIFE, CIDFF, Maisons de l'emploi,
  Cités des métiers, associations and communes: "Labelled structure").

France Services is listed too, as a *non-SPRO* network (``spro=False``): its sites are
candidate hosts for permanences, never SPRO sites.

:func:`canonical_network` maps the spellings met in the raw files and in users' exports
(``"Info Jeunes (PIJ/BIJ/CRIJ)"``, ``"SCUIO (SUIO site)"``, ``"Pôle emploi"``…) to the
canonical name, and raises :class:`~analysis.errors.UnknownNameError` listing the known
names otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import UnknownNameError


@dataclass(frozen=True)
class Network:
    """One network of access points.

    Attributes
    ----------
    name
        Canonical name (used in the ``network`` column everywhere).
    circle
        SPRO circle 1, 2 or 3; 0 for a non-SPRO network.
    publics
        Who the network serves, in plain words.
    aliases
        Other spellings, matched case-, accent- and punctuation-insensitively.
    spro
        Whether the network belongs to the SPRO.
    known_size
        What public figures say about the network's size in the region (for the
        completeness check and the modelled completion).
    """

    name: str
    circle: int
    publics: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    spro: bool = True
    known_size: str = ""


#: Canonical name → :class:`Network`.
NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network(
            "CIO",
            1,
            ("pupils", "young people", "adults"),
            ("Centre d'information et d'orientation", "CIO Education nationale"),
            known_size="~50 CIO in the region (academies of Clermont, Grenoble, Lyon)",
        ),
        Network(
            "SCUIO",
            1,
            ("students",),
            (
                "SUIO",
                "SCUIO-IP",
                "SUIO-IP",
                "SCUIO (SUIO site)",
                "SCUIO (proxy: university HQ)",
                "Service universitaire d'information et d'orientation",
                "Service commun universitaire d'information et d'orientation",
            ),
            known_size="one per university (about 8 universities, several campuses)",
        ),
        Network(
            "Info Jeunes",
            1,
            ("young people",),
            (
                "Info Jeunes (PIJ/BIJ/CRIJ)",
                "PIJ",
                "BIJ",
                "CRIJ",
                "SIJ",
                "PIJ/SIJ",
                "Information Jeunesse",
                "Point Information Jeunesse",
                "Bureau Information Jeunesse",
                "Centre Information Jeunesse",
                "CIJ",
            ),
            known_size="~150 labelled Info Jeunes structures in the region",
        ),
        Network(
            "Campus connecté",
            1,
            ("distance-learning students",),
            ("Campus connectes", "Campus connecte"),
            known_size="~10 sites in the region (2020-21 labels)",
        ),
        Network(
            "France Travail",
            2,
            ("job seekers",),
            ("Pôle emploi", "Pole emploi", "France Travail agence", "FT"),
            known_size="~95 local agencies in the region",
        ),
        Network(
            "Cap Emploi",
            2,
            ("people with disabilities",),
            ("Cap emploi (OPS)", "OPS", "Cap'Emploi"),
            known_size="one organisation per department (12) with antennes",
        ),
        Network(
            "APEC",
            2,
            ("executives", "young graduates"),
            ("Apec", "Association pour l'emploi des cadres"),
            known_size="a few regional centres (Lyon, Grenoble, Clermont-Ferrand, Valence…)",
        ),
        Network(
            "Mission Locale",
            2,
            ("16-25 year-olds out of school",),
            ("Missions Locales", "ML", "Mission locale jeunes", "Mission Locale Jeunes"),
            known_size="61 structures with ~600 sites and permanences in the region",
        ),
        Network(
            "Avenir Actifs",
            2,
            ("private-sector employees", "temporary workers", "self-employed"),
            ("Avenir Actif", "Avenir'Actifs", "CEP actifs occupés", "CIBC", "CEP salariés"),
            known_size="the CEP operator for employed people: about one site per department "
            "plus permanences (no open data)",
        ),
        Network(
            "CCI",
            2,
            ("business founders", "apprentices", "employers"),
            ("Chambre de commerce et d'industrie", "CCI Formation"),
            known_size="one CCI per department or territory",
        ),
        Network(
            "CMA",
            2,
            ("craftspeople", "apprentices"),
            ("Chambre de métiers et de l'artisanat", "Chambre de métiers", "CMAR"),
            known_size="one CMA per department (regional chamber)",
        ),
        Network(
            "Chambre d'agriculture",
            2,
            ("farmers", "agricultural workers"),
            ("Chambres d'agriculture", "Chambre agriculture"),
            known_size="one chamber per department",
        ),
        Network(
            "MIFE",
            3,
            ("everyone",),
            (
                "Maison de l'information sur la formation et l'emploi",
                # data_inclusion_2022_extra_spro_sites.csv (MIFE Isère, Saint-Égrève)
                "MIFE / Maison de l'emploi",
            ),
            known_size="a few labelled structures",
        ),
        Network(
            "CIDFF",
            3,
            ("women", "families"),
            ("Centre d'information sur les droits des femmes et des familles",),
            known_size="one per department",
        ),
        Network(
            "Maison de l'emploi",
            3,
            ("everyone",),
            (
                "Maison de l'emploi et de la formation",
                "MDE",
                "Maison de l'emploi et de l'entreprise",
            ),
            known_size="a few labelled structures",
        ),
        Network(
            "Cité des métiers",
            3,
            ("everyone",),
            ("Cite des metiers",),
            known_size="a few labelled structures",
        ),
        Network(
            "Labelled structure",
            3,
            ("everyone",),
            ("Structure labellisée", "Structure labellisee", "SPRO label", "Labellisé SPRO"),
            known_size="~28 labelled circle-3 structures (MIFE, CIDFF, associations, communes)",
        ),
        Network(
            "France Services",
            0,
            ("everyone (general public services)",),
            ("France services", "Maison France Services", "MSAP", "Maison de services au public"),
            spro=False,
            known_size="~325 sites in the region (2024), not SPRO",
        ),
    )
}

#: The SPRO networks (every network but the non-SPRO ones), in registry order.
SPRO_NETWORKS: tuple[str, ...] = tuple(n for n, v in NETWORKS.items() if v.spro)


def _key(name: str) -> str:
    """Normalise a name: accents, case, punctuation and spaces do not matter."""
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.casefold().replace("’", "'")
    return re.sub(r"[^a-z0-9]+", " ", s).strip()


_ALIASES: dict[str, str] = {}
for _net in NETWORKS.values():
    for _alias in (_net.name, *_net.aliases):
        _ALIASES[_key(_alias)] = _net.name


def canonical_network(
    name: object, *, source: str | None = None, rows: list[int] | None = None
) -> str:
    """Return the canonical name of a network.

    Parameters
    ----------
    name
        A network name as written in a file (any case, accents optional; a trailing
        parenthesis such as ``"(PIJ/BIJ/CRIJ)"`` is ignored when the rest is known).
    source, rows
        Where the name was read, for the error message.

    Returns
    -------
    str
        A key of :data:`NETWORKS`.

    Raises
    ------
    UnknownNameError
        If the name matches no network; the message lists the known ones.
    """
    text = "" if name is None else str(name)
    key = _key(text)
    if key in _ALIASES:
        return _ALIASES[key]
    base = _key(re.sub(r"\(.*?\)", " ", text))
    if base in _ALIASES:
        return _ALIASES[base]
    raise UnknownNameError("network", name, NETWORKS, source=source, rows=rows)


def network_circle(name: str) -> int:
    """Return the SPRO circle (1, 2, 3; 0 if not SPRO) of a network name or alias.

    Parameters
    ----------
    name
        Network name or alias.

    Returns
    -------
    int

    Raises
    ------
    UnknownNameError
        If the name is not a known network.
    """
    return NETWORKS[canonical_network(name)].circle
