{#-
    Identity stitching: every web/app event up to the as-of day, attributed to the customer it belongs to.
    An anonymous visitor becomes the customer they later signed up or logged in as, from their first event
    on - but only once that link is known (linked before the end of the as-of day), so a past day never
    learns who a visitor turned out to be later.

    Links come from identities.csv first; a visitor missing there is linked by their own events that carry
    both the anonymous id and a customer id (the earliest such customer wins on a shared device). An event
    logged in as a customer keeps that customer.
-#}
{{ config(materialized='view') }}

with events as (
    select *
    from {{ ref('stg_shop__events') }}
    where occurred_at < {{ as_of_cutoff() }}
),

declared_links as (
    select anonymous_id, customer_id, linked_at, 1 as link_priority
    from {{ ref('stg_shop__identities') }}
    where linked_at < {{ as_of_cutoff() }}
),

observed_links as (
    select anonymous_id, customer_id, min(occurred_at) as linked_at, 2 as link_priority
    from events
    where anonymous_id is not null and customer_id is not null
    group by anonymous_id, customer_id
),

ranked_links as (
    select
        *,
        row_number() over (
            partition by anonymous_id order by link_priority, linked_at, customer_id
        ) as link_rank
    from (
        select * from declared_links
        union all
        select * from observed_links
    ) as candidate_links
),

links as (
    select anonymous_id, customer_id from ranked_links where link_rank = 1
)

select
    events.event_id,
    events.occurred_at,
    events.event_type,
    events.anonymous_id,
    coalesce(events.customer_id, links.customer_id) as customer_id,
    events.customer_id is null and links.customer_id is not null as is_stitched,
    events.product_id,
    events.utm_source,
    events.utm_medium,
    events.utm_campaign
from events
left join links on links.anonymous_id = events.anonymous_id
