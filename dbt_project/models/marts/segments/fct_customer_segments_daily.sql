{#-
    The history of segment membership: one row per known customer per day, kept for every day ever built.
    Each run replaces the days of its window (delete+insert by as_of_date; insert_overwrite of the
    as_of_date partitions on Spark), so a backfill fills history and a rerun of a day gives the same rows.

    Who moved from loyal to at_risk this week:
        select this_week.customer_id
        from fct_customer_segments_daily as last_week
        join fct_customer_segments_daily as this_week using (customer_id)
        where last_week.as_of_date = <D - 7> and last_week.rfm_segment = 'loyal'
          and this_week.as_of_date = <D> and this_week.rfm_segment = 'at_risk'
-#}
{{ config(**daily_incremental_config()) }}

with states as (
    select * from {{ ref('int_customer_states_daily') }}
)

select
    states.as_of_date,
    states.customer_id,
    states.order_days,
    states.days_since_last_order,
    states.total_revenue,
    rfm.r_score,
    rfm.f_score,
    rfm.m_score,
    coalesce(rfm.rfm_segment, 'no_purchase') as rfm_segment,
    lifecycle.lifecycle,
    lifecycle.retention_status,
    lifecycle.buyer_status,
    coalesce(core.is_loyal_core, false) as is_loyal_core,
    coalesce(personas.persona, 'no_purchase') as persona
from states
inner join {{ ref('fct_customer_lifecycle') }} as lifecycle
    on lifecycle.as_of_date = states.as_of_date
    and lifecycle.customer_id = states.customer_id
left join {{ ref('fct_customer_rfm') }} as rfm
    on rfm.as_of_date = states.as_of_date
    and rfm.customer_id = states.customer_id
left join {{ ref('fct_customer_loyal_core') }} as core
    on core.as_of_date = states.as_of_date
    and core.customer_id = states.customer_id
left join {{ ref('fct_customer_personas') }} as personas
    on personas.as_of_date = states.as_of_date
    and personas.customer_id = states.customer_id
