"""Validation against the official EPCIS 2.0 JSON Schema (scanapp/epcis/schema, see SOURCE.md).

jsonschema-rs does the work (a few microseconds an event). The schema files reference each
other by relative ``$ref``; all of them are loaded into one registry under their ``$id``s, so
nothing is ever fetched over the network.

Three checks, each with its own compiled validator:
- ``envelope_problems``: an EPCISDocument without its events (header, @context, dates);
- ``event_problems``: one event of a document's eventList (no @context of its own needed);
- ``standalone_event_problems``: an event posted on its own, which must carry @context.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema_rs

from .problems import Problem, event_pointer

SCHEMA_DIR = Path(__file__).parent / "schema"
BASE = "https://gs1.github.io/EPCIS/JSON-Schema/"
ROOT_ID = BASE + "EPCIS-JSON-Schema.json"
DOCUMENT_REF = BASE + "EPCIS-Document-JSON-Schema.json#/definitions/epcisDocument"
EVENT_REF = BASE + "EPCIS-Event-JSON-Schema.json#/definitions/EPCIS-Document-Event"
# Enough to fix a document; a badly broken event would otherwise list hundreds.
MAX_PROBLEMS_PER_EVENT = 10
MAX_MESSAGE = 300


@functools.cache
def _registry() -> jsonschema_rs.Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.rglob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], contents))
    return jsonschema_rs.Registry(resources)


@functools.cache
def _validator(ref: str):
    return jsonschema_rs.Draft7Validator({"$ref": ref}, registry=_registry(),
                                         validate_formats=True)


def _problems(validator, instance, index: int | None, event_id: str | None,
              prefix: str) -> list[Problem]:
    if validator.is_valid(instance):
        return []
    found: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = list(validator.iter_errors(instance))
    # The schema dispatches on "type" with if/then inside anyOf: the root-level "anyOf" error
    # repeats the whole instance and says nothing the specific errors do not.
    specific = [e for e in errors if list(e.instance_path)]
    for error in specific or errors:
        path = "".join(f"/{p}" for p in error.instance_path)
        message = error.message
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + "..."
        key = (path, message)
        if key in seen:
            continue
        seen.add(key)
        field = event_pointer(index, path) if index is not None else (prefix + path or "/")
        found.append(Problem(index, event_id, field, "schema",
                             f"{field}: {message} (EPCIS 2.0 JSON Schema)"))
        if len(found) >= MAX_PROBLEMS_PER_EVENT:
            break
    return found


def envelope_problems(document: dict) -> list[Problem]:
    """The document's own fields (everything but the events) against the schema."""
    if not isinstance(document, dict):
        return [Problem(None, None, "/", "schema", "an EPCISDocument is a JSON object")]
    body = document.get("epcisBody")
    shell = dict(document)
    if isinstance(body, dict) and isinstance(body.get("eventList"), list):
        shell["epcisBody"] = {**body, "eventList": []}
    return _problems(_validator(DOCUMENT_REF), shell, None, None, "")


def event_problems(event, index: int | None) -> list[Problem]:
    """One event of a document's eventList against the schema."""
    event_id = event.get("eventID") if isinstance(event, dict) else None
    return _problems(_validator(EVENT_REF), event, index,
                     event_id if isinstance(event_id, str) else None, "")


def standalone_event_problems(event) -> list[Problem]:
    """An event posted on its own (POST /epcis/events): it must carry its @context too."""
    event_id = event.get("eventID") if isinstance(event, dict) else None
    return _problems(_validator(ROOT_ID), event, None,
                     event_id if isinstance(event_id, str) else None, "")


def root_problems(instance) -> list[Problem]:
    """Anything the root schema accepts: an EPCISDocument, an EPCISQueryDocument, an event."""
    return _problems(_validator(ROOT_ID), instance, None, None, "")


def document_problems(document) -> list[Problem]:
    """A whole document: the envelope, then each event (for tests and emitted documents)."""
    problems = envelope_problems(document)
    try:
        events = document["epcisBody"]["eventList"]
    except (KeyError, TypeError):
        return problems
    if not isinstance(events, list):
        return problems
    for index, event in enumerate(events):
        problems += event_problems(event, index)
    return problems
