{#- The latest consent change per customer, channel and purpose at the end of the as-of day. -#}
{% set channels = ['email', 'sms', 'kakao', 'app_push', 'web_push'] %}
{% set purposes = ['ad', 'night_ad', 'info'] %}

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
    {%- for channel in channels %}
    {%- for purpose in purposes %},
    coalesce(max(case when channel = '{{ channel }}' and purpose = '{{ purpose }}' then is_granted end), false)
        as has_{{ channel }}_{{ purpose }}_consent
    {%- endfor %}
    {%- endfor %},
    max(case when purpose = 'ad' and is_granted then recorded_at end) as latest_ad_consent_at
from latest
group by customer_id
