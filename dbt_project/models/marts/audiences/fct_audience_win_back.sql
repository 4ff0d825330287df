{#-
    Win-back for high churn risk. Until the customer 360's churn_risk lands, "high" is this documented rule:
    a buyer whose days since the last purchase day reach max(`win_back_min_days`, 3 x their own mean
    interval between purchase days) (one-time buyers: `win_back_min_days`). They are listed for
    `win_back_window_days` days from then; the campaign keys messages by last purchase date, so one lapse
    gets one win-back message.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where as_of_date between {{ window_start_date() }} and {{ as_of_date() }}{% endif %}",
) }}
{% set min_days = var('win_back_min_days', 90) %}
{% set window_days = var('win_back_window_days', 30) %}

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
        min(purchase_days.purchase_date) as first_purchase_date,
        max(purchase_days.purchase_date) as last_purchase_date,
        sum(purchase_days.purchase_amount) as total_revenue
    from days
    inner join purchase_days on purchase_days.purchase_date <= cast(days.date_day as date)
    group by cast(days.date_day as date), purchase_days.customer_id
),

risk as (
    select
        *,
        {{ dbt.datediff('last_purchase_date', 'as_of_date', 'day') }} as days_since_last_purchase,
        case
            when order_days >= 2
                then {{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }} * 1.0 / (order_days - 1)
        end as mean_interval_days
    from history
),

thresholds as (
    select
        *,
        case
            when mean_interval_days is not null and 3 * mean_interval_days > {{ min_days }}
                then cast(round(3 * mean_interval_days) as integer)
            else {{ min_days }}
        end as churn_after_days
    from risk
)

select
    thresholds.as_of_date,
    thresholds.customer_id,
    customers.customer_name,
    thresholds.order_days,
    thresholds.last_purchase_date,
    thresholds.days_since_last_purchase,
    thresholds.churn_after_days,
    cast(thresholds.total_revenue as {{ dbt.type_numeric() }}) as total_revenue,
    'high' as churn_risk
from thresholds
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = thresholds.customer_id
where thresholds.days_since_last_purchase >= thresholds.churn_after_days
  and thresholds.days_since_last_purchase < thresholds.churn_after_days + {{ window_days }}
