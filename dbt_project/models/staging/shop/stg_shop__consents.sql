select
    customer_id,
    channel,
    purpose,
    granted as is_granted,
    recorded_at,
    source as consent_source
from {{ source('raw', 'consents') }}
