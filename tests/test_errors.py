"""The one error table: every domain error has one HTTP status, JSON and HTML alike."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask import Blueprint

import scanapp
from scanapp import errors
from scanapp.errors import HTTP_STATUS, DomainError, status_for


def _every_domain_error() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(scanapp.__path__, "scanapp."):
        if not module.name.startswith("scanapp.migrations"):
            importlib.import_module(module.name)
    found, todo = set(), [DomainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


ALL = sorted(_every_domain_error(), key=lambda cls: f"{cls.__module__}.{cls.__name__}")


def test_the_table_gives_each_status_to_one_kind():
    assert len(set(HTTP_STATUS.values())) == len(HTTP_STATUS)
    assert all(400 <= status < 600 for status in HTTP_STATUS.values())


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_every_domain_error_in_the_package_has_its_kinds_status(cls):
    kinds = [kind for kind in cls.__mro__ if kind in HTTP_STATUS]
    assert kinds, f"{cls.__name__} extends no kind in errors.HTTP_STATUS"
    assert status_for(cls) == HTTP_STATUS[kinds[0]]


def test_no_fallback_for_an_error_outside_the_table():
    class Stray(DomainError):
        pass

    for cls in (DomainError, Stray):
        with pytest.raises(TypeError, match="HTTP_STATUS"):
            status_for(cls("x"))


@pytest.fixture
def raising_app(app_factory):
    """An app with one route raising each kind of error of the table."""
    fresh = app_factory()
    bp = Blueprint("raise_for_test", __name__)

    @bp.get("/raise/<name>")
    def raise_(name: str):
        kind = getattr(errors, name)
        if kind is errors.RateLimited:
            raise kind("slow down", retry_after_s=3)
        raise kind(f"a {name}")

    fresh.register_blueprint(bp)
    return fresh


@pytest.mark.no_storage
@pytest.mark.parametrize("kind", list(HTTP_STATUS), ids=lambda cls: cls.__name__)
def test_json_and_html_answer_the_tables_status(raising_app, kind):
    response = raising_app.test_client().get(f"/raise/{kind.__name__}")
    assert response.status_code == HTTP_STATUS[kind]
    assert response.get_json() == {"status": HTTP_STATUS[kind], "code": kind.code,
                                   "message": response.get_json()["message"]}

    from scanapp.fraud import dashboard
    from scanapp.fraud.workspace_text import TEXT

    exc = kind("x", retry_after_s=1) if kind is errors.RateLimited else kind("x")
    with raising_app.test_request_context("/inspect/"):
        page, status = dashboard._domain_error(exc)
    # The inspectors' page words the error in Vietnamese by its kind (the service's English
    # message goes to the log, not to the page).
    words = TEXT["vi"]["error"]["by_kind"][kind.__name__]
    assert status == HTTP_STATUS[kind] and words in page
