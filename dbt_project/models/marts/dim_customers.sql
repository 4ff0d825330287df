{#-
    The customer 360: one row per customer known at the end of the as-of day (the last day of the run's
    window), assembled from the intermediate models and the segment marts; no logic of its own beyond
    naming and defaults, so every number can be traced to the model that explains it.
-#}
with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

states as (
    select *
    from {{ ref('int_customer_states_daily') }}
    where as_of_date = {{ as_of_date() }}
),

{%- for name, model in [
    ('rfm', 'fct_customer_rfm'),
    ('lifecycle', 'fct_customer_lifecycle'),
    ('loyal_core', 'fct_customer_loyal_core'),
    ('personas', 'fct_customer_personas'),
] %}

{{ name }} as (
    select *
    from {{ ref(model) }}
    where as_of_date = {{ as_of_date() }}
),
{%- endfor %}

consents as (
    select * from {{ ref('int_customer_consents_pivoted') }}
),

push_subscriptions as (
    select * from {{ ref('int_customer_push_subscriptions_summarised') }}
),

events as (
    select * from {{ ref('int_customer_events_summarised') }}
),

messages as (
    select * from {{ ref('int_customer_messages_summarised') }}
),

customer_service as (
    select * from {{ ref('int_customer_service_summarised') }}
),

churn as (
    select * from {{ ref('int_customer_churn_risk_scored') }}
)

select
    -- who
    states.customer_id,
    states.as_of_date,
    customers.customer_name,
    customers.email,
    customers.phone,
    customers.signed_up_at,
    events.first_seen_at,
    coalesce(customers.acquisition_source, events.first_touch_source, 'unknown') as acquisition_source,
    coalesce(customers.acquisition_medium, events.first_touch_medium) as acquisition_medium,
    coalesce(customers.acquisition_campaign, events.first_touch_campaign) as acquisition_campaign,
    customers.referred_by_customer_id,

    -- purchases, buy-till-you-die conventions
    states.order_days,
    states.frequency,
    states.first_order_date,
    states.last_order_date,
    states.recency_days,
    states.tenure_days,
    states.days_since_last_order,
    states.total_revenue,
    states.monetary_value,
    states.avg_interpurchase_days,
    states.median_interpurchase_days,
    states.discount_share,

    -- predictions
    churn.p_alive,
    churn.expected_purchases_90d,
    churn.overdue_ratio,
    churn.churn_risk,
    states.expected_interval_days,
    states.repurchase_due_basis,
    states.repurchase_due_date,

    -- segments
    case
        when states.order_days = 0 then 'prospect'
        when states.order_days = 1 then 'one_time'
        else 'repeat'
    end as lifecycle_stage,
    lifecycle.lifecycle,
    lifecycle.retention_status,
    lifecycle.buyer_status,
    lifecycle.is_referrer,
    states.customers_referred,
    rfm.r_score,
    rfm.f_score,
    rfm.m_score,
    coalesce(rfm.rfm_segment, 'no_purchase') as rfm_segment,
    coalesce(loyal_core.is_loyal_core, false) as is_loyal_core,
    coalesce(personas.persona, 'no_purchase') as persona,

    -- contactability
    customers.email is not null as has_valid_email,
    customers.phone is not null as has_valid_phone,
    coalesce(push_subscriptions.active_push_tokens, 0) > 0 as has_active_push_token,
    coalesce(push_subscriptions.active_web_push_subscriptions, 0) > 0 as has_active_web_push,

    -- consents per channel and purpose, with the date of the advertising consents in force
    {%- for channel in consent_channels() %}
    {%- for purpose in consent_purposes() %}
    coalesce(consents.has_{{ channel }}_{{ purpose }}_consent, false) as has_{{ channel }}_{{ purpose }}_consent,
    {%- endfor %}
    {%- for purpose in dated_consent_purposes() %}
    consents.{{ channel }}_{{ purpose }}_consent_at,
    {%- endfor %}
    {%- endfor %}

    -- engagement
    events.last_seen_at,
    coalesce(events.product_views_30d, 0) as product_views_30d,
    coalesce(events.add_to_carts_30d, 0) as add_to_carts_30d,
    events.last_add_to_cart_at,
    coalesce(messages.messages_sent_90d, 0) as messages_sent_90d,
    messages.last_message_sent_date,
    coalesce(messages.messages_opened_90d, 0) as messages_opened_90d,
    messages.last_message_opened_at,
    -- Clicks reach us twice when the shop tags its own message_click events too: the larger count, not the sum.
    greatest(coalesce(events.messages_clicked_90d, 0), coalesce(messages.messages_clicked_90d, 0))
        as messages_clicked_90d,
    greatest(
        coalesce(events.last_message_click_at, messages.last_message_click_at),
        coalesce(messages.last_message_click_at, events.last_message_click_at)
    ) as last_message_click_at,
    messages.last_unsubscribed_at,

    -- customer service
    coalesce(customer_service.cs_chats_90d, 0) as cs_chats_90d,
    coalesce(customer_service.unresolved_cs_chats_90d, 0) as unresolved_cs_chats_90d,
    customer_service.last_cs_chat_at,
    customer_service.latest_satisfaction_score,
    customer_service.latest_satisfaction_at
from states
inner join customers on customers.customer_id = states.customer_id
left join rfm on rfm.customer_id = states.customer_id
left join lifecycle on lifecycle.customer_id = states.customer_id
left join loyal_core on loyal_core.customer_id = states.customer_id
left join personas on personas.customer_id = states.customer_id
left join consents on consents.customer_id = states.customer_id
left join push_subscriptions on push_subscriptions.customer_id = states.customer_id
left join events on events.customer_id = states.customer_id
left join messages on messages.customer_id = states.customer_id
left join customer_service on customer_service.customer_id = states.customer_id
left join churn on churn.customer_id = states.customer_id
