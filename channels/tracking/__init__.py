"""The engagement loop's library: signed tracking tokens, the planned-links store, the durable event
log, human-signal classification and the ASGI service (`dangol track`). No Dagster import."""
