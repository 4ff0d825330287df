{#-
    Sign-ups who have not bought yet: customers who signed up 1 to `welcome_max_days` days before the day
    and have no paid order by its end. The campaign keys messages by sign-up date, so a customer listed on
    several days gets one welcome coupon. Replaced per day of the window on every run.
-#}
{{ config(**daily_incremental_config()) }}
{% set max_days = var('welcome_max_days', 3) %}

with days as (
    {{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}
),

sign_ups as (
    select customer_id, customer_name, signed_up_at, cast(signed_up_at as date) as signed_up_date
    from {{ ref('stg_shop__customers') }}
    where signed_up_at is not null
),

first_purchases as (
    select customer_id, min(ordered_at) as first_paid_at
    from {{ ref('stg_shop__orders') }}
    where is_paid
    group by customer_id
),

listed as (
    select
        cast(days.date_day as date) as as_of_date,
        sign_ups.customer_id,
        sign_ups.customer_name,
        sign_ups.signed_up_at,
        sign_ups.signed_up_date,
        first_purchases.first_paid_at
    from days
    inner join sign_ups
        on sign_ups.signed_up_date >= cast({{ dbt.dateadd('day', -max_days, 'days.date_day') }} as date)
        and sign_ups.signed_up_date < cast(days.date_day as date)
    left join first_purchases on first_purchases.customer_id = sign_ups.customer_id
)

select
    as_of_date,
    customer_id,
    customer_name,
    signed_up_at,
    signed_up_date,
    {{ dbt.datediff('signed_up_date', 'as_of_date', 'day') }} as days_since_sign_up
from listed
where first_paid_at is null
   or first_paid_at >= cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as {{ dbt.type_timestamp() }})
