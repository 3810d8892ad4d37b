"""SPRO access: travel time to the SPRO career-guidance sites of Auvergne-Rhône-Alpes.

The library never configures logging; it logs through ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
