"""The view-side guard: authenticate the bearer key and check its role."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request

from ..db import get_session
from ..quotas import count_api_request
from .models import Role
from .service import Principal, authenticate, require_role

BEARER = [{"bearerAuth": []}]


def requires(*roles: Role) -> Callable:
    """Decorate a view so that only keys of ``roles`` reach it."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate(get_session(), request.headers.get("Authorization"))
            count_api_request(principal.key_id)
            require_role(principal, *roles)
            g.principal = principal
            return view(*args, **kwargs)

        # flask-smorest reads this to document the security requirement.
        doc = getattr(wrapper, "_apidoc", {})
        doc.setdefault("manual_doc", {})["security"] = BEARER
        wrapper._apidoc = doc
        return wrapper

    return decorator


def current_principal() -> Principal:
    return g.principal


ALL_ROLES = tuple(Role)
