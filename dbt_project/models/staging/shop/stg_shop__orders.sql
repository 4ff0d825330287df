select
    order_id,
    customer_id,
    ordered_at,
    cast(ordered_at as date) as ordered_date,
    cast(amount as {{ dbt.type_numeric() }}) as amount,
    coalesce(status, 'paid') as order_status,
    coalesce(status, 'paid') = 'paid' as is_paid
from {{ source('raw', 'orders') }}
