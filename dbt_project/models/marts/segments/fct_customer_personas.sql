{#-
    A persona for every buyer on every day of the run's window: the first rule of the `personas` var
    (dbt_project.yml) whose `when` condition holds; `unassigned` when none does. A rule's condition is
    SQL over the columns of the `features` CTE below (see the yml for what each means).
-#}
with features as (
    select
        states.as_of_date,
        states.customer_id,
        states.order_days,
        states.frequency,
        states.days_since_last_order,
        states.tenure_days,
        states.total_revenue,
        states.monetary_value,
        states.discount_share,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_segment,
        core.is_loyal_core
    from {{ ref('int_customer_states_daily') }} as states
    inner join {{ ref('fct_customer_rfm') }} as rfm
        on rfm.as_of_date = states.as_of_date
        and rfm.customer_id = states.customer_id
    inner join {{ ref('fct_customer_loyal_core') }} as core
        on core.as_of_date = states.as_of_date
        and core.customer_id = states.customer_id
)

select
    as_of_date,
    customer_id,
    case
        {%- for persona in var('personas') %}
        when {{ persona.when }} then '{{ persona.name }}'
        {%- endfor %}
        else 'unassigned'
    end as persona
from features
