{#-
    Customers who gave a high satisfaction score (at least `referral_min_score`, 5 = very satisfied) in a
    survey answered on the day: the campaign follows the answer (event schedule) and keys messages by
    calendar quarter, so a customer gets at most one referral offer per quarter.
-#}
{{ config(**daily_incremental_config()) }}
{% set min_score = var('referral_min_score', 5) %}

with days as (
    {{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}
),

answers as (
    select
        cast(days.date_day as date) as as_of_date,
        surveys.customer_id,
        surveys.satisfaction_score,
        surveys.responded_at,
        row_number() over (
            partition by cast(days.date_day as date), surveys.customer_id order by surveys.responded_at desc
        ) as answer_rank
    from days
    inner join {{ ref('stg_shop__surveys') }} as surveys
        on cast(surveys.responded_at as date) = cast(days.date_day as date)
    where surveys.satisfaction_score >= {{ min_score }}
)

select
    answers.as_of_date,
    answers.customer_id,
    customers.customer_name,
    answers.satisfaction_score,
    answers.responded_at,
    cast({{ dbt.date_trunc('quarter', 'answers.as_of_date') }} as date) as referral_quarter
from answers
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = answers.customer_id
where answers.answer_rank = 1
