{#-
    dangol's delivery record from earlier runs; empty until the first delivery has created the table
    (checked at run time, so the first run of a new warehouse works).

    Ephemeral on purpose: as a view it would be a Dagster asset with no upstream in the run, which makes
    Dagster split the dbt step into one more subprocess (~20 s) just for it.
-#}
{{ config(materialized='ephemeral') }}

{% if relation_exists(source('dangol', 'deliveries')) %}
select
    send_key,
    campaign_id,
    customer_id,
    send_date,
    channel,
    state as delivery_state,
    reason as delivery_reason,
    state in ('accepted', 'delivered', 'opened', 'clicked') as is_sent
from {{ source('dangol', 'deliveries') }}
{% else %}
select
    cast(null as {{ dbt.type_string() }}) as send_key,
    cast(null as {{ dbt.type_string() }}) as campaign_id,
    cast(null as {{ dbt.type_string() }}) as customer_id,
    cast(null as date) as send_date,
    cast(null as {{ dbt.type_string() }}) as channel,
    cast(null as {{ dbt.type_string() }}) as delivery_state,
    cast(null as {{ dbt.type_string() }}) as delivery_reason,
    cast(null as {{ dbt.type_boolean() }}) as is_sent
where 1 = 0
{% endif %}
