{#-
    The loyal core, for a personal-shopper note once a month. Until the customer 360's is_loyal_core lands,
    the rule is: at least `vip_min_order_days` purchase days, a purchase within the last
    `vip_recent_days` days, and 12-month revenue in the top `vip_top_share` of that day's buyers. The
    campaign keys messages by month (vip_month).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where as_of_date between {{ window_start_date() }} and {{ as_of_date() }}{% endif %}",
) }}
{% set min_order_days = var('vip_min_order_days', 4) %}
{% set recent_days = var('vip_recent_days', 90) %}
{% set top_share = var('vip_top_share', 0.1) %}

with days as (
    {{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}
),

purchase_days as (
    select * from {{ ref('int_customer_purchase_days') }}
),

history as (
    select
        cast(days.date_day as date) as as_of_date,
        purchase_days.customer_id,
        count(*) as order_days,
        max(purchase_days.purchase_date) as last_purchase_date,
        sum(
            case
                when purchase_days.purchase_date > cast({{ dbt.dateadd('day', -365, 'days.date_day') }} as date)
                    then purchase_days.purchase_amount
                else 0
            end
        ) as revenue_12m
    from days
    inner join purchase_days on purchase_days.purchase_date <= cast(days.date_day as date)
    group by cast(days.date_day as date), purchase_days.customer_id
),

ranked as (
    select
        *,
        percent_rank() over (partition by as_of_date order by revenue_12m) as revenue_percentile
    from history
)

select
    ranked.as_of_date,
    ranked.customer_id,
    customers.customer_name,
    ranked.order_days,
    ranked.last_purchase_date,
    cast(ranked.revenue_12m as {{ dbt.type_numeric() }}) as revenue_12m,
    cast({{ dbt.date_trunc('month', 'ranked.as_of_date') }} as date) as vip_month
from ranked
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = ranked.customer_id
where ranked.order_days >= {{ min_order_days }}
  and ranked.last_purchase_date > cast({{ dbt.dateadd('day', -recent_days, 'ranked.as_of_date') }} as date)
  and ranked.revenue_percentile >= {{ 1 - top_share }}
