select
    event_id,
    occurred_at,
    event_type,
    anonymous_id,
    customer_id,
    product_id,
    utm_source,
    utm_medium,
    utm_campaign
from {{ source('raw', 'events') }}
