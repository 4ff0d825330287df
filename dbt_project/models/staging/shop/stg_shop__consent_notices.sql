select
    customer_id,
    kind as notice_kind,
    sent_at,
    channel,
    source as notice_source
from {{ source('raw', 'consent_notices') }}
