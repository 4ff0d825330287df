select
    customer_id,
    endpoint,
    p256dh,
    auth as auth_secret,
    subscribed_at,
    revoked_at
from {{ source('raw', 'web_push_subscriptions') }}
