{#-
    Where every known customer stands in the AARRR funnel on every day of the run's window.

    lifecycle (one value; thresholds dormant_after_days / churned_after_days in dbt_project.yml):
      acquired   signed up (or first seen ordering) but has not bought yet;
      activated  one purchase day, bought recently;
      revenue    two or more purchase days (repeat revenue), bought recently;
      referrer   a recent buyer who has referred at least one customer;
      dormant    no purchase for more than dormant_after_days;
      churned    no purchase for more than churned_after_days.
    retention_status: retained / dormant / churned for buyers by the same thresholds.
    buyer_status, for customers who bought in the last active_window_days: new (that was their first
    purchase), reactivated (their last purchase came after a gap longer than dormant_after_days), returning
    (otherwise); inactive when they bought before but not in that window.
-#}
{% set dormant = var('dormant_after_days') %}
{% set churned = var('churned_after_days') %}
{% set active_window = var('active_window_days') %}

with states as (
    select * from {{ ref('int_customer_states_daily') }}
)

select
    as_of_date,
    customer_id,
    order_days,
    days_since_last_order,
    days_between_last_two_orders,
    customers_referred,
    customers_referred > 0 as is_referrer,
    case
        when order_days = 0 then 'acquired'
        when days_since_last_order > {{ churned }} then 'churned'
        when days_since_last_order > {{ dormant }} then 'dormant'
        when customers_referred > 0 then 'referrer'
        when order_days = 1 then 'activated'
        else 'revenue'
    end as lifecycle,
    case
        when order_days = 0 then 'never_purchased'
        when days_since_last_order > {{ churned }} then 'churned'
        when days_since_last_order > {{ dormant }} then 'dormant'
        else 'retained'
    end as retention_status,
    case
        when order_days = 0 then 'never_purchased'
        when days_since_last_order >= {{ active_window }} then 'inactive'
        when order_days = 1 then 'new'
        when days_between_last_two_orders > {{ dormant }} then 'reactivated'
        else 'returning'
    end as buyer_status
from states
