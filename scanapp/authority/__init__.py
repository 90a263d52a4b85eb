"""The authorities' side of traceability: province-scoped supervision, review before
publication, data-quality findings and the statistics of the provincial plans.

Depends on trace (and auth, products, fraud); nothing depends on it except ``create_app``,
which registers its blueprint and calls ``init_app``. ``init_app`` wires it into one app
explicitly: the review listener on the app's sessionmaker, the data-quality capture hook,
and the scope hook that ``keys create --role authority --province NN`` calls.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli, review, rules, scope
    from .demo import seed_authority

    review.init_app(app)
    cli.init_app(app)
    # After trace's hook (create_app calls trace.init_app first): its derived rows exist.
    app.extensions.setdefault("scanapp.epcis.capture_hooks", []).append(rules.QualityHook())
    app.extensions["scanapp.authority.assign_scope"] = (
        lambda session, org, province: scope.assign_scope(session, org,
                                                          scope.parse_province(province)))
    app.extensions.setdefault("scanapp.demo_hooks", []).append(seed_authority)
