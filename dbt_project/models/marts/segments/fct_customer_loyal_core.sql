{#-
    The loyal core: the few buyers who make most of the revenue, on every day of the run's window.

    Buyers are ranked by revenue to date. A buyer is in the core when the customers ranked strictly above
    them make less than `loyal_core.revenue_share` of all revenue, and the share of buyers ranked at or
    above them is at most `loyal_core.max_customer_share` (dbt_project.yml). Customers with equal revenue
    are in or out together. The actual customer and revenue shares of the core are reported per day in
    fct_segment_sizes_daily (segment_type loyal_core).
-#}
{% set rule = var('loyal_core') %}

with buyers as (
    select as_of_date, customer_id, total_revenue
    from {{ ref('int_customer_states_daily') }}
    where order_days > 0
),

ranked as (
    select
        as_of_date,
        customer_id,
        total_revenue,
        rank() over (partition by as_of_date order by total_revenue desc) as revenue_rank,
        cume_dist() over (partition by as_of_date order by total_revenue desc) as buyer_share_at_or_above,
        sum(total_revenue) over (
            partition by as_of_date order by total_revenue desc
            range between unbounded preceding and current row
        ) as revenue_at_or_above,
        sum(total_revenue) over (partition by as_of_date, total_revenue) as revenue_of_ties,
        sum(total_revenue) over (partition by as_of_date) as revenue_of_all
    from buyers
),

shares as (
    select
        as_of_date,
        customer_id,
        total_revenue,
        revenue_rank,
        buyer_share_at_or_above,
        {{ safe_ratio('revenue_at_or_above', 'revenue_of_all') }} as revenue_share_at_or_above,
        {{ safe_ratio('revenue_at_or_above - revenue_of_ties', 'revenue_of_all') }} as revenue_share_above
    from ranked
)

select
    *,
    coalesce(
        total_revenue > 0
        and revenue_share_above < {{ rule.revenue_share }}
        and buyer_share_at_or_above <= {{ rule.max_customer_share }},
        false
    ) as is_loyal_core
from shares
