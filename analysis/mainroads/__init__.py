"""The real main-road network (Travel Mapping waypoints), calibrated on OSRM car times.

- :mod:`~analysis.mainroads.travelmapping` reads and checks the waypoint files;
- :mod:`~analysis.mainroads.network` builds the graph (:func:`graph_from_travelmapping`);
- :mod:`~analysis.mainroads.model` puts communes and sites on it (:class:`MainRoadParams`,
  :func:`build_mainroad_model`, :func:`load_or_build_mainroad_model`);
- :mod:`~analysis.mainroads.calibrate` fits the speeds on the OSRM Isère matrix.
"""
