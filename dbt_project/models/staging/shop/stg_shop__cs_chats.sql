select
    chat_id,
    customer_id,
    started_at,
    topic,
    resolved as is_resolved
from {{ source('raw', 'cs_chats') }}
