select
    order_id,
    line_no,
    product_id,
    quantity,
    cast(unit_price as {{ dbt.type_numeric() }}) as unit_price,
    quantity * cast(unit_price as {{ dbt.type_numeric() }}) as line_amount
from {{ source('raw', 'order_items') }}
