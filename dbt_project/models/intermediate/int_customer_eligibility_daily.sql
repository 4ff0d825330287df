{#-
    Who may get which message, on which channel, at the end of every day of the window: one row per
    as_of_date, customer record, channel and purpose. The one place of the consent rule (정보통신망법 §50);
    audiences, the send policy, the blocking checks and the hand-off read it (see the yml for each column).

    Purposes: `ad` (advertising: needs ad consent on the channel, or the existing-customer exception),
    `info` (informational: needs info consent) and `legal_notice` (a notice the law requires, such as the
    2-year re-confirmation: goes unless info messages were refused on the channel).

    The consent rule: the state of a (customer, channel, consent purpose) at a moment is its latest change
    recorded at or before that moment; a withdrawal recorded at the same instant as a grant wins; no
    change on record means no consent. A withdrawal made through an address-level source (080 refusal,
    unsubscribe link: var `address_optout_sources`) is also a change for every other customer record with
    the same address on that channel: an opt-out belongs to the address.

    Then: the address must exist and match its channel's format (var `address_formats`); the ledger's
    suppressions (copied into ledger.suppressions) stop every message to a permanently suppressed address
    and ads to an opted-out one, on every day built, even one before the suppression was recorded (a
    rebuilt past day never plans a message to an address known to be dead or opted out); night consent is reported for ads (the night rule itself depends on the
    send time, which the policy and the hand-off know). The existing-customer exception (시행령 제61조①,
    var `existing_customer_exception` from campaigns/_policy.yaml, off by default) lists, for an ad with no
    consent on record (a withdrawal always wins), the categories the customer bought in a paid order within
    `months` calendar months before the end of the day: an ad of one of them may go.
-#}
{{ config(**daily_incremental_config()) }}
{%- set formats = var('address_formats') -%}
{%- set optout_sources = var('address_optout_sources', []) -%}
{%- set exception = var('existing_customer_exception', {'enabled': false, 'months': 6}) -%}
{%- set static_channels = {'email': 'email', 'sms': 'phone', 'kakao': 'phone'} -%}
{#- The channels the shop can use (default: every channel of the data contract). -#}
{%- set shop_channels = var('eligibility_channels', consent_channels()) -%}

with days as (
    select cast(date_day as date) as as_of_date
    from ({{ dbt.date_spine('day', window_start_date(), dbt.dateadd('day', 1, as_of_date())) }}) as spine
),

channels as (
    {%- for channel in shop_channels %}
    select '{{ channel }}' as channel
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

purposes as (
    select 'ad' as purpose, 'ad' as consent_purpose
    union all
    select 'info' as purpose, 'info' as consent_purpose
    union all
    select 'legal_notice' as purpose, 'info' as consent_purpose
),

{#- Addresses that do not change over time: the customer file's email and phone, per channel. -#}
contacts as (
    {%- for channel, column in static_channels.items() %}
    select customer_id, '{{ channel }}' as channel, nullif(trim({{ column }}), '') as address
    from {{ ref('stg_shop__customers') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

push_addresses as (
    select customer_id, 'app_push' as channel, push_token as address, registered_at as valid_from, revoked_at as valid_to
    from {{ ref('stg_shop__push_tokens') }}

    union all

    {%- set close = "'\"}" ~ "}'" %}
    select
        customer_id,
        'web_push' as channel,
        {{ dbt.concat(["'{\"endpoint\":\"'", 'endpoint', "'\",\"keys\":{\"p256dh\":\"'", 'p256dh',
                       "'\",\"auth\":\"'", 'auth_secret', close]) }} as address,
        subscribed_at as valid_from,
        revoked_at as valid_to
    from {{ ref('stg_shop__web_push_subscriptions') }}
),

{#- A push address is live from its registration until it is revoked; the latest live one is used. -#}
live_push as (
    select
        days.as_of_date,
        push_addresses.customer_id,
        push_addresses.channel,
        push_addresses.address,
        row_number() over (
            partition by days.as_of_date, push_addresses.customer_id, push_addresses.channel
            order by push_addresses.valid_from desc, push_addresses.address
        ) as recency_rank
    from days
    inner join push_addresses
        on push_addresses.valid_from < {{ end_of_day('days.as_of_date') }}
        and (push_addresses.valid_to is null or push_addresses.valid_to >= {{ end_of_day('days.as_of_date') }})
),

addresses as (
    select
        days.as_of_date,
        customers.customer_id,
        channels.channel,
        coalesce(contacts.address, live_push.address) as address
    from days
    cross join {{ ref('stg_shop__customers') }} as customers
    cross join channels
    left join contacts
        on contacts.customer_id = customers.customer_id
        and contacts.channel = channels.channel
    left join live_push
        on live_push.as_of_date = days.as_of_date
        and live_push.customer_id = customers.customer_id
        and live_push.channel = channels.channel
        and live_push.recency_rank = 1
),

own_changes as (
    select
        customer_id,
        channel,
        purpose as consent_purpose,
        is_granted,
        recorded_at,
        consent_source,
        'customer' as consent_scope
    from {{ ref('stg_shop__consents') }}
),

{#- A withdrawal through an address-level source, copied onto every other record sharing the address. -#}
address_optouts as (
    select
        others.customer_id,
        changes.channel,
        changes.consent_purpose,
        changes.is_granted,
        changes.recorded_at,
        changes.consent_source,
        'address' as consent_scope
    from own_changes as changes
    inner join contacts as own
        on own.customer_id = changes.customer_id
        and own.channel = changes.channel
    inner join contacts as others
        on others.channel = own.channel
        and lower(others.address) = lower(own.address)
        and others.customer_id <> own.customer_id
    where not changes.is_granted
    {%- if optout_sources %}
      and changes.consent_source in ('{{ optout_sources | join("', '") }}')
    {%- else %}
      and 1 = 0
    {%- endif %}
),

changes as (
    select * from own_changes
    union all
    select * from address_optouts
),

{#- THE rule: the latest change at or before the end of the day wins; a withdrawal wins a tie. -#}
ranked_changes as (
    select
        days.as_of_date,
        changes.*,
        row_number() over (
            partition by days.as_of_date, changes.customer_id, changes.channel, changes.consent_purpose
            order by changes.recorded_at desc, changes.is_granted asc, changes.consent_scope, changes.consent_source
        ) as recency_rank
    from days
    inner join changes on changes.recorded_at < {{ end_of_day('days.as_of_date') }}
),

consent_states as (
    select * from ranked_changes where recency_rank = 1
),

suppressions as (
    select * from {{ ref('stg_ledger__suppressions') }}
),

recent_categories as (
    select distinct
        days.as_of_date,
        orders.customer_id,
        products.category
    from days
    inner join {{ ref('stg_shop__orders') }} as orders
        on orders.is_paid
        and orders.ordered_at < {{ end_of_day('days.as_of_date') }}
        and orders.ordered_at >= cast(
            {{ dbt.dateadd('month', -(exception['months'] | int), dbt.dateadd('day', 1, 'days.as_of_date')) }}
            as {{ dbt.type_timestamp() }})
    inner join {{ ref('stg_shop__order_items') }} as items on items.order_id = orders.order_id
    inner join {{ ref('stg_shop__products') }} as products on products.product_id = items.product_id
    where products.category is not null
      and {{ 'true' if exception['enabled'] else 'false' }}
),

exception_categories as (
    select
        as_of_date,
        customer_id,
        {{ dbt.listagg('category', "'|'", 'order by category') }} as categories
    from recent_categories
    group by as_of_date, customer_id
),

checked as (
    select
        addresses.as_of_date,
        addresses.customer_id,
        addresses.channel,
        purposes.purpose,
        purposes.consent_purpose,
        addresses.address,
        addresses.address is not null and case addresses.channel
            {%- for channel, pattern in formats.items() %}
            when '{{ channel }}' then {{ regex_matches('addresses.address', pattern) }}
            {%- endfor %}
            else false
        end as is_address_valid,
        case
            when consent.is_granted then 'granted'
            when not consent.is_granted then 'withdrawn'
            else 'none'
        end as consent_state,
        consent.recorded_at as consent_recorded_at,
        consent.consent_source,
        consent.consent_scope,
        coalesce(purposes.purpose = 'ad' and night.is_granted, false) as has_night_consent,
        case when purposes.purpose = 'ad' then night.recorded_at end as night_consent_recorded_at,
        suppressions.suppression_kind,
        suppressions.suppression_reason,
        coalesce(
            suppressions.suppression_kind = 'permanent'
            or (suppressions.suppression_kind = 'opted_out' and purposes.purpose = 'ad'),
            false
        ) as is_suppressed,
        exception_categories.categories as purchased_categories
    from addresses
    cross join purposes
    left join consent_states as consent
        on consent.as_of_date = addresses.as_of_date
        and consent.customer_id = addresses.customer_id
        and consent.channel = addresses.channel
        and consent.consent_purpose = purposes.consent_purpose
    left join consent_states as night
        on night.as_of_date = addresses.as_of_date
        and night.customer_id = addresses.customer_id
        and night.channel = addresses.channel
        and night.consent_purpose = 'night_ad'
    left join suppressions
        on suppressions.channel = addresses.channel
        and suppressions.address_hash = {{ address_hash('addresses.address') }}
    left join exception_categories
        on exception_categories.as_of_date = addresses.as_of_date
        and exception_categories.customer_id = addresses.customer_id
        and purposes.purpose = 'ad'
),

judged as (
    select
        *,
        case
            when address is null then 'no_address'
            when not is_address_valid then 'invalid_address'
            when consent_state = 'withdrawn' then 'consent_withdrawn'
            when consent_state = 'none' and purpose <> 'legal_notice' then 'no_consent'
            when is_suppressed then 'suppressed'
        end as ineligible_reason
    from checked
)

select
    as_of_date,
    customer_id,
    channel,
    purpose,
    address,
    is_address_valid,
    consent_state,
    consent_recorded_at,
    consent_source,
    consent_scope,
    has_night_consent,
    night_consent_recorded_at,
    suppression_kind,
    suppression_reason,
    case
        when ineligible_reason = 'no_consent' and purpose = 'ad' and not is_suppressed then purchased_categories
    end as exception_categories,
    ineligible_reason is null as is_eligible,
    ineligible_reason
from judged
