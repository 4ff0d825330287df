{#-
    What delivery reads: every message the send policy planned, with its channel, rendered content (legal
    ad form included), scheduled time, cost estimate and idempotency key. Rows `held_for_approval` wait for
    a person (the audience guard); delivery sends `scheduled` rows only, and the blocking asset checks
    on this model gate it. The contract is enforced: delivery depends on these exact columns and types.
-#}
{{ config(materialized='table', schema='sends') }}

select
    cast(send_key as varchar) as send_key,
    cast(campaign_id as varchar) as campaign_id,
    cast(step as integer) as step,
    cast(customer_id as varchar) as customer_id,
    cast(as_of_date as date) as as_of_date,
    cast(cycle as varchar) as cycle,
    cast(channel as varchar) as channel,
    cast(message_type as varchar) as message_type,
    cast(purpose as varchar) as purpose,
    cast(priority as integer) as priority,
    cast(cap_class as varchar) as cap_class,
    cast(address as varchar) as address,
    cast(subject as varchar) as subject,
    cast(body as varchar) as body,
    cast(data as varchar) as data,
    cast(content_bytes as integer) as content_bytes,
    cast(render_warnings as varchar) as render_warnings,
    cast(scheduled_at as {{ dbt.type_timestamp() }}) as scheduled_at,
    cast(scheduled_at as date) as scheduled_date,
    cast(cost_krw as decimal(12, 2)) as cost_krw,
    cast(state as varchar) as state,
    cast(planned_at as {{ dbt.type_timestamp() }}) as planned_at
from {{ source('sends', 'planned_sends_rendered') }}
