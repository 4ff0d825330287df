{#-
    Each known customer's purchase state at the end of every day of the run's window: the BTYD summary
    (order_days, frequency, recency, tenure, monetary value), the inter-purchase intervals and the
    repurchase due date. dim_customers is the last day of it; the segments are every day of it.

    A customer is known from sign-up, or from their first order when that came first or sign-up is
    unknown. A row of the customer file with neither is a lead (a contact from a restock alert or an
    event form, see fct_audience_signup_benefit): not a customer, so not here, until they sign up or buy.

    A state only changes on a purchase day, so it is computed once per "anchor" - the window's first day
    (everything bought up to then) and every later purchase day in the window - and then spread over the
    days until the next anchor. A one-day window therefore costs one pass over the purchase history; a
    backfill of many days adds the purchases made during it and one row per customer per day.

    Repurchase due date (see dbt_project.yml `repurchase_min_own_intervals`):
      1. own_intervals: last purchase day + the customer's own median inter-purchase interval, when they
         have at least `repurchase_min_own_intervals` intervals;
      2. replenishment_cycle: otherwise last purchase day + the shortest replenishment cycle of what they
         bought that day (a product's own cycle, else its category's median cycle);
      3. own_intervals again: otherwise, with a single interval, that interval;
      4. null: a one-time buyer of products without any cycle has no due date.
-#}
{% set min_own_intervals = var('repurchase_min_own_intervals', 2) %}

with days as (
    select cast(date_day as date) as as_of_date
    from ({{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}) as spine
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

first_orders as (
    {#- Any status: an order shows the customer existed, even one cancelled later. -#}
    select customer_id, min(ordered_at) as first_ordered_at
    from {{ ref('stg_shop__orders') }}
    group by customer_id
),

known_customers as (
    {#- A customer exists from sign-up, or from their first order when that came first or sign-up is unknown.
        Neither: a lead, not a customer (known_from_date null never joins a day below). -#}
    select
        customers.customer_id,
        customers.signed_up_at,
        customers.referred_by_customer_id,
        cast(
            case
                when first_orders.first_ordered_at is null then customers.signed_up_at
                when customers.signed_up_at is null then first_orders.first_ordered_at
                when first_orders.first_ordered_at < customers.signed_up_at then first_orders.first_ordered_at
                else customers.signed_up_at
            end as date
        ) as known_from_date
    from customers
    left join first_orders on first_orders.customer_id = customers.customer_id
),

customer_days as (
    select
        days.as_of_date,
        known_customers.customer_id,
        known_customers.signed_up_at,
        known_customers.known_from_date
    from days
    inner join known_customers on known_customers.known_from_date <= days.as_of_date
),

referrals as (
    select
        days.as_of_date,
        known_customers.referred_by_customer_id as customer_id,
        count(*) as customers_referred
    from days
    inner join known_customers on known_customers.known_from_date <= days.as_of_date
    where known_customers.referred_by_customer_id is not null
    group by days.as_of_date, known_customers.referred_by_customer_id
),

purchase_days as (
    select * from {{ ref('int_customer_purchase_days') }}
),

anchors as (
    select customer_id, {{ window_start_date() }} as anchor_date
    from purchase_days
    where purchase_date <= {{ window_start_date() }}
    group by customer_id

    union all

    select customer_id, purchase_date as anchor_date
    from purchase_days
    where purchase_date > {{ window_start_date() }}
),

states as (
    select
        anchors.customer_id,
        anchors.anchor_date,
        count(*) as order_days,
        min(history.purchase_date) as first_order_date,
        max(history.purchase_date) as last_order_date,
        max(history.previous_purchase_date) as previous_order_date,
        sum(history.purchase_amount) as total_revenue,
        sum(case when history.purchase_day_number = 1 then history.purchase_amount else 0 end)
            as first_day_revenue,
        sum(history.items_amount) as items_amount,
        sum(history.discounted_amount) as discounted_amount,
        avg(cast(history.days_since_previous_purchase as {{ type_double() }})) as avg_interpurchase_days,
        {{ median('history.days_since_previous_purchase') }} as median_interpurchase_days
    from anchors
    inner join purchase_days as history
        on history.customer_id = anchors.customer_id
        and history.purchase_date <= anchors.anchor_date
    group by anchors.customer_id, anchors.anchor_date
),

state_ranges as (
    select
        states.*,
        last_day.replenishment_days as last_replenishment_days,
        lead(states.anchor_date) over (partition by states.customer_id order by states.anchor_date)
            as next_anchor_date
    from states
    inner join purchase_days as last_day
        on last_day.customer_id = states.customer_id
        and last_day.purchase_date = states.last_order_date
),

daily as (
    select
        customer_days.as_of_date,
        customer_days.customer_id,
        customer_days.signed_up_at,
        customer_days.known_from_date,
        coalesce(referrals.customers_referred, 0) as customers_referred,
        coalesce(state_ranges.order_days, 0) as order_days,
        coalesce(state_ranges.order_days - 1, 0) as frequency,
        state_ranges.first_order_date,
        state_ranges.last_order_date,
        state_ranges.previous_order_date,
        cast(coalesce(state_ranges.total_revenue, 0) as {{ dbt.type_numeric() }}) as total_revenue,
        state_ranges.first_day_revenue,
        state_ranges.items_amount,
        state_ranges.discounted_amount,
        state_ranges.avg_interpurchase_days,
        state_ranges.median_interpurchase_days,
        state_ranges.last_replenishment_days
    from customer_days
    left join state_ranges
        on state_ranges.customer_id = customer_days.customer_id
        and state_ranges.anchor_date <= customer_days.as_of_date
        and (state_ranges.next_anchor_date is null or state_ranges.next_anchor_date > customer_days.as_of_date)
    left join referrals
        on referrals.customer_id = customer_days.customer_id
        and referrals.as_of_date = customer_days.as_of_date
),

intervals as (
    select
        daily.*,
        case
            when frequency >= {{ min_own_intervals }} then 'own_intervals'
            when last_replenishment_days is not null then 'replenishment_cycle'
            when frequency >= 1 then 'own_intervals'
        end as repurchase_due_basis
    from daily
),

expected as (
    select
        intervals.*,
        case repurchase_due_basis
            when 'own_intervals'
                then cast(round(cast(median_interpurchase_days as {{ dbt.type_numeric() }})) as integer)
            when 'replenishment_cycle' then last_replenishment_days
        end as expected_interval_days
    from intervals
)

select
    as_of_date,
    customer_id,
    signed_up_at,
    known_from_date,
    customers_referred,
    order_days,
    frequency,
    first_order_date,
    last_order_date,
    previous_order_date,
    {{ dbt.datediff('first_order_date', 'last_order_date', 'day') }} as recency_days,
    {{ dbt.datediff('first_order_date', 'as_of_date', 'day') }} as tenure_days,
    {{ dbt.datediff('last_order_date', 'as_of_date', 'day') }} as days_since_last_order,
    {{ dbt.datediff('previous_order_date', 'last_order_date', 'day') }} as days_between_last_two_orders,
    total_revenue,
    case
        when frequency > 0 then {{ safe_ratio('total_revenue - first_day_revenue', 'frequency') }}
        else 0
    end as monetary_value,
    avg_interpurchase_days,
    median_interpurchase_days,
    {{ safe_ratio('discounted_amount', 'items_amount') }} as discount_share,
    repurchase_due_basis,
    expected_interval_days,
    {{ add_days('expected_interval_days', 'last_order_date') }} as repurchase_due_date
from expected
