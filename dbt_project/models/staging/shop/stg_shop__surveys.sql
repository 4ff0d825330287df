select
    response_id,
    customer_id,
    responded_at,
    score as satisfaction_score
from {{ source('raw', 'surveys') }}
