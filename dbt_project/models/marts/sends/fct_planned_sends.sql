{#-
    What delivery reads: every message the send policy planned, with its channel, rendered content (legal
    ad form included), scheduled time, cost estimate and idempotency key. Rows `held_for_approval` wait for
    a person (the audience guard); delivery sends `scheduled` rows only, and the blocking asset checks
    on this model gate it. The contract is enforced: delivery depends on these exact columns and types.
-#}
{{ config(materialized='table', schema='sends') }}

select
    cast(send_key as {{ dbt.type_string() }}) as send_key,
    cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(step as integer) as step,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(as_of_date as date) as as_of_date,
    cast(cycle as {{ dbt.type_string() }}) as cycle,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(message_type as {{ dbt.type_string() }}) as message_type,
    cast(purpose as {{ dbt.type_string() }}) as purpose,
    cast(priority as integer) as priority,
    cast(cap_class as {{ dbt.type_string() }}) as cap_class,
    cast(address as {{ dbt.type_string() }}) as address,
    cast(subject as {{ dbt.type_string() }}) as subject,
    cast(body as {{ dbt.type_string() }}) as body,
    cast(data as {{ dbt.type_string() }}) as data,
    cast(content_bytes as integer) as content_bytes,
    cast(render_warnings as {{ dbt.type_string() }}) as render_warnings,
    cast(scheduled_at as {{ dbt.type_timestamp() }}) as scheduled_at,
    cast(scheduled_at as date) as scheduled_date,
    cast(cost_krw as decimal(12, 2)) as cost_krw,
    cast(state as {{ dbt.type_string() }}) as state,
    cast(planned_at as {{ dbt.type_timestamp() }}) as planned_at
from {{ ref('stg_sends__planned_sends') }}
