{#-
    One row per customer in the customer file whom dangol has sent messages to, or who opened, clicked or
    unsubscribed from one, up to the as-of day: sends from earlier runs' deliveries (a message counts as
    sent once a provider took it), engagement from the tracking service's events. Opens and clicks count
    people only (is_human): scanners and mail privacy proxies open and click everything.
-#}
with sent as (
    select deliveries.customer_id, deliveries.send_date
    from {{ ref('stg_dangol__deliveries') }} as deliveries
    inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = deliveries.customer_id
    where deliveries.is_sent
      and deliveries.send_date <= {{ as_of_date() }}
),

tracked as (
    select events.customer_id, events.event_type, events.send_key, events.occurred_at
    from {{ ref('stg_dangol__message_events') }} as events
    inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = events.customer_id
    where events.is_human
      and events.occurred_at < {{ as_of_cutoff() }}
),

sends as (
    select
        customer_id,
        count(case when send_date > cast({{ dbt.dateadd('day', -90, as_of_date()) }} as date) then 1 end)
            as messages_sent_90d,
        max(send_date) as last_message_sent_date
    from sent
    group by customer_id
),

engagement as (
    select
        customer_id,
        count(distinct case when event_type = 'opened'
                  and occurred_at >= {{ end_of_day(dbt.dateadd('day', -90, as_of_date())) }}
            then send_key end) as messages_opened_90d,
        max(case when event_type = 'opened' then occurred_at end) as last_message_opened_at,
        count(distinct case when event_type = 'clicked'
                  and occurred_at >= {{ end_of_day(dbt.dateadd('day', -90, as_of_date())) }}
            then send_key end) as messages_clicked_90d,
        max(case when event_type = 'clicked' then occurred_at end) as last_message_click_at,
        max(case when event_type = 'unsubscribed' then occurred_at end) as last_unsubscribed_at
    from tracked
    group by customer_id
),

customers as (
    select customer_id from sends
    union
    select customer_id from engagement
)

select
    customers.customer_id,
    coalesce(sends.messages_sent_90d, 0) as messages_sent_90d,
    sends.last_message_sent_date,
    coalesce(engagement.messages_opened_90d, 0) as messages_opened_90d,
    engagement.last_message_opened_at,
    coalesce(engagement.messages_clicked_90d, 0) as messages_clicked_90d,
    engagement.last_message_click_at,
    engagement.last_unsubscribed_at
from customers
left join sends on sends.customer_id = customers.customer_id
left join engagement on engagement.customer_id = customers.customer_id
