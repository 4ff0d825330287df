{#-
    Buy-till-you-die convention: all of a customer's paid orders on one shop-local calendar day are one
    purchase day, amounts summed; zero-amount orders still count. Only orders up to the as-of day exist.
-#}
with paid_orders as (
    select customer_id, ordered_date, amount
    from {{ ref('stg_shop__orders') }}
    where is_paid
      and ordered_at < {{ as_of_cutoff() }}
)

select
    customer_id,
    ordered_date as purchase_date,
    sum(amount) as purchase_amount,
    count(*) as orders_on_day
from paid_orders
group by customer_id, ordered_date
