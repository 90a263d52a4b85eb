"""EPCIS 2.0: lifecycle, inspection and fraud events for the national traceability portal.

Domain events (``scanapp.events``) are mapped to CBV 2.0 ObjectEvents and stored in the
publisher's transaction (``recorder``); they are served as EPCISDocuments (``query``),
pushed to an EPCIS capture endpoint from a durable outbox (``exporter``) and exported to
files (``cli``). See docs/EPCIS.md for the mapping and the decisions behind it.
"""
