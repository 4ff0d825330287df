{#-
    정보통신망법 제50조⑧ / 시행령 제62조의3: every 2 years from the date of an advertising consent, the
    sender must tell the recipient that they consented, when, and how to keep or withdraw it.

    For each customer, the ad consents still in force at the end of the day (int_customer_eligibility_daily:
    the consent state is granted; the date of that grant is the consent date). A consent's due dates are consent date + 2, 4, 6... years; a
    29 February consent falls due on 28 February (the earlier day, so the notice is never late). The
    customer is listed from `consent_reconfirm_lead_days` days before a due date up to the due date itself
    (a consent exactly 2 years old is listed on that day), one row per customer and day: the earliest due
    date listed, with every channel due by then. The campaign keys messages by due date.
-#}
{{ config(**daily_incremental_config()) }}
{% set lead_days = var('consent_reconfirm_lead_days', 7) %}
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

due as (
    select
        *,
        case channel
            {%- for channel, label in labels.items() %}
            when '{{ channel }}' then '{{ label }}'
            {%- endfor %}
            else channel
        end as channel_label
    from anniversaries
    where as_of_date >= cast({{ dbt.dateadd('day', -lead_days, 'due_date') }} as date)
      and as_of_date <= due_date
)

select
    due.as_of_date,
    due.customer_id,
    customers.customer_name,
    min(due.due_date) as reconfirm_due_date,
    min(due.consent_date) as consent_date,
    {{ dbt.listagg('due.channel_label', "', '", "order by due.channel_label") }} as consented_channels,
    count(*) as consents_due
from due
inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = due.customer_id
group by due.as_of_date, due.customer_id, customers.customer_name
