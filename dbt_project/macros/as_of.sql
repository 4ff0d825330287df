{#-
    The point-in-time window every model is built for. Dagster passes the partition window as
    `start_date` / `end_date` (inclusive, shop-local days); a model sees nothing after the end of
    `end_date`, so rebuilding a past day gives the same answer however much newer data has arrived.
-#}

{% macro _today_in_shop_tz() -%}
    {{- return(run_started_at.astimezone(modules.pytz.timezone(var('shop_timezone'))).strftime('%Y-%m-%d')) -}}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ var("end_date", _today_in_shop_tz()) }}' as date)
{%- endmacro %}

{% macro window_start_date() -%}
    cast('{{ var("start_date", var("end_date", _today_in_shop_tz())) }}' as date)
{%- endmacro %}

{#- The first instant after the as-of day: compare timestamps with `< as_of_cutoff()`. -#}
{% macro as_of_cutoff() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
