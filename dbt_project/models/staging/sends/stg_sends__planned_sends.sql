{#-
    The send policy's plan as `send_plan` wrote it (sends.planned_sends_rendered): the one way dbt reads it.
    Ephemeral, as stg_dangol__deliveries: a view would be one more Dagster asset and dbt subprocess per run.
-#}
{{ config(materialized='ephemeral') }}

select
    send_key,
    campaign_id,
    step,
    customer_id,
    as_of_date,
    cycle,
    channel,
    message_type,
    purpose,
    priority,
    cap_class,
    address,
    subject,
    body,
    data,
    content_bytes,
    render_warnings,
    scheduled_at,
    cost_krw,
    state,
    planned_at
from {{ source('sends', 'planned_sends_rendered') }}
