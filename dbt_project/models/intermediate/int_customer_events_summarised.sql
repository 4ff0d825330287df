{#-
    One row per customer with stitched events up to the as-of day: when they were first and last seen, the
    first marketing touch (first event carrying a utm_source), recent browsing and message clicks.
    "Last N days" always means the N days ending with the as-of day.
-#}
with events as (
    select *
    from {{ ref('int_events_stitched') }}
    where customer_id is not null
),

first_touches as (
    select
        customer_id,
        utm_source,
        utm_medium,
        utm_campaign,
        row_number() over (partition by customer_id order by occurred_at, event_id) as touch_rank
    from events
    where utm_source is not null
),

activity as (
    select
        customer_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(case when event_type = 'product_view'
                  and occurred_at >= {{ end_of_day(dbt.dateadd('day', -30, as_of_date())) }}
            then 1 end) as product_views_30d,
        count(case when event_type = 'add_to_cart'
                  and occurred_at >= {{ end_of_day(dbt.dateadd('day', -30, as_of_date())) }}
            then 1 end) as add_to_carts_30d,
        max(case when event_type = 'add_to_cart' then occurred_at end) as last_add_to_cart_at,
        count(case when event_type = 'message_click'
                  and occurred_at >= {{ end_of_day(dbt.dateadd('day', -90, as_of_date())) }}
            then 1 end) as messages_clicked_90d,
        max(case when event_type = 'message_click' then occurred_at end) as last_message_click_at
    from events
    group by customer_id
)

select
    activity.customer_id,
    activity.first_seen_at,
    activity.last_seen_at,
    first_touches.utm_source as first_touch_source,
    first_touches.utm_medium as first_touch_medium,
    first_touches.utm_campaign as first_touch_campaign,
    activity.product_views_30d,
    activity.add_to_carts_30d,
    activity.last_add_to_cart_at,
    activity.messages_clicked_90d,
    activity.last_message_click_at
from activity
left join first_touches
    on first_touches.customer_id = activity.customer_id
    and first_touches.touch_rank = 1
