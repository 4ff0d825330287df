{#-
    Customers whose next purchase is due, for every day of the as-of window, with their contact details
    and consents as they stood at the end of that day. Incremental by day, so a backfill of one window
    and the nightly run of another never overwrite each other's rows.

    The expected interval is the customer's own mean interval between purchase days once they have two
    or more; with a single purchase day it is the shortest replenishment cycle among the products bought
    that day. A customer stays in the audience for `repurchase_grace_days` after the due date; the send
    list keys messages by purchase cycle, so one cycle gets one reminder however many days it is listed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['as_of_date', 'customer_id'],
) }}
{% set grace_days = var('repurchase_grace_days', 7) %}

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
        max(purchase_days.purchase_date) as last_purchase_date
    from days
    inner join purchase_days on purchase_days.purchase_date <= cast(days.date_day as date)
    group by cast(days.date_day as date), purchase_days.customer_id
),

replenishment as (
    select
        orders.customer_id,
        orders.ordered_date as purchase_date,
        min(products.replenishment_days) as replenishment_days
    from {{ ref('stg_shop__orders') }} as orders
    inner join {{ ref('stg_shop__order_items') }} as items on items.order_id = orders.order_id
    inner join {{ ref('stg_shop__products') }} as products on products.product_id = items.product_id
    where orders.is_paid and orders.ordered_at < {{ as_of_cutoff() }}
    group by orders.customer_id, orders.ordered_date
),

intervals as (
    select
        history.*,
        case
            when history.order_days >= 2
                then round(
                    {{ dbt.datediff('history.first_purchase_date', 'history.last_purchase_date', 'day') }}
                    * 1.0 / (history.order_days - 1)
                )
            else replenishment.replenishment_days
        end as expected_interval_days
    from history
    left join replenishment
        on replenishment.customer_id = history.customer_id
        and replenishment.purchase_date = history.last_purchase_date
),

due as (
    select
        *,
        cast({{ dbt.dateadd('day', 'cast(expected_interval_days as integer)', 'last_purchase_date') }} as date)
            as repurchase_due_date
    from intervals
    where expected_interval_days >= 1
),

due_today as (
    select *
    from due
    where as_of_date >= repurchase_due_date
      and as_of_date < cast({{ dbt.dateadd('day', grace_days, 'repurchase_due_date') }} as date)
),

consents as (
    select
        due_today.as_of_date,
        due_today.customer_id,
        consent_log.channel,
        consent_log.purpose,
        consent_log.is_granted,
        row_number() over (
            partition by due_today.as_of_date, due_today.customer_id, consent_log.channel, consent_log.purpose
            order by consent_log.recorded_at desc, consent_log.is_granted asc
        ) as recency_rank
    from due_today
    inner join {{ ref('stg_shop__consents') }} as consent_log
        on consent_log.customer_id = due_today.customer_id
        and consent_log.recorded_at < cast({{ dbt.dateadd('day', 1, 'due_today.as_of_date') }} as {{ dbt.type_timestamp() }})
),

consents_as_of as (
    select
        as_of_date,
        customer_id
        {%- for channel in ['email', 'sms'] %}
        {%- for purpose in ['ad', 'night_ad'] %},
        coalesce(max(case when channel = '{{ channel }}' and purpose = '{{ purpose }}' then is_granted end), false)
            as has_{{ channel }}_{{ purpose }}_consent
        {%- endfor %}
        {%- endfor %}
    from consents
    where recency_rank = 1
    group by as_of_date, customer_id
)

select
    due_today.as_of_date,
    due_today.customer_id,
    customers.customer_name,
    customers.email,
    customers.phone,
    due_today.order_days,
    due_today.last_purchase_date,
    cast(due_today.expected_interval_days as integer) as expected_interval_days,
    due_today.repurchase_due_date,
    {{ dbt.datediff('due_today.repurchase_due_date', 'due_today.as_of_date', 'day') }} as days_overdue
    {%- for channel in ['email', 'sms'] %}
    {%- for purpose in ['ad', 'night_ad'] %},
    coalesce(consents_as_of.has_{{ channel }}_{{ purpose }}_consent, false) as has_{{ channel }}_{{ purpose }}_consent
    {%- endfor %}
    {%- endfor %}
from due_today
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = due_today.customer_id
left join consents_as_of
    on consents_as_of.as_of_date = due_today.as_of_date
    and consents_as_of.customer_id = due_today.customer_id
