{#-
    정보통신망법 제50조⑦ / 시행령 제62조: when a recipient grants, refuses or withdraws consent to
    advertising, the sender must notify them of the result, with the sender's name, the fact, the date of
    the request and the result, within 14 days.

    One row per customer and day with every advertising consent change (ad, night ad; any channel)
    recorded in the last `consent_change_notice_days` days up to the end of the day and not yet covered by
    a notice: one dangol delivered on an earlier day (covering the changes recorded up to the end of the
    day it was planned for), or one another system sent (the data contract's consent_notices.csv, kind
    consent_change) after the change. `changes` is the notice's content ("문자 광고 수신 동의 2025-06-14").

    As with the 2-year notice, an attempt that failed on a channel is tried again on the next run on the
    other channels of the plan (`failed_channels`; `notice_cycle` counts the attempt).
-#}
{{ config(**daily_incremental_config()) }}
{% set within_days = var('consent_change_notice_days', 14) %}
{% set campaign_id = 'consent_change_notice' %}
{% set labels = {'email': '이메일', 'sms': '문자', 'kakao': '카카오톡', 'app_push': '앱 푸시', 'web_push': '웹 푸시'} %}

with days as (
    {{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}
),

changes as (
    select
        cast(days.date_day as date) as as_of_date,
        consents.customer_id,
        consents.channel,
        consents.purpose,
        consents.is_granted,
        consents.recorded_at
    from days
    inner join {{ ref('stg_shop__consents') }} as consents
        on consents.purpose in ('ad', 'night_ad')
        and consents.recorded_at < cast({{ dbt.dateadd('day', 1, 'days.date_day') }} as {{ dbt.type_timestamp() }})
        and consents.recorded_at >= cast({{ dbt.dateadd('day', 1 - within_days, 'days.date_day') }} as {{ dbt.type_timestamp() }})
),

deliveries as (
    select customer_id, channel, send_key, send_date, delivery_state, is_sent
    from {{ ref('stg_dangol__deliveries') }}
    where campaign_id = '{{ campaign_id }}'
),

{#- Notices sent: each covers the changes recorded before `covers_until`, from the day `visible_from` on. -#}
notices as (
    select
        customer_id,
        cast({{ dbt.dateadd('day', 1, 'send_date') }} as {{ dbt.type_timestamp() }}) as covers_until,
        cast({{ dbt.dateadd('day', 1, 'send_date') }} as date) as visible_from
    from deliveries
    where is_sent
    union all
    select customer_id, sent_at as covers_until, cast(sent_at as date) as visible_from
    from {{ ref('stg_shop__consent_notices') }}
    where notice_kind = 'consent_change'
),

pending as (
    select
        changes.*,
        case changes.channel
            {%- for channel, label in labels.items() %}
            when '{{ channel }}' then '{{ label }}'
            {%- endfor %}
            else changes.channel
        end
        || case when changes.purpose = 'night_ad' then ' 야간 광고' else ' 광고' end
        || case when changes.is_granted then ' 수신 동의 ' else ' 수신 거부·철회 ' end
        || cast(cast(changes.recorded_at as date) as {{ dbt.type_string() }}) as change_text
    from changes
    where not exists (
        select 1
        from notices
        where notices.customer_id = changes.customer_id
          and notices.covers_until > changes.recorded_at
          and notices.visible_from <= changes.as_of_date
    )
),

listed as (
    select
        as_of_date,
        customer_id,
        min(recorded_at) as first_change_at,
        max(recorded_at) as last_change_at,
        {{ ordered_listagg('change_text', ', ', ['recorded_at', 'channel', 'purpose']) }} as changes,
        count(*) as changes_count
    from pending
    group by as_of_date, customer_id
),

failures as (
    select
        listed.as_of_date,
        listed.customer_id,
        count(distinct deliveries.send_key) as failed_attempts,
        {{ dbt.listagg("distinct case when deliveries.delivery_state in ('failed', 'retry') then deliveries.channel end", "','") }}
            as failed_channels
    from listed
    inner join deliveries
        on deliveries.customer_id = listed.customer_id
        and deliveries.send_date >= cast(listed.first_change_at as date)
        and deliveries.send_date < listed.as_of_date
        and not deliveries.is_sent
        and deliveries.delivery_state not in ('unknown', 'planned', 'claimed')
    group by listed.as_of_date, listed.customer_id
)

select
    listed.as_of_date,
    listed.customer_id,
    customers.customer_name,
    listed.changes,
    listed.changes_count,
    cast(listed.last_change_at as date) as last_change_date,
    cast(listed.last_change_at as {{ dbt.type_string() }})
    || case
        when failures.failed_attempts > 0
            then '#' || cast(failures.failed_attempts + 1 as {{ dbt.type_string() }})
        else ''
    end as notice_cycle,
    failures.failed_channels
from listed
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = listed.customer_id
left join failures
    on failures.as_of_date = listed.as_of_date
    and failures.customer_id = listed.customer_id
