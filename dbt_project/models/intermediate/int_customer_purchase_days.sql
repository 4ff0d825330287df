{#-
    Buy-till-you-die convention: all of a customer's paid orders on one shop-local calendar day are one
    purchase day, amounts summed; zero-amount orders still count. Only orders before the end of the as-of
    day exist. Each row also knows the purchase day before it, so intervals need no window later.
-#}
with paid_orders as (
    select order_id, customer_id, ordered_date, amount
    from {{ ref('stg_shop__orders') }}
    where is_paid
      and ordered_at < {{ as_of_cutoff() }}
),

order_lines as (
    {#- What was bought: list-price discounts and the shortest replenishment cycle, per order. -#}
    select
        items.order_id,
        sum(items.line_amount) as items_amount,
        sum(case when items.unit_price < products.price then items.line_amount else 0 end) as discounted_amount,
        min(cycles.replenishment_days) as replenishment_days
    from {{ ref('stg_shop__order_items') }} as items
    left join {{ ref('stg_shop__products') }} as products on products.product_id = items.product_id
    left join {{ ref('int_product_replenishment_cycles') }} as cycles on cycles.product_id = items.product_id
    group by items.order_id
),

purchase_days as (
    select
        paid_orders.customer_id,
        paid_orders.ordered_date as purchase_date,
        {#- money keeps the staging type: a bare sum widens it differently on each adapter -#}
        cast(sum(paid_orders.amount) as {{ dbt.type_numeric() }}) as purchase_amount,
        count(*) as orders_on_day,
        cast(coalesce(sum(order_lines.items_amount), 0) as {{ dbt.type_numeric() }}) as items_amount,
        cast(coalesce(sum(order_lines.discounted_amount), 0) as {{ dbt.type_numeric() }}) as discounted_amount,
        min(order_lines.replenishment_days) as replenishment_days
    from paid_orders
    left join order_lines on order_lines.order_id = paid_orders.order_id
    group by paid_orders.customer_id, paid_orders.ordered_date
),

numbered_days as (
    select
        *,
        row_number() over (partition by customer_id order by purchase_date) as purchase_day_number,
        lag(purchase_date) over (partition by customer_id order by purchase_date) as previous_purchase_date
    from purchase_days
)

select
    customer_id,
    purchase_date,
    purchase_amount,
    orders_on_day,
    items_amount,
    discounted_amount,
    replenishment_days,
    purchase_day_number,
    previous_purchase_date,
    {{ dbt.datediff('previous_purchase_date', 'purchase_date', 'day') }} as days_since_previous_purchase
from numbered_days
