{#-
    Identified visitors who came from ads and did not sign up. "Identified" means we hold their contact:
    a row in customers.csv without `signed_up_at` (a lead, e.g. from a restock alert or an event form)
    whose paid-ad visit (utm_medium in `paid_mediums`) is theirs, directly or through an identity link
    known by then. Listed while the latest paid-ad visit is at most `signup_benefit_days` days old and they
    have neither signed up (no sign_up event) nor bought. One offer per person (offer_cycle is constant).
    Anonymous visitors cannot be messaged and are never listed.
-#}
{{ config(**daily_incremental_config()) }}
{% set paid_mediums = var('paid_mediums', ['cpc', 'paid', 'display', 'paid_social']) %}
{% set recent_days = var('signup_benefit_days', 7) %}

with days as (
    {{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}
),

leads as (
    select customer_id, customer_name
    from {{ ref('stg_shop__customers') }}
    where signed_up_at is null
),

events as (
    select
        coalesce(events.customer_id, identities.customer_id) as customer_id,
        events.event_type,
        events.occurred_at,
        events.utm_source,
        events.utm_medium,
        identities.linked_at
    from {{ ref('stg_shop__events') }} as events
    left join {{ ref('stg_shop__identities') }} as identities on identities.anonymous_id = events.anonymous_id
),

per_day as (
    select
        cast(days.date_day as date) as as_of_date,
        leads.customer_id,
        leads.customer_name,
        max(case when events.utm_medium in ('{{ paid_mediums | join("', '") }}') then events.occurred_at end)
            as last_ad_visit_at,
        count(case when events.utm_medium in ('{{ paid_mediums | join("', '") }}') then 1 end) as ad_visits,
        count(case when events.event_type = 'sign_up' then 1 end) as sign_up_events
    from days
    inner join leads on 1 = 1
    inner join events
        on events.customer_id = leads.customer_id
        and events.occurred_at < cast({{ dbt.dateadd('day', 1, 'days.date_day') }} as {{ dbt.type_timestamp() }})
        and (events.linked_at is null
             or events.linked_at < cast({{ dbt.dateadd('day', 1, 'days.date_day') }} as {{ dbt.type_timestamp() }}))
    group by cast(days.date_day as date), leads.customer_id, leads.customer_name
),

paid as (
    select customer_id, min(ordered_at) as first_paid_at
    from {{ ref('stg_shop__orders') }}
    where is_paid
    group by customer_id
)

select
    per_day.as_of_date,
    per_day.customer_id,
    per_day.customer_name,
    per_day.last_ad_visit_at,
    per_day.ad_visits,
    'first' as offer_cycle
from per_day
left join paid on paid.customer_id = per_day.customer_id
where per_day.last_ad_visit_at >= cast({{ dbt.dateadd('day', -(recent_days - 1), 'per_day.as_of_date') }} as {{ dbt.type_timestamp() }})
  and per_day.sign_up_events = 0
  and (paid.first_paid_at is null
       or paid.first_paid_at >= cast({{ dbt.dateadd('day', 1, 'per_day.as_of_date') }} as {{ dbt.type_timestamp() }}))
