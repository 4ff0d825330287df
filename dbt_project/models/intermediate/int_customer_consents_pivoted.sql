{#-
    The consent state per channel and purpose at the end of the as-of day, one row per customer record, as
    int_customer_eligibility_daily states it (the one place of the consent rule: latest change wins, a
    withdrawal wins a tie, an opt-out belongs to the address). For advertising purposes, also when the
    consent now in force was given: Korean law (정보통신망법 §50) asks to re-confirm it every two years.
-#}
with eligibility as (
    select *
    from {{ ref('int_customer_eligibility_daily') }}
    where as_of_date = {{ as_of_date() }}
      and purpose in ('ad', 'info')
)

select
    customer_id
    {%- for channel in consent_channels() %},
    {%- set on_channel = "channel = '" ~ channel ~ "'" %}
    {#- bool_or, not max(): max over booleans is DuckDB's, Postgres has no such aggregate -#}
    coalesce({{ dbt.bool_or("case when " ~ on_channel ~ " and purpose = 'ad' then consent_state = 'granted' end") }}, false)
        as has_{{ channel }}_ad_consent,
    coalesce({{ dbt.bool_or("case when " ~ on_channel ~ " and purpose = 'ad' then has_night_consent end") }}, false)
        as has_{{ channel }}_night_ad_consent,
    coalesce({{ dbt.bool_or("case when " ~ on_channel ~ " and purpose = 'info' then consent_state = 'granted' end") }}, false)
        as has_{{ channel }}_info_consent,
    max(case when channel = '{{ channel }}' and purpose = 'ad' and consent_state = 'granted' then consent_recorded_at end)
        as {{ channel }}_ad_consent_at,
    max(case when channel = '{{ channel }}' and purpose = 'ad' and has_night_consent then night_consent_recorded_at end)
        as {{ channel }}_night_ad_consent_at
    {%- endfor %},
    max(case when purpose = 'ad' and consent_state = 'granted' then consent_recorded_at end) as latest_ad_consent_at
from eligibility
group by customer_id
