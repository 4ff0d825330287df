{#-
    Written by the bgnbd_fit Dagster asset between the two dbt steps of a run. A dbt build on its own
    (before any fit) sees no table and gives no rows: predictions are then null downstream.
-#}
{% if relation_exists(source('predictions', 'customer_bgnbd')) %}
select
    as_of_date,
    customer_id,
    frequency,
    recency,
    tenure,
    p_alive,
    expected_purchases_90d
from {{ source('predictions', 'customer_bgnbd') }}
{% else %}
select
    cast(null as date) as as_of_date,
    cast(null as {{ dbt.type_string() }}) as customer_id,
    cast(null as integer) as frequency,
    cast(null as {{ type_double() }}) as recency,
    cast(null as {{ type_double() }}) as tenure,
    cast(null as {{ type_double() }}) as p_alive,
    cast(null as {{ type_double() }}) as expected_purchases_90d
where 1 = 0
{% endif %}
