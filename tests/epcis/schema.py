"""The official EPCIS 2.0 JSON Schema, loaded from tests/data/epcis with every ``$ref``
resolved locally (no network), and the CBV 2.0 vocabularies."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

DATA = Path(__file__).parent.parent / "data" / "epcis"
ROOT_ID = "https://gs1.github.io/EPCIS/JSON-Schema/EPCIS-JSON-Schema.json"
DOCUMENT_ID = "https://gs1.github.io/EPCIS/JSON-Schema/EPCIS-Document-JSON-Schema.json"


@functools.cache
def _registry() -> Registry:
    resources = []
    for path in sorted((DATA / "JSON-Schema").rglob("*.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents,
                                                                  default_specification=DRAFT7)))
    return Registry().with_resources(resources)


@functools.cache
def validator() -> Draft7Validator:
    """Validates a whole EPCISDocument; formats (uri, date-time) are checked too."""
    registry = _registry()
    root = registry.contents(ROOT_ID)
    return Draft7Validator(root, registry=registry,
                           format_checker=Draft7Validator.FORMAT_CHECKER)


def errors(document: dict) -> list[str]:
    found = sorted(validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]
    # The root schema dispatches on "type" with if/then; check the document definition
    # directly as well, so that a document never slips through on a mistyped "type".
    definition = ("epcisQueryDocument" if isinstance(document, dict)
                  and document.get("type") == "EPCISQueryDocument" else "epcisDocument")
    doc_schema = {"$ref": DOCUMENT_ID + "#/definitions/" + definition}
    direct = Draft7Validator(doc_schema, registry=_registry(),
                             format_checker=Draft7Validator.FORMAT_CHECKER)
    messages += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                 for e in direct.iter_errors(document)]
    return messages


def assert_valid(document: dict) -> None:
    problems = errors(document)
    assert not problems, "EPCIS 2.0 schema violations:\n" + "\n".join(problems[:20])


def _terms(name: str) -> set[str]:
    context = json.loads((DATA / "JSON-LD-Context" / name).read_text())["@context"]
    return {k for k in context if not k.startswith("@") and k != "cbv"}


BIZSTEPS = _terms("cbv-context-bizstep.jsonld")
DISPOSITIONS = _terms("cbv-context-disposition.jsonld")
