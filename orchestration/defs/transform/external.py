"""Tables the dbt graph reads that no step of the same run writes: declared so the graph says where they come from."""

import dagster as dg

# The dbt source `dangol.deliveries` (engagement: messages sent). The `deliveries` asset writes this table at
# the end of a run; dbt reads it at the start of the next. Linking the two keys would be a cycle. Its own name
# (not `sends/deliveries`, which read as the `deliveries` asset twice) and group (ingest: what a run starts from).
delivery_record = dg.AssetSpec(
    dg.AssetKey(["sends", "delivery_record"]),
    group_name="ingest",
    kinds={"duckdb"},
    description=(
        "sends.deliveries as the next run reads it: one row per message delivered by earlier runs "
        "(written by the `deliveries` asset)."
    ),
)
