{#-
    Win-back for high churn risk, point in time per day. The customer 360's churn_risk is `high` when the
    BG/NBD p_alive is low or the customer is `churn_risk.high_overdue_ratio` times past their expected
    interval (dbt_project.yml); p_alive is fitted for the run's last day only, so this audience uses the
    overdue signal, per day, from the 360's int_customer_states_daily: days since the last purchase day
    at least `high_overdue_ratio` x expected_interval_days, and at least `win_back_min_days`. Customers
    are listed for `win_back_window_days` days from the day they cross it; the campaign keys messages by
    last purchase date, so one lapse gets one win-back message.
-#}
{{ config(**daily_incremental_config()) }}
{% set ratio = var('churn_risk')['high_overdue_ratio'] %}
{% set min_days = var('win_back_min_days', 60) %}
{% set window_days = var('win_back_window_days', 30) %}

with states as (
    select as_of_date, customer_id, order_days, last_order_date, days_since_last_order, expected_interval_days,
        total_revenue
    from {{ ref('int_customer_states_daily') }}
    where as_of_date between {{ window_start_date() }} and {{ as_of_date() }}
      and order_days > 0
      and expected_interval_days > 0
),

thresholds as (
    select
        *,
        case
            when {{ ratio }} * expected_interval_days > {{ min_days }}
                then cast(ceil({{ ratio }} * expected_interval_days) as integer)
            else {{ min_days }}
        end as churn_after_days
    from states
)

select
    thresholds.as_of_date,
    thresholds.customer_id,
    customers.customer_name,
    thresholds.order_days,
    thresholds.last_order_date as last_purchase_date,
    thresholds.days_since_last_order as days_since_last_purchase,
    cast(thresholds.expected_interval_days as integer) as expected_interval_days,
    thresholds.churn_after_days,
    cast(thresholds.total_revenue as {{ dbt.type_numeric() }}) as total_revenue,
    'high' as churn_risk
from thresholds
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = thresholds.customer_id
where thresholds.days_since_last_order >= thresholds.churn_after_days
  and thresholds.days_since_last_order < thresholds.churn_after_days + {{ window_days }}
