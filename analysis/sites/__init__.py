"""SPRO access points: the networks registry and the site directory.

- :mod:`analysis.sites.networks`: canonical networks, circles and aliases;
- :mod:`analysis.sites.directory`: the bundled directory (real open data, completed with
  ``modelled`` sites), users' own directory exports, and France Services as candidate hosts.
"""
