"""Product endpoints."""

from flask.views import MethodView

from ..auth.access import current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..extensions import Blueprint
from . import service
from .schemas import ProductCreateSchema, ProductSchema, ProductUpdateSchema

blp = Blueprint("products", __name__, url_prefix="/api/v1", description="Product catalogue")

READERS = (Role.ADMIN, Role.BRAND, Role.PRINTER, Role.INSPECTOR)


@blp.route("/products")
class Products(MethodView):
    @requires(*READERS)
    @blp.response(200, ProductSchema(many=True))
    def get(self):
        """List the products the caller may see (a brand: its own)"""
        return service.list_products(get_session(), current_principal())

    @requires(Role.BRAND, Role.ADMIN)
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    def post(self, data):
        """Register a product by GTIN"""
        return service.create_product(get_session(), current_principal(), data)


@blp.route("/products/<int:product_id>")
class ProductItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ProductSchema)
    def get(self, product_id: int):
        """One product"""
        return service.get_product(get_session(), current_principal(), product_id)

    @requires(Role.BRAND, Role.ADMIN)
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    def patch(self, data, product_id: int):
        """Change a product's text, regions or fraud thresholds"""
        return service.update_product(get_session(), current_principal(), product_id, data)
