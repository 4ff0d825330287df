select
    anonymous_id,
    customer_id,
    linked_at
from {{ source('raw', 'identities') }}
