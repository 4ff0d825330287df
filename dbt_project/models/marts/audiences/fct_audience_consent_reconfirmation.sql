{#-
    정보통신망법 제50조⑧ / 시행령 제62조의3: every 2 years from the date of an advertising consent, the
    sender must tell the recipient that they consented, when, and how to keep or withdraw it.

    For each customer, the ad consents still in force at the end of the day (int_customer_eligibility_daily:
    the consent state is granted; the date of that grant is the consent date). A consent's due dates are consent date + 2, 4, 6... years; a
    29 February consent falls due on 28 February (the earlier day, so the notice is never late). A consent
    is listed from `consent_reconfirm_lead_days` days before its latest due date until a notice covers it
    (a notice sent from that day on), however long that takes: a notice that fell due before the shop's
    first run, or while dangol was not running, goes out on the next run. A notice covers a day from the
    next day on when dangol delivered it on an earlier day, or when another system sent it (the data
    contract's consent_notices.csv) by the end of the day.

    A notice dangol could not deliver (refused permanently or by the channel's configuration, such as an
    unknown or dormant alimtalk template) is tried again on the next run on the other channels of the
    plan: `failed_channels` lists where it failed (the campaign skips those), and `notice_cycle` counts
    the attempt, so the retry is a new message rather than one already planned.

    One row per customer and day: the earliest due date listed, with every channel due by then.
-#}
{{ config(**daily_incremental_config()) }}
{% set lead_days = var('consent_reconfirm_lead_days', 7) %}
{% set campaign_id = 'consent_reconfirmation' %}
{% set labels = {'email': '이메일', 'sms': '문자', 'kakao': '카카오톡', 'app_push': '앱 푸시', 'web_push': '웹 푸시'} %}

with in_force as (
    {#- The ad consents in force at the end of each day, as int_customer_eligibility_daily states them. -#}
    select
        as_of_date,
        customer_id,
        channel,
        consent_recorded_at as consented_at,
        cast(consent_recorded_at as date) as consent_date
    from {{ ref('int_customer_eligibility_daily') }}
    where purpose = 'ad'
      and consent_state = 'granted'
      and as_of_date between {{ window_start_date() }} and {{ as_of_date() }}
),

anniversaries as (
    {%- for k in range(1, 11) %}
    select
        *,
        cast({{ dbt.dateadd('year', 2 * k, 'consent_date') }} as date) as due_date
    from in_force
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

{#- Per consent: the latest due date whose notice period has begun by the day. -#}
latest_due as (
    select
        *,
        cast({{ dbt.dateadd('day', -lead_days, 'due_date') }} as date) as notice_from,
        row_number() over (partition by as_of_date, customer_id, channel order by due_date desc) as due_rank
    from anniversaries
    where as_of_date >= cast({{ dbt.dateadd('day', -lead_days, 'due_date') }} as date)
),

deliveries as (
    select customer_id, channel, send_key, send_date, delivery_state, is_sent
    from {{ ref('stg_dangol__deliveries') }}
    where campaign_id = '{{ campaign_id }}'
),

{#- Notices sent, each with the first day it covers. -#}
notices as (
    select customer_id, cast({{ dbt.dateadd('day', 1, 'send_date') }} as date) as covers_from, send_date as sent_on
    from deliveries
    where is_sent
    union all
    select customer_id, cast(sent_at as date) as covers_from, cast(sent_at as date) as sent_on
    from {{ ref('stg_shop__consent_notices') }}
    where notice_kind = 'reconfirmation'
),

due as (
    select
        latest_due.*,
        case latest_due.channel
            {%- for channel, label in labels.items() %}
            when '{{ channel }}' then '{{ label }}'
            {%- endfor %}
            else latest_due.channel
        end as channel_label
    from latest_due
    where latest_due.due_rank = 1
      and not exists (
          select 1
          from notices
          where notices.customer_id = latest_due.customer_id
            and notices.sent_on >= latest_due.notice_from
            and notices.covers_from <= latest_due.as_of_date
      )
),

listed as (
    select
        due.as_of_date,
        due.customer_id,
        min(due.due_date) as reconfirm_due_date,
        min(due.notice_from) as notice_from,
        min(due.consent_date) as consent_date,
        {{ dbt.listagg('due.channel_label', "', '", "order by due.channel_label") }} as consented_channels,
        count(*) as consents_due
    from due
    group by due.as_of_date, due.customer_id
),

{#- Earlier attempts at this notice that did not reach the customer (never the day's own: a rerun of a day
    plans the same message again). -#}
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
        and deliveries.send_date >= listed.notice_from
        and deliveries.send_date < listed.as_of_date
        and not deliveries.is_sent
        and deliveries.delivery_state not in ('unknown', 'planned', 'claimed')
    group by listed.as_of_date, listed.customer_id
)

select
    listed.as_of_date,
    listed.customer_id,
    customers.customer_name,
    listed.reconfirm_due_date,
    listed.consent_date,
    listed.consented_channels,
    listed.consents_due,
    cast(listed.reconfirm_due_date as {{ dbt.type_string() }})
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
