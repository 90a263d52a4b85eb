"""Clone and counterfeit risk: the pure scoring of one scan against its code's history.

``facts`` defines what a scan and its history look like, ``rules`` the signals and their
weights, ``engine`` runs the rules and combines them. Nothing here touches Flask, the
database or Redis (an import-linter contract in pyproject.toml holds that), so the scan path
(``scanapp.scan``) and the inspectors' side (``scanapp.fraud``) both build on it without
importing each other. The one import from the rest of scanapp is ``scanapp.regions``, the pure
geography leaf (province polygons and distances), which the border-aware rules ask.
"""
