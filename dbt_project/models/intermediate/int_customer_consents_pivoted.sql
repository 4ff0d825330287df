{#-
    The consent state per channel and purpose at the end of the as-of day: the latest change wins (a
    withdrawal recorded at the same instant as a grant wins). For advertising purposes, also when the
    consent now in force was given: Korean law (정보통신망법 §50) asks to re-confirm it every two years.
-#}
with ranked as (
    select
        customer_id,
        channel,
        purpose,
        is_granted,
        recorded_at,
        row_number() over (
            partition by customer_id, channel, purpose
            order by recorded_at desc, is_granted asc
        ) as recency_rank
    from {{ ref('stg_shop__consents') }}
    where recorded_at < {{ as_of_cutoff() }}
),

latest as (
    select * from ranked where recency_rank = 1
)

select
    customer_id
    {%- for channel in consent_channels() %}
    {%- for purpose in consent_purposes() %},
    coalesce(max(case when channel = '{{ channel }}' and purpose = '{{ purpose }}' then is_granted end), false)
        as has_{{ channel }}_{{ purpose }}_consent
    {%- endfor %}
    {%- for purpose in dated_consent_purposes() %},
    max(case when channel = '{{ channel }}' and purpose = '{{ purpose }}' and is_granted then recorded_at end)
        as {{ channel }}_{{ purpose }}_consent_at
    {%- endfor %}
    {%- endfor %},
    max(case when purpose = 'ad' and is_granted then recorded_at end) as latest_ad_consent_at
from latest
group by customer_id
