"""Load tests and the benchmark driver for scanapp (docs/PERFORMANCE.md).

``python -m loadtests.bench`` measures the scan path against a do-nothing baseline;
``locust -f loadtests/locustfile.py`` runs the realistic mixed scenarios.
"""
