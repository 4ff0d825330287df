{#-
    One row per customer in the customer file whom dangol has sent messages to up to the as-of day (from
    earlier runs' deliveries; a message counts as sent once a provider took it).
-#}
with sent as (
    select deliveries.customer_id, deliveries.send_date
    from {{ ref('stg_dangol__deliveries') }} as deliveries
    inner join {{ ref('stg_shop__customers') }} as customers on customers.customer_id = deliveries.customer_id
    where deliveries.is_sent
      and deliveries.send_date <= {{ as_of_date() }}
)

select
    customer_id,
    count(case when send_date > cast({{ dbt.dateadd('day', -90, as_of_date()) }} as date) then 1 end)
        as messages_sent_90d,
    max(send_date) as last_message_sent_date
from sent
group by customer_id
