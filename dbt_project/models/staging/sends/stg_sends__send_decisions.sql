{#-
    Every candidate the send policy considered and what it decided, as `send_plan` wrote it
    (sends.send_decisions_raw): the one way dbt reads it. Ephemeral, as stg_sends__planned_sends.
-#}
{{ config(materialized='ephemeral') }}

select
    campaign_id,
    step,
    customer_id,
    as_of_date,
    cycle,
    send_key,
    purpose,
    decision,
    policy_step,
    reason,
    detail,
    channel,
    scheduled_at,
    channels_considered,
    decided_at
from {{ source('sends', 'send_decisions_raw') }}
