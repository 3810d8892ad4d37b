"""Planner tools: labelling what-if, permanence siting (MCLP), caravane tours.

- :mod:`~analysis.planning.whatif`: what a candidate site adds, or a closure loses
  (:class:`WhatIf`, :func:`what_if`), incremental on road models;
- :mod:`~analysis.planning.siting`: where a network's next ``k`` permanences go
  (:func:`site_permanences`, :class:`MCLP`, :func:`cost_matrix`);
- :mod:`~analysis.planning.caravane`: which stops, days and order for a caravane or bus
  (:func:`plan_caravane`, :func:`order_stops`);
- :mod:`~analysis.planning.candidates`: candidate sites from a form, a map or a CSV.

Every result says which road (or transit) model produced its times, labels them
``estimated`` when they come from an estimated network, and says which sites are real or
modelled; every result exports to CSV, GeoPackage and a standalone HTML map.
"""

from __future__ import annotations

from .candidates import CandidateLoad, candidates_from_records, read_candidates_csv
from .caravane import CaravaneResult, order_stops, plan_caravane
from .siting import MCLP, SitingResult, candidate_hosts, cost_matrix, site_permanences
from .whatif import WhatIf, WhatIfResult, what_if

__all__ = [
    "MCLP",
    "CandidateLoad",
    "CaravaneResult",
    "SitingResult",
    "WhatIf",
    "WhatIfResult",
    "candidate_hosts",
    "candidates_from_records",
    "cost_matrix",
    "order_stops",
    "plan_caravane",
    "read_candidates_csv",
    "site_permanences",
    "what_if",
]
