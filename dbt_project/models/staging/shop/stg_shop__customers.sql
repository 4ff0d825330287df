select
    customer_id,
    name as customer_name,
    email,
    phone,
    signed_up_at,
    acquisition_source,
    acquisition_medium,
    acquisition_campaign,
    referred_by as referred_by_customer_id
from {{ source('raw', 'customers') }}
