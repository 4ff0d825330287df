{#-
    Every product's replenishment cycle: its own `replenishment_days` when the shop gave one, otherwise the
    median cycle of the replenishable products in its category (a 50 ml cream without a cycle is used up
    about as fast as the other creams). Null when neither is known: not a replenishable product.
-#}
with products as (
    select * from {{ ref('stg_shop__products') }}
),

category_cycles as (
    select
        category,
        {{ median('replenishment_days') }} as category_replenishment_days
    from products
    where replenishment_days is not null
    group by category
)

select
    products.product_id,
    products.category,
    products.replenishment_days as product_replenishment_days,
    category_cycles.category_replenishment_days,
    cast(round(coalesce(products.replenishment_days, category_cycles.category_replenishment_days)) as integer)
        as replenishment_days
from products
left join category_cycles on category_cycles.category = products.category
