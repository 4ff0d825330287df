{#- The contract's consent vocabulary (docs/data-contract.md, consents.csv): one list for every model. -#}
{% macro consent_channels() -%}
    {{ return(['email', 'sms', 'kakao', 'app_push', 'web_push']) }}
{%- endmacro %}

{% macro consent_purposes() -%}
    {{ return(['ad', 'night_ad', 'info']) }}
{%- endmacro %}

{#- Advertising purposes, whose consent date matters: the law asks to re-confirm them every two years. -#}
{% macro dated_consent_purposes() -%}
    {{ return(['ad', 'night_ad']) }}
{%- endmacro %}
