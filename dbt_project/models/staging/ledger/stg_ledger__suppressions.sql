{#-
    The ledger's suppressions as of the last copy: (channel, address hash) -> kind. `permanent` (bad address,
    hard bounce, unregistered token) stops every message; `opted_out` (080 refusal, unsubscribe) stops ads.
    Empty until the first copy has created the table (checked at run time).
-#}
{% if relation_exists(source('ledger', 'suppressions')) %}
select
    channel,
    address_hash,
    kind as suppression_kind,
    reason as suppression_reason,
    suppressed_at
from {{ source('ledger', 'suppressions') }}
{% else %}
select
    cast(null as {{ dbt.type_string() }}) as channel,
    cast(null as {{ dbt.type_string() }}) as address_hash,
    cast(null as {{ dbt.type_string() }}) as suppression_kind,
    cast(null as {{ dbt.type_string() }}) as suppression_reason,
    cast(null as {{ dbt.type_timestamp() }}) as suppressed_at
where 1 = 0
{% endif %}
