select
    product_id,
    name as product_name,
    category,
    cast(price as {{ dbt.type_numeric() }}) as price,
    replenishment_days
from {{ source('raw', 'products') }}
