{#-
    Every customer every campaign considered, per day, and what became of it: planned, held for approval,
    or excluded at which policy step and why (`detail`), and, once delivery has judged a planned send at
    hand-off, `expired` (older than the catch-up window), `blocked` (its day's plan failed a blocking
    check) or `withheld` (no longer eligible on the consent and opt-outs known at hand-off), with the
    hand-off's reason. What `dangol explain` reads.

    A view, so that what delivery decided after this model was built (the due-sends hand-off at 10:00, a
    send expiring during a backfill) shows at once.
-#}
{{ config(materialized='view', schema='sends') }}

with decisions as (
    select * from {{ ref('stg_sends__send_decisions') }}
),

refusals as (
    select send_key, delivery_state, delivery_reason
    from {{ ref('stg_dangol__deliveries') }}
    where delivery_state in ('expired', 'blocked', 'withheld')
)

select
    cast(decisions.campaign_id as {{ dbt.type_string() }}) as campaign_id,
    cast(decisions.step as integer) as step,
    cast(decisions.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(decisions.as_of_date as date) as as_of_date,
    cast(decisions.cycle as {{ dbt.type_string() }}) as cycle,
    cast(decisions.send_key as {{ dbt.type_string() }}) as send_key,
    cast(decisions.purpose as {{ dbt.type_string() }}) as purpose,
    cast(coalesce(refusals.delivery_state, decisions.decision) as {{ dbt.type_string() }}) as decision,
    cast(case when refusals.send_key is null then decisions.policy_step else 'delivery' end as {{ dbt.type_string() }})
        as policy_step,
    cast(coalesce(refusals.delivery_state, decisions.reason) as {{ dbt.type_string() }}) as reason,
    cast(coalesce(refusals.delivery_reason, decisions.detail) as {{ dbt.type_string() }}) as detail,
    cast(decisions.channel as {{ dbt.type_string() }}) as channel,
    cast(decisions.scheduled_at as {{ dbt.type_timestamp() }}) as scheduled_at,
    cast(decisions.channels_considered as {{ dbt.type_string() }}) as channels_considered,
    refusals.send_key is null and decisions.decision = 'planned' as is_planned,
    cast(decisions.decided_at as {{ dbt.type_timestamp() }}) as decided_at
from decisions
left join refusals
    on refusals.send_key = decisions.send_key
    and decisions.decision = 'planned'
