{#-
    RFM scores of every buyer on every day of the run's window, and the named segment they fall in.

    Recency = days since the last purchase day (fewer is better), frequency = purchase days, monetary =
    revenue to date. Each score is 1 + floor(5 x percent_rank) among that day's buyers, capped at 5, so a
    score is a quintile of the rank. Ties: percent_rank gives every tied customer the rank of the first of
    them, so tied customers share the LOWER score and the five groups need not be equal-sized (all
    one-time buyers get f_score 1). Identical customers always get identical scores, whatever the order of
    rows - unlike ntile(), which splits ties arbitrarily.

    The segment is the first entry of the `rfm_segments` var (dbt_project.yml) whose R and F (and optional
    M) score ranges contain the customer; `unclassified` when none does.
-#}
with buyers as (
    select as_of_date, customer_id, days_since_last_order, order_days, total_revenue
    from {{ ref('int_customer_states_daily') }}
    where order_days > 0
),

ranked as (
    select
        *,
        percent_rank() over (partition by as_of_date order by days_since_last_order desc) as recency_rank,
        percent_rank() over (partition by as_of_date order by order_days) as frequency_rank,
        percent_rank() over (partition by as_of_date order by total_revenue) as monetary_rank
    from buyers
),

scored as (
    select
        as_of_date,
        customer_id,
        days_since_last_order,
        order_days,
        total_revenue,
        {{ quintile_score('recency_rank') }} as r_score,
        {{ quintile_score('frequency_rank') }} as f_score,
        {{ quintile_score('monetary_rank') }} as m_score
    from ranked
)

select
    *,
    {{ dbt.concat([
        "cast(r_score as " ~ dbt.type_string() ~ ")",
        "cast(f_score as " ~ dbt.type_string() ~ ")",
        "cast(m_score as " ~ dbt.type_string() ~ ")",
    ]) }} as rfm_cell,
    case
        {%- for segment in var('rfm_segments') %}
        {%- set m = segment.get('m', [1, 5]) %}
        when r_score between {{ segment.r[0] }} and {{ segment.r[1] }}
            and f_score between {{ segment.f[0] }} and {{ segment.f[1] }}
            and m_score between {{ m[0] }} and {{ m[1] }}
            then '{{ segment.name }}'
        {%- endfor %}
        else 'unclassified'
    end as rfm_segment
from scored
