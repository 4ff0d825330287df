{#- One row per customer known at the end of the as-of day, with their purchase summary and consents. -#}
{% set channels = ['email', 'sms', 'kakao', 'app_push', 'web_push'] %}
{% set purposes = ['ad', 'night_ad', 'info'] %}

with customers as (
    select *
    from {{ ref('stg_shop__customers') }}
    where signed_up_at is null or signed_up_at < {{ as_of_cutoff() }}
),

purchases as (
    select
        customer_id,
        count(*) as order_days,
        min(purchase_date) as first_order_date,
        max(purchase_date) as last_order_date,
        sum(purchase_amount) as total_revenue
    from {{ ref('int_customer_purchase_days') }}
    group by customer_id
),

consents as (
    select * from {{ ref('int_customer_consents_pivoted') }}
)

select
    customers.customer_id,
    {{ as_of_date() }} as as_of_date,
    customers.customer_name,
    customers.email,
    customers.phone,
    customers.signed_up_at,
    customers.acquisition_source,
    coalesce(purchases.order_days, 0) as order_days,
    coalesce(purchases.order_days, 0) - case when purchases.order_days > 0 then 1 else 0 end as frequency,
    purchases.first_order_date,
    purchases.last_order_date,
    {{ dbt.datediff('purchases.first_order_date', 'purchases.last_order_date', 'day') }} as recency_days,
    {{ dbt.datediff('purchases.last_order_date', as_of_date(), 'day') }} as days_since_last_order,
    coalesce(purchases.total_revenue, 0) as total_revenue,
    case
        when purchases.order_days is null then 'prospect'
        when purchases.order_days = 1 then 'one_time'
        else 'repeat'
    end as lifecycle_stage
    {%- for channel in channels %}
    {%- for purpose in purposes %},
    coalesce(consents.has_{{ channel }}_{{ purpose }}_consent, false) as has_{{ channel }}_{{ purpose }}_consent
    {%- endfor %}
    {%- endfor %}
from customers
left join purchases on purchases.customer_id = customers.customer_id
left join consents on consents.customer_id = customers.customer_id
