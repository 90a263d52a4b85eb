"""Key and organisation endpoints."""

from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from ..db import get_session
from ..extensions import Blueprint
from . import service
from .access import ALL_ROLES, current_principal, requires
from .models import Organisation, Role
from .schemas import (
    Gs1PrefixesSchema,
    KeyCreateSchema,
    KeySchema,
    NewKeySchema,
    OrgSchema,
    PrincipalSchema,
)

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="API keys and organisations")


@blp.route("/me")
class Me(MethodView):
    @requires(*ALL_ROLES)
    @blp.response(200, PrincipalSchema)
    def get(self):
        """Who the presented key belongs to"""
        return current_principal()


@blp.route("/keys")
class Keys(MethodView):
    @requires(*ALL_ROLES)
    @blp.response(200, KeySchema(many=True))
    def get(self):
        """List keys: all for an admin, otherwise the caller's organisation's"""
        return service.list_keys(get_session(), current_principal())

    @requires(Role.ADMIN)
    @blp.arguments(KeyCreateSchema)
    @blp.response(201, NewKeySchema)
    def post(self, data):
        """Create an API key (admin); the key is in the response and never shown again"""
        key, raw = service.issue_key(
            get_session(), data["org"], service.parse_role(data["role"]), data.get("label"),
            data.get("province"), current_app.extensions.get("scanapp.authority.assign_scope"))
        key.key = raw
        return key


@blp.route("/keys/<int:key_id>/revoke")
class RevokeKey(MethodView):
    @requires(*ALL_ROLES)
    @blp.response(200, KeySchema)
    def post(self, key_id: int):
        """Revoke a key: an admin any key, others their own organisation's"""
        return service.revoke_key(get_session(), current_principal(), key_id)


@blp.route("/orgs")
class Orgs(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, OrgSchema(many=True))
    def get(self):
        """List organisations (admin)"""
        return list(get_session().scalars(select(Organisation).order_by(Organisation.id)))


@blp.route("/orgs/<int:org_id>/gs1-prefixes")
class OrgGs1Prefixes(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(Gs1PrefixesSchema)
    @blp.response(200, OrgSchema)
    def put(self, data, org_id: int):
        """Declare the GS1 company prefixes a brand holds (admin); its products must use them"""
        return service.set_gs1_prefixes(get_session(), org_id, data["prefixes"])
