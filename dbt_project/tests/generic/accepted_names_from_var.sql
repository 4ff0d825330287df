{#-
    accepted_values for a column whose values come from a config list var (rfm_segments, personas): the
    accepted set follows the config, so renaming a segment in dbt_project.yml needs no test edit.
-#}
{% test accepted_names_from_var(model, column_name, var_name, fallbacks=[]) %}
{%- set names = names_from_var(var_name, fallbacks) -%}
select {{ column_name }}
from {{ model }}
where {{ column_name }} not in (
    {%- for name in names %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor -%}
)
{% endtest %}
