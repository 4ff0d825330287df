{#- Helpers of the segment marts; their thresholds live in dbt_project.yml vars. -#}

{#- A 1-5 score from a percent_rank in [0, 1]: [0, 0.2) -> 1, ..., [0.8, 1] -> 5. -#}
{% macro quintile_score(percent_rank_expression) -%}
    cast(least(5, 1 + floor(5 * {{ percent_rank_expression }})) as integer)
{%- endmacro %}

{#- The names a config list var can produce (e.g. rfm_segments, personas), plus the fixed fallbacks. -#}
{% macro names_from_var(var_name, fallbacks=[]) -%}
    {{ return(var(var_name) | map(attribute='name') | list + fallbacks) }}
{%- endmacro %}
