{#-
    The few cross-database helpers dbt-core does not ship (no hub packages here). Each dispatches, so a
    Postgres or Spark target can override it with `<adapter>__<name>`; the defaults are ANSI SQL that
    DuckDB and Postgres both accept.
-#}

{#- The median of a numeric expression, as an aggregate (ordered-set aggregate in ANSI SQL). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'dangol')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}

{#- A double-precision float: dbt.type_float() is 4-byte `float` on DuckDB, too coarse for money. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'dangol')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- numerator / denominator as a double; null (not an error) when the denominator is 0 or null. -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0)
{%- endmacro %}

{#- A date `days` (an integer expression) after a date expression, as a date on every adapter. -#}
{% macro add_days(days, date_expression) -%}
    cast({{ dbt.dateadd('day', days, date_expression) }} as date)
{%- endmacro %}

{#- The first instant after a date expression's day: for `timestamp < end_of_day(day)` comparisons. -#}
{% macro end_of_day(date_expression) -%}
    cast({{ dbt.dateadd('day', 1, date_expression) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    Config for an incremental model replaced one window of as_of_dates at a time: the pre-hook empties the
    window's days, then the new rows are appended, on every adapter. (delete+insert by unique key, and
    Spark's insert_overwrite of the partitions written, only replaced the days the new rows carry, so a day
    that now has no rows - a fixed audience model that selected everyone - kept its old answer.)
-#}
{% macro daily_incremental_config() -%}
    {%- set config = {'materialized': 'incremental', 'incremental_strategy': 'append',
                      'on_schema_change': 'append_new_columns', 'pre_hook': ["{{ delete_window_rows() }}"]} -%}
    {%- if target.type in ('spark', 'databricks') -%}
        {#- a partition per day, so the pre-hook can drop a day on plain parquet tables (no delete there) -#}
        {%- do config.update({'partition_by': ['as_of_date'], 'file_format': 'parquet'}) -%}
    {%- endif -%}
    {{ return(config) }}
{%- endmacro %}

{#- The run window's days as ISO dates, first to last (the `start_date` .. `end_date` vars). -#}
{% macro window_days() -%}
    {%- set today = _today_in_shop_tz() -%}
    {%- set first = modules.datetime.date.fromisoformat(var('start_date', var('end_date', today))) -%}
    {%- set last = modules.datetime.date.fromisoformat(var('end_date', today)) -%}
    {%- set days = [] -%}
    {%- for offset in range((last - first).days + 1) -%}
        {%- do days.append((first + modules.datetime.timedelta(days=offset)).isoformat()) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}

{#- Empty the run window's days of an incremental daily model (nothing on its first build). -#}
{% macro delete_window_rows(column='as_of_date') -%}
    {{ return(adapter.dispatch('delete_window_rows', 'dangol')(column)) }}
{%- endmacro %}

{% macro default__delete_window_rows(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ column }} between {{ window_start_date() }} and {{ as_of_date() }}
    {%- endif -%}
{%- endmacro %}

{#- Spark's parquet tables cannot delete rows: drop each day's partition instead (one statement each, as
    Spark's SQL runs one statement per call); the hook itself is then empty. -#}
{% macro spark__delete_window_rows(column) -%}
    {%- if is_incremental() -%}
        {%- for day in window_days() -%}
            {%- do run_query("alter table " ~ this ~ " drop if exists partition (" ~ column ~ " = '" ~ day ~ "')") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- True when a relation exists in the warehouse at run time (always false while dbt only parses). -#}
{% macro relation_exists(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {{ return(found is not none) }}
{%- endmacro %}

{#- The ledger's address hash (channels.ledger.address_hash): sha256 of the trimmed, lower-cased address,
    first 32 hex digits. Suppressions arrive from the ledger as hashes only; this finds them again. -#}
{% macro address_hash(expression) -%}
    {{ return(adapter.dispatch('address_hash', 'dangol')(expression)) }}
{%- endmacro %}

{% macro default__address_hash(expression) -%}
    substring(encode(sha256(convert_to(lower(trim({{ expression }})), 'UTF8')), 'hex'), 1, 32)
{%- endmacro %}

{% macro duckdb__address_hash(expression) -%}
    substring(sha256(lower(trim({{ expression }}))), 1, 32)
{%- endmacro %}

{% macro spark__address_hash(expression) -%}
    substring(sha2(lower(trim({{ expression }})), 256), 1, 32)
{%- endmacro %}

{#- True when a string expression matches a regular expression (POSIX-style syntax shared by all three). -#}
{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'dangol')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    ({{ expression }} ~ '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ pattern }}')
{%- endmacro %}

{#- `value`s joined by `delimiter` in the order of `order_by` (a list of column expressions). dbt-spark's
    listagg ignores its order by: on Spark, sort (keys..., value) structs and join their values. -#}
{% macro ordered_listagg(value, delimiter, order_by) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'dangol')(value, delimiter, order_by)) }}
{%- endmacro %}

{% macro default__ordered_listagg(value, delimiter, order_by) -%}
    {{ dbt.listagg(value, "'" ~ delimiter ~ "'", "order by " ~ (order_by | join(', '))) }}
{%- endmacro %}

{% macro spark__ordered_listagg(value, delimiter, order_by) -%}
    {%- set keys = [] -%}
    {%- for key in order_by -%}{%- do keys.append("'k" ~ loop.index ~ "', " ~ key) -%}{%- endfor -%}
    array_join(transform(array_sort(collect_list(named_struct({{ keys | join(', ') }}, 'v', {{ value }}))), x -> x.v),
        '{{ delimiter }}')
{%- endmacro %}
