select
    customer_id,
    token as push_token,
    platform,
    registered_at,
    revoked_at
from {{ source('raw', 'push_tokens') }}
