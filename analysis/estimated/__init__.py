"""The estimated road network: commune adjacency at fitted class speeds (the fallback road model).

- :mod:`.network`: ``build_estimated_network``, ``load_or_build_estimated_network``,
  ``EstimatedNetworkParams`` (one node per commune, edges between neighbours).
- :mod:`.calibration`: the class speeds fitted on TER coach hops, with the held-out error
  (``python -m analysis.estimated.calibration``).
- :mod:`.coach_hops`: the coach hops read from the TER timetable (the calibration's input).
"""

from .network import (
    EstimatedNetworkParams,
    build_estimated_network,
    load_or_build_estimated_network,
)

__all__ = ["EstimatedNetworkParams", "build_estimated_network", "load_or_build_estimated_network"]
