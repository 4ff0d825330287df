{#-
    Customers hesitating over a high-priced item: on the day, they put a product priced at least
    `help_offer_min_price` in the cart (themselves or as an anonymous visitor linked to them by then) and
    had not bought it by the end of the day. One row per customer and day: the most expensive such product
    (then the latest cart add). `hesitated_at` is the cart time the campaign's event schedule follows; the
    campaign keys messages by product, so each product gets one offer.
-#}
{{ config(**daily_incremental_config()) }}
{% set min_price = var('help_offer_min_price', 150000) %}

with days as (
    {{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}
),

pricey as (
    select product_id, product_name, category, price
    from {{ ref('stg_shop__products') }}
    where price >= {{ min_price }}
),

carts as (
    select
        coalesce(events.customer_id, identities.customer_id) as customer_id,
        events.product_id,
        events.occurred_at as carted_at,
        identities.linked_at
    from {{ ref('stg_shop__events') }} as events
    left join {{ ref('stg_shop__identities') }} as identities on identities.anonymous_id = events.anonymous_id
    where events.event_type = 'add_to_cart'
),

bought as (
    select orders.customer_id, items.product_id, orders.ordered_at
    from {{ ref('stg_shop__orders') }} as orders
    inner join {{ ref('stg_shop__order_items') }} as items on items.order_id = orders.order_id
    where orders.is_paid
),

hesitations as (
    select
        cast(days.date_day as date) as as_of_date,
        carts.customer_id,
        carts.product_id,
        pricey.product_name,
        pricey.category,
        pricey.price,
        carts.carted_at
    from days
    inner join carts on cast(carts.carted_at as date) = cast(days.date_day as date)
    inner join pricey on pricey.product_id = carts.product_id
    where carts.customer_id is not null
      and (carts.linked_at is null
           or carts.linked_at < cast({{ dbt.dateadd('day', 1, 'days.date_day') }} as {{ dbt.type_timestamp() }}))
      and not exists (
          select 1
          from bought
          where bought.customer_id = carts.customer_id
            and bought.product_id = carts.product_id
            and bought.ordered_at >= carts.carted_at
            and bought.ordered_at < cast({{ dbt.dateadd('day', 1, 'days.date_day') }} as {{ dbt.type_timestamp() }})
      )
),

ranked as (
    select
        *,
        row_number() over (
            partition by as_of_date, customer_id order by price desc, carted_at desc, product_id
        ) as hesitation_rank
    from hesitations
)

select
    ranked.as_of_date,
    ranked.customer_id,
    customers.customer_name,
    ranked.product_id as hesitated_product_id,
    ranked.product_name as hesitated_product_name,
    ranked.category as hesitated_category,
    cast(ranked.price as integer) as hesitated_price,
    ranked.carted_at as hesitated_at
from ranked
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = ranked.customer_id
where ranked.hesitation_rank = 1
