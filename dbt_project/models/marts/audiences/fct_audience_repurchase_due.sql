{#-
    Customers whose next purchase is due, for every day of the as-of window. The due date is the customer
    360's `repurchase_due_date` (int_customer_states_daily: the customer's own median interval, else the
    replenishment cycle of what they last bought; see dbt_project.yml), so the audience and the 360 never
    disagree. A customer stays listed for `repurchase_grace_days` days from the due date; the send list
    keys messages by purchase cycle, so one cycle gets one reminder however many days it is listed.
    Replaced per day of the window on every run (a rerun drops customers who are no longer due).
-#}
{{ config(**daily_incremental_config()) }}
{% set grace_days = var('repurchase_grace_days', 7) %}

with states as (
    select as_of_date, customer_id, order_days, last_order_date, expected_interval_days, repurchase_due_date
    from {{ ref('int_customer_states_daily') }}
    where as_of_date between {{ window_start_date() }} and {{ as_of_date() }}
      and repurchase_due_date is not null
)

select
    states.as_of_date,
    states.customer_id,
    customers.customer_name,
    states.order_days,
    states.last_order_date as last_purchase_date,
    cast(states.expected_interval_days as integer) as expected_interval_days,
    states.repurchase_due_date,
    {{ dbt.datediff('states.repurchase_due_date', 'states.as_of_date', 'day') }} as days_overdue
from states
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = states.customer_id
where states.as_of_date >= states.repurchase_due_date
  and states.as_of_date < {{ add_days(grace_days, 'states.repurchase_due_date') }}
