{#-
    Every customer every campaign considered, per day, and what the send policy decided: planned, held for
    approval, or excluded at which step and why, with the values that decided it (`detail`). What
    `dangol explain` reads.
-#}
{{ config(materialized='table', schema='sends') }}

select
    cast(campaign_id as varchar) as campaign_id,
    cast(step as integer) as step,
    cast(customer_id as varchar) as customer_id,
    cast(as_of_date as date) as as_of_date,
    cast(cycle as varchar) as cycle,
    cast(send_key as varchar) as send_key,
    cast(purpose as varchar) as purpose,
    cast(decision as varchar) as decision,
    cast(policy_step as varchar) as policy_step,
    cast(reason as varchar) as reason,
    cast(detail as varchar) as detail,
    cast(channel as varchar) as channel,
    cast(scheduled_at as {{ dbt.type_timestamp() }}) as scheduled_at,
    cast(channels_considered as varchar) as channels_considered,
    decision = 'planned' as is_planned,
    cast(decided_at as {{ dbt.type_timestamp() }}) as decided_at
from {{ source('sends', 'send_decisions_raw') }}
