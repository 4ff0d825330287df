-- The customer 360 and its segments for one day, as ONE hand-written DuckDB statement: the baseline the
-- dbt project (11 intermediate and mart models, portable SQL) is compared against. DuckDB idioms are
-- welcome here (arg_max, median, filter, date arithmetic); the rules are the same as the dbt models'
-- with the default dbt_project.yml vars, and run.py checks that both give identical rows.
-- $as_of is replaced by the day (YYYY-MM-DD) before running.
create or replace table bench.dim_customers_handwritten as
with
params as (
    select date '$as_of' as d, cast(date '$as_of' + 1 as timestamp) as cutoff
),
cycles as (
    select
        product_id,
        price,
        cast(round(coalesce(replenishment_days, median(replenishment_days) over (partition by category))) as integer)
            as cycle
    from raw.products
),
lines as (
    select
        i.order_id,
        sum(i.quantity * cast(i.unit_price as decimal(28, 6))) as items,
        sum(case when i.unit_price < c.price then i.quantity * cast(i.unit_price as decimal(28, 6)) else 0 end) as disc,
        min(c.cycle) as cycle
    from raw.order_items as i
    left join cycles as c on c.product_id = i.product_id
    group by i.order_id
),
purchase_days as (
    select
        o.customer_id,
        cast(o.ordered_at as date) as day,
        sum(cast(o.amount as decimal(28, 6))) as amount,
        coalesce(sum(l.items), 0) as items,
        coalesce(sum(l.disc), 0) as disc,
        min(l.cycle) as cycle
    from raw.orders as o
    left join lines as l on l.order_id = o.order_id
    where coalesce(o.status, 'paid') = 'paid' and o.ordered_at < (select cutoff from params)
    group by o.customer_id, cast(o.ordered_at as date)
),
numbered as (
    select
        *,
        row_number() over w as n,
        lag(day) over w as prev
    from purchase_days
    window w as (partition by customer_id order by day)
),
summary as (
    select
        customer_id,
        count(*) as order_days,
        min(day) as first_day,
        max(day) as last_day,
        max(prev) as prev_day,
        sum(amount) as revenue,
        sum(amount) filter (where n = 1) as first_amount,
        sum(items) as items,
        sum(disc) as disc,
        avg(cast(day - prev as double)) as avg_gap,
        median(day - prev) as median_gap,
        arg_max_null(cycle, day) as last_cycle  -- the last day's cycle, even when it has none
    from numbered
    group by customer_id
),
first_orders as (
    select customer_id, min(ordered_at) as first_at from raw.orders group by customer_id
),
known as (
    select
        c.*,
        cast(
            case
                when f.first_at is null then c.signed_up_at
                when c.signed_up_at is null then f.first_at
                else least(c.signed_up_at, f.first_at)
            end as date
        ) as known_from
    from raw.customers as c
    left join first_orders as f on f.customer_id = c.customer_id
),
base as (
    select * from known where known_from is null or known_from <= (select d from params)
),
referrals as (
    select referred_by as customer_id, count(*) as referred from base where referred_by is not null group by 1
),
states as (
    select
        b.customer_id,
        b.name,
        b.email,
        b.phone,
        b.signed_up_at,
        b.acquisition_source,
        b.acquisition_medium,
        b.acquisition_campaign,
        b.referred_by,
        coalesce(r.referred, 0) as customers_referred,
        coalesce(s.order_days, 0) as order_days,
        coalesce(s.order_days - 1, 0) as frequency,
        s.first_day,
        s.last_day,
        s.last_day - s.first_day as recency_days,
        p.d - s.first_day as tenure_days,
        p.d - s.last_day as days_since_last_order,
        s.last_day - s.prev_day as gap_last_two,
        coalesce(s.revenue, 0) as total_revenue,
        case when s.order_days > 1 then cast(s.revenue - s.first_amount as double) / (s.order_days - 1) else 0 end
            as monetary_value,
        s.avg_gap,
        s.median_gap,
        cast(s.disc as double) / nullif(cast(s.items as double), 0) as discount_share,
        case
            when s.order_days - 1 >= 2 then 'own_intervals'
            when s.last_cycle is not null then 'replenishment_cycle'
            when s.order_days - 1 >= 1 then 'own_intervals'
        end as basis,
        s.last_cycle
    from base as b
    cross join params as p
    left join summary as s on s.customer_id = b.customer_id
    left join referrals as r on r.customer_id = b.customer_id
),
due as (
    select
        *,
        case basis
            when 'own_intervals' then cast(round(cast(median_gap as decimal(28, 6))) as integer)
            when 'replenishment_cycle' then last_cycle
        end as expected_interval_days
    from states
),
scored as (
    select
        *,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by days_since_last_order desc))) as integer) as r_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by order_days))) as integer) as f_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by total_revenue))) as integer) as m_score,
        sum(total_revenue) over (order by total_revenue desc range between unbounded preceding and current row)
            as revenue_at_or_above,
        sum(total_revenue) over (partition by total_revenue) as revenue_of_ties,
        sum(total_revenue) over () as revenue_of_all,
        cume_dist() over (order by total_revenue desc) as buyer_share
    from due
    where order_days > 0
),
segmented as (
    select
        customer_id,
        r_score,
        f_score,
        m_score,
        case
            when r_score = 5 and f_score >= 4 then 'champions'
            when r_score between 3 and 4 and f_score >= 4 then 'loyal'
            when r_score >= 4 and f_score between 2 and 3 then 'potential_loyalist'
            when r_score = 5 and f_score = 1 then 'new'
            when r_score = 4 and f_score = 1 then 'promising'
            when r_score = 3 and f_score = 3 then 'need_attention'
            when r_score = 3 and f_score <= 2 then 'about_to_sleep'
            when r_score <= 2 and f_score = 5 then 'cannot_lose'
            when r_score <= 2 and f_score between 3 and 4 then 'at_risk'
            when r_score = 2 and f_score <= 2 then 'hibernating'
            when r_score = 1 and f_score <= 2 then 'lost'
            else 'unclassified'
        end as rfm_segment,
        coalesce(
            total_revenue > 0
            and cast(revenue_at_or_above - revenue_of_ties as double) / nullif(cast(revenue_of_all as double), 0) < 0.8
            and buyer_share <= 0.2,
            false
        ) as is_loyal_core
    from scored
),
personas as (
    select
        d.customer_id,
        case
            when s.m_score >= 4 and d.days_since_last_order > 90 then 'dormant_vip'
            when d.order_days >= 2 and d.discount_share >= 0.5 then 'bargain_hunter'
            when d.order_days >= 4 and d.days_since_last_order <= 90 then 'loyal_regular'
            when d.tenure_days <= 60 then 'new_explorer'
            else 'unassigned'
        end as persona
    from due as d
    inner join segmented as s on s.customer_id = d.customer_id
),
shop_cycle as (
    select median(median_gap) as shop_gap from due where order_days > 0 and frequency > 0
),
churn as (
    select
        customer_id,
        cast(days_since_last_order as double)
            / nullif(coalesce(cast(expected_interval_days as double), (select shop_gap from shop_cycle)), 0)
            as overdue_ratio
    from due
    where order_days > 0
),
consents as (
    select customer_id, channel, purpose, is_granted, recorded_at
    from (
        select customer_id, channel, purpose, granted as is_granted, recorded_at
        from raw.consents
        where recorded_at < (select cutoff from params)
    )
    qualify row_number() over (partition by customer_id, channel, purpose order by recorded_at desc, is_granted) = 1
),
consent_flags as (
    select
        customer_id,
        bool_or(channel = 'email' and purpose = 'ad' and is_granted) as e_ad,
        bool_or(channel = 'email' and purpose = 'night_ad' and is_granted) as e_night,
        bool_or(channel = 'email' and purpose = 'info' and is_granted) as e_info,
        max(recorded_at) filter (where channel = 'email' and purpose = 'ad' and is_granted) as e_ad_at,
        max(recorded_at) filter (where channel = 'email' and purpose = 'night_ad' and is_granted) as e_night_at,
        bool_or(channel = 'sms' and purpose = 'ad' and is_granted) as s_ad,
        bool_or(channel = 'sms' and purpose = 'night_ad' and is_granted) as s_night,
        bool_or(channel = 'sms' and purpose = 'info' and is_granted) as s_info,
        max(recorded_at) filter (where channel = 'sms' and purpose = 'ad' and is_granted) as s_ad_at,
        max(recorded_at) filter (where channel = 'sms' and purpose = 'night_ad' and is_granted) as s_night_at,
        bool_or(channel = 'kakao' and purpose = 'ad' and is_granted) as k_ad,
        bool_or(channel = 'kakao' and purpose = 'night_ad' and is_granted) as k_night,
        bool_or(channel = 'kakao' and purpose = 'info' and is_granted) as k_info,
        max(recorded_at) filter (where channel = 'kakao' and purpose = 'ad' and is_granted) as k_ad_at,
        max(recorded_at) filter (where channel = 'kakao' and purpose = 'night_ad' and is_granted) as k_night_at,
        bool_or(channel = 'app_push' and purpose = 'ad' and is_granted) as a_ad,
        bool_or(channel = 'app_push' and purpose = 'night_ad' and is_granted) as a_night,
        bool_or(channel = 'app_push' and purpose = 'info' and is_granted) as a_info,
        max(recorded_at) filter (where channel = 'app_push' and purpose = 'ad' and is_granted) as a_ad_at,
        max(recorded_at) filter (where channel = 'app_push' and purpose = 'night_ad' and is_granted) as a_night_at,
        bool_or(channel = 'web_push' and purpose = 'ad' and is_granted) as w_ad,
        bool_or(channel = 'web_push' and purpose = 'night_ad' and is_granted) as w_night,
        bool_or(channel = 'web_push' and purpose = 'info' and is_granted) as w_info,
        max(recorded_at) filter (where channel = 'web_push' and purpose = 'ad' and is_granted) as w_ad_at,
        max(recorded_at) filter (where channel = 'web_push' and purpose = 'night_ad' and is_granted) as w_night_at
    from consents
    group by customer_id
),
push as (
    select
        customer_id,
        bool_or(channel = 'app_push' and (revoked_at is null or revoked_at >= (select cutoff from params))) as app,
        bool_or(channel = 'web_push' and (revoked_at is null or revoked_at >= (select cutoff from params))) as web
    from (
        select customer_id, 'app_push' as channel, registered_at as since, revoked_at from raw.push_tokens
        union all
        select customer_id, 'web_push', subscribed_at, revoked_at from raw.web_push_subscriptions
    )
    where since < (select cutoff from params)
    group by customer_id
),
events as (
    select * from raw.events where occurred_at < (select cutoff from params)
),
links as (
    select anonymous_id, arg_min(customer_id, (priority, linked_at, customer_id)) as customer_id
    from (
        select anonymous_id, customer_id, linked_at, 1 as priority
        from raw.identities where linked_at < (select cutoff from params)
        union all
        select anonymous_id, customer_id, min(occurred_at), 2
        from events where anonymous_id is not null and customer_id is not null
        group by anonymous_id, customer_id
    )
    group by anonymous_id
),
stitched as (
    select e.*, coalesce(e.customer_id, l.customer_id) as owner
    from events as e
    left join links as l on l.anonymous_id = e.anonymous_id
),
activity as (
    select
        owner as customer_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        arg_min(utm_source, (occurred_at, event_id)) filter (where utm_source is not null) as touch_source,
        arg_min(utm_medium, (occurred_at, event_id)) filter (where utm_source is not null) as touch_medium,
        arg_min(utm_campaign, (occurred_at, event_id)) filter (where utm_source is not null) as touch_campaign,
        count(*) filter (where event_type = 'product_view' and occurred_at >= (select cutoff - interval 30 day from params))
            as product_views_30d,
        count(*) filter (where event_type = 'add_to_cart' and occurred_at >= (select cutoff - interval 30 day from params))
            as add_to_carts_30d,
        max(occurred_at) filter (where event_type = 'add_to_cart') as last_add_to_cart_at,
        count(*) filter (where event_type = 'message_click' and occurred_at >= (select cutoff - interval 90 day from params))
            as messages_clicked_90d,
        max(occurred_at) filter (where event_type = 'message_click') as last_message_click_at
    from stitched
    where owner is not null
    group by owner
),
service as (
    select
        customer_id,
        count(*) filter (where started_at >= (select cutoff - interval 90 day from params)) as chats_90d,
        count(*) filter (where started_at >= (select cutoff - interval 90 day from params) and not coalesce(resolved, false))
            as unresolved_90d,
        max(started_at) as last_chat_at
    from raw.cs_chats
    where started_at < (select cutoff from params)
    group by customer_id
),
surveys as (
    select customer_id, arg_min(score, (-epoch(responded_at), score)) as score, max(responded_at) as at
    from raw.surveys
    where responded_at < (select cutoff from params)
    group by customer_id
)
select
    d.customer_id,
    (select d from params) as as_of_date,
    d.name as customer_name,
    d.email,
    d.phone,
    d.signed_up_at,
    a.first_seen_at,
    coalesce(d.acquisition_source, a.touch_source, 'unknown') as acquisition_source,
    coalesce(d.acquisition_medium, a.touch_medium) as acquisition_medium,
    coalesce(d.acquisition_campaign, a.touch_campaign) as acquisition_campaign,
    d.referred_by as referred_by_customer_id,
    d.order_days,
    d.frequency,
    d.first_day as first_order_date,
    d.last_day as last_order_date,
    d.recency_days,
    d.tenure_days,
    d.days_since_last_order,
    d.total_revenue,
    d.monetary_value,
    d.avg_gap as avg_interpurchase_days,
    d.median_gap as median_interpurchase_days,
    d.discount_share,
    cast(null as double) as p_alive,
    cast(null as double) as expected_purchases_90d,
    c.overdue_ratio,
    case
        when c.overdue_ratio >= 2.0 then 'high'
        when c.overdue_ratio >= 1.25 then 'medium'
        when c.overdue_ratio is not null then 'low'
    end as churn_risk,
    d.expected_interval_days,
    d.basis as repurchase_due_basis,
    d.last_day + d.expected_interval_days as repurchase_due_date,
    case when d.order_days = 0 then 'prospect' when d.order_days = 1 then 'one_time' else 'repeat' end
        as lifecycle_stage,
    case
        when d.order_days = 0 then 'acquired'
        when d.days_since_last_order > 180 then 'churned'
        when d.days_since_last_order > 90 then 'dormant'
        when d.customers_referred > 0 then 'referrer'
        when d.order_days = 1 then 'activated'
        else 'revenue'
    end as lifecycle,
    case
        when d.order_days = 0 then 'never_purchased'
        when d.days_since_last_order > 180 then 'churned'
        when d.days_since_last_order > 90 then 'dormant'
        else 'retained'
    end as retention_status,
    case
        when d.order_days = 0 then 'never_purchased'
        when d.days_since_last_order >= 30 then 'inactive'
        when d.order_days = 1 then 'new'
        when d.gap_last_two > 90 then 'reactivated'
        else 'returning'
    end as buyer_status,
    d.customers_referred > 0 as is_referrer,
    d.customers_referred,
    s.r_score,
    s.f_score,
    s.m_score,
    coalesce(s.rfm_segment, 'no_purchase') as rfm_segment,
    coalesce(s.is_loyal_core, false) as is_loyal_core,
    coalesce(p.persona, 'no_purchase') as persona,
    d.email is not null as has_valid_email,
    d.phone is not null as has_valid_phone,
    coalesce(push.app, false) as has_active_push_token,
    coalesce(push.web, false) as has_active_web_push,
    coalesce(f.e_ad, false) as has_email_ad_consent,
    coalesce(f.e_night, false) as has_email_night_ad_consent,
    coalesce(f.e_info, false) as has_email_info_consent,
    f.e_ad_at as email_ad_consent_at,
    f.e_night_at as email_night_ad_consent_at,
    coalesce(f.s_ad, false) as has_sms_ad_consent,
    coalesce(f.s_night, false) as has_sms_night_ad_consent,
    coalesce(f.s_info, false) as has_sms_info_consent,
    f.s_ad_at as sms_ad_consent_at,
    f.s_night_at as sms_night_ad_consent_at,
    coalesce(f.k_ad, false) as has_kakao_ad_consent,
    coalesce(f.k_night, false) as has_kakao_night_ad_consent,
    coalesce(f.k_info, false) as has_kakao_info_consent,
    f.k_ad_at as kakao_ad_consent_at,
    f.k_night_at as kakao_night_ad_consent_at,
    coalesce(f.a_ad, false) as has_app_push_ad_consent,
    coalesce(f.a_night, false) as has_app_push_night_ad_consent,
    coalesce(f.a_info, false) as has_app_push_info_consent,
    f.a_ad_at as app_push_ad_consent_at,
    f.a_night_at as app_push_night_ad_consent_at,
    coalesce(f.w_ad, false) as has_web_push_ad_consent,
    coalesce(f.w_night, false) as has_web_push_night_ad_consent,
    coalesce(f.w_info, false) as has_web_push_info_consent,
    f.w_ad_at as web_push_ad_consent_at,
    f.w_night_at as web_push_night_ad_consent_at,
    a.last_seen_at,
    coalesce(a.product_views_30d, 0) as product_views_30d,
    coalesce(a.add_to_carts_30d, 0) as add_to_carts_30d,
    a.last_add_to_cart_at,
    0 as messages_sent_90d,
    cast(null as date) as last_message_sent_date,
    coalesce(a.messages_clicked_90d, 0) as messages_clicked_90d,
    a.last_message_click_at,
    coalesce(sv.chats_90d, 0) as cs_chats_90d,
    coalesce(sv.unresolved_90d, 0) as unresolved_cs_chats_90d,
    sv.last_chat_at as last_cs_chat_at,
    su.score as latest_satisfaction_score,
    su.at as latest_satisfaction_at
from due as d
left join segmented as s on s.customer_id = d.customer_id
left join personas as p on p.customer_id = d.customer_id
left join churn as c on c.customer_id = d.customer_id
left join consent_flags as f on f.customer_id = d.customer_id
left join push on push.customer_id = d.customer_id
left join activity as a on a.customer_id = d.customer_id
left join service as sv on sv.customer_id = d.customer_id
left join surveys as su on su.customer_id = d.customer_id
