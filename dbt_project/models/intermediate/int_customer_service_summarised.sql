{#-
    One row per customer who chatted with customer service or answered a satisfaction survey up to the
    as-of day: recent conversations and the latest satisfaction score (the latest answer wins; on the same
    instant, the lower score, so an unhappy answer is never hidden).
-#}
with chats as (
    select *
    from {{ ref('stg_shop__cs_chats') }}
    where started_at < {{ as_of_cutoff() }}
),

chat_summary as (
    select
        customer_id,
        count(case when started_at >= {{ end_of_day(dbt.dateadd('day', -90, as_of_date())) }} then 1 end)
            as cs_chats_90d,
        count(case when started_at >= {{ end_of_day(dbt.dateadd('day', -90, as_of_date())) }}
                  and not coalesce(is_resolved, false) then 1 end) as unresolved_cs_chats_90d,
        max(started_at) as last_cs_chat_at
    from chats
    group by customer_id
),

ranked_surveys as (
    select
        customer_id,
        satisfaction_score,
        responded_at,
        row_number() over (
            partition by customer_id order by responded_at desc, satisfaction_score asc
        ) as recency_rank
    from {{ ref('stg_shop__surveys') }}
    where responded_at < {{ as_of_cutoff() }}
),

latest_surveys as (
    select * from ranked_surveys where recency_rank = 1
),

customer_ids as (
    select customer_id from chat_summary
    union
    select customer_id from latest_surveys
)

select
    customer_ids.customer_id,
    coalesce(chat_summary.cs_chats_90d, 0) as cs_chats_90d,
    coalesce(chat_summary.unresolved_cs_chats_90d, 0) as unresolved_cs_chats_90d,
    chat_summary.last_cs_chat_at,
    latest_surveys.satisfaction_score as latest_satisfaction_score,
    latest_surveys.responded_at as latest_satisfaction_at
from customer_ids
left join chat_summary on chat_summary.customer_id = customer_ids.customer_id
left join latest_surveys on latest_surveys.customer_id = customer_ids.customer_id
