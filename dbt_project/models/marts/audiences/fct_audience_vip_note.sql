{#-
    The loyal core (the customer 360's fct_customer_loyal_core: the top buyers who make most of the
    revenue, point in time per day) who bought within the last `vip_recent_days` days, for a personal-
    shopper note once a month: lapsed core customers are win-back's, not the personal shopper's. The
    campaign keys messages by month (vip_month).
-#}
{{ config(**daily_incremental_config()) }}
{% set recent_days = var('vip_recent_days', 90) %}

with core as (
    select as_of_date, customer_id, revenue_rank
    from {{ ref('fct_customer_loyal_core') }}
    where is_loyal_core
      and as_of_date between {{ window_start_date() }} and {{ as_of_date() }}
),

states as (
    select as_of_date, customer_id, order_days, last_order_date, days_since_last_order, total_revenue
    from {{ ref('int_customer_states_daily') }}
    where as_of_date between {{ window_start_date() }} and {{ as_of_date() }}
)

select
    core.as_of_date,
    core.customer_id,
    customers.customer_name,
    states.order_days,
    states.last_order_date as last_purchase_date,
    core.revenue_rank,
    cast(states.total_revenue as {{ dbt.type_numeric() }}) as total_revenue,
    cast({{ dbt.date_trunc('month', 'core.as_of_date') }} as date) as vip_month
from core
inner join states on states.as_of_date = core.as_of_date and states.customer_id = core.customer_id
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = core.customer_id
where states.days_since_last_order <= {{ recent_days }}
