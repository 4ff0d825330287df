{#-
    Segment-size history: for every day built, how many customers each segment of each segmentation holds
    and what share of customers, of buyers and of revenue to date that is. The loyal_core rows report the
    actual shares of the loyal core (e.g. 18% of buyers making 71% of revenue). Replaced day by day like
    fct_customer_segments_daily, from which it counts.
-#}
{{ config(**daily_incremental_config()) }}

with segments as (
    select *
    from {{ ref('fct_customer_segments_daily') }}
    where as_of_date between {{ window_start_date() }} and {{ as_of_date() }}
),

memberships as (
    {%- set segmentations = {
        'rfm_segment': 'rfm_segment',
        'lifecycle': 'lifecycle',
        'retention_status': 'retention_status',
        'buyer_status': 'buyer_status',
        'persona': 'persona',
        'loyal_core': "case when is_loyal_core then 'loyal_core' when order_days > 0 then 'other_buyers'"
                      ~ " else 'no_purchase' end",
    } %}
    {%- for segment_type, expression in segmentations.items() %}
    select
        as_of_date,
        '{{ segment_type }}' as segment_type,
        {{ expression }} as segment,
        order_days,
        total_revenue
    from segments
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

sizes as (
    select
        as_of_date,
        segment_type,
        segment,
        count(*) as customers,
        count(case when order_days > 0 then 1 end) as buyers,
        sum(total_revenue) as revenue
    from memberships
    group by as_of_date, segment_type, segment
)

select
    as_of_date,
    segment_type,
    segment,
    customers,
    buyers,
    revenue,
    {{ safe_ratio('customers', 'sum(customers) over (partition by as_of_date, segment_type)') }} as customer_share,
    {{ safe_ratio('buyers', 'sum(buyers) over (partition by as_of_date, segment_type)') }} as buyer_share,
    {{ safe_ratio('revenue', 'sum(revenue) over (partition by as_of_date, segment_type)') }} as revenue_share
from sizes
