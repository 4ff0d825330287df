{#-
    What customers and providers told dangol's tracking service, one row per event (loaded by the
    `sends/message_events` asset); empty until the first load has created the table.
    Ephemeral for the same reason as stg_dangol__deliveries.
-#}
{{ config(materialized='ephemeral') }}

{% if relation_exists(source('dangol', 'message_events')) %}
select
    event_id,
    event_type,
    occurred_at,
    send_key,
    channel,
    campaign_id,
    customer_id,
    send_date,
    link as link_number,
    is_human,
    bot_reason,
    source as event_source,
    provider,
    scope as opt_out_scope
from {{ source('dangol', 'message_events') }}
{% else %}
select
    cast(null as {{ dbt.type_string() }}) as event_id,
    cast(null as {{ dbt.type_string() }}) as event_type,
    cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
    cast(null as {{ dbt.type_string() }}) as send_key,
    cast(null as {{ dbt.type_string() }}) as channel,
    cast(null as {{ dbt.type_string() }}) as campaign_id,
    cast(null as {{ dbt.type_string() }}) as customer_id,
    cast(null as date) as send_date,
    cast(null as {{ dbt.type_int() }}) as link_number,
    cast(null as {{ dbt.type_boolean() }}) as is_human,
    cast(null as {{ dbt.type_string() }}) as bot_reason,
    cast(null as {{ dbt.type_string() }}) as event_source,
    cast(null as {{ dbt.type_string() }}) as provider,
    cast(null as {{ dbt.type_string() }}) as opt_out_scope
where 1 = 0
{% endif %}
