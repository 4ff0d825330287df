{#-
    Churn risk of every buyer on the as-of day, from two signals (thresholds: dbt_project.yml `churn_risk`):
      - p_alive, the BG/NBD probability that the customer has not dropped out;
      - overdue_ratio, days since the last purchase day / the customer's expected interval (their
        repurchase cycle; for a buyer without one, the shop's median interval on that day).
    high when p_alive < high_p_alive or overdue_ratio >= high_overdue_ratio; medium likewise with the
    medium thresholds; low otherwise. A missing signal never raises the risk on its own; with neither
    signal the risk is unknown (null).

    BG/NBD gives one-time buyers p_alive = 1 (it only lets customers drop out right after a repeat
    purchase), so for them the overdue ratio decides.
-#}
{% set thresholds = var('churn_risk') %}

with buyers as (
    select *
    from {{ ref('int_customer_states_daily') }}
    where as_of_date = {{ as_of_date() }}
      and order_days > 0
),

predictions as (
    select *
    from {{ ref('stg_predictions__customer_bgnbd') }}
    where as_of_date = {{ as_of_date() }}
),

shop_cycle as (
    select {{ median('median_interpurchase_days') }} as shop_median_interval_days
    from buyers
    where frequency > 0
),

signals as (
    select
        buyers.customer_id,
        predictions.p_alive,
        predictions.expected_purchases_90d,
        coalesce(
            cast(buyers.expected_interval_days as {{ type_double() }}),
            shop_cycle.shop_median_interval_days
        ) as yardstick_days,
        {{ safe_ratio(
            'buyers.days_since_last_order',
            'coalesce(buyers.expected_interval_days, shop_cycle.shop_median_interval_days)'
        ) }} as overdue_ratio
    from buyers
    cross join shop_cycle
    left join predictions on predictions.customer_id = buyers.customer_id
)

select
    customer_id,
    p_alive,
    expected_purchases_90d,
    yardstick_days,
    overdue_ratio,
    case
        when p_alive < {{ thresholds.high_p_alive }}
            or overdue_ratio >= {{ thresholds.high_overdue_ratio }} then 'high'
        when p_alive < {{ thresholds.medium_p_alive }}
            or overdue_ratio >= {{ thresholds.medium_overdue_ratio }} then 'medium'
        when p_alive is not null or overdue_ratio is not null then 'low'
    end as churn_risk
from signals
