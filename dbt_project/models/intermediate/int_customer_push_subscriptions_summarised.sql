{#-
    One row per customer who ever registered an app push token or a browser push subscription before the
    end of the as-of day: how many are still active then (registered, not yet revoked).
-#}
with subscriptions as (
    select customer_id, 'app_push' as channel, revoked_at
    from {{ ref('stg_shop__push_tokens') }}
    where registered_at < {{ as_of_cutoff() }}

    union all

    select customer_id, 'web_push' as channel, revoked_at
    from {{ ref('stg_shop__web_push_subscriptions') }}
    where subscribed_at < {{ as_of_cutoff() }}
),

active as (
    select
        customer_id,
        channel,
        revoked_at is null or revoked_at >= {{ as_of_cutoff() }} as is_active
    from subscriptions
)

select
    customer_id,
    count(case when channel = 'app_push' and is_active then 1 end) as active_push_tokens,
    count(case when channel = 'web_push' and is_active then 1 end) as active_web_push_subscriptions
from active
group by customer_id
