{#- Silver and gold land in `<target schema>_silver` / `<target schema>_gold` on Athena
    (Glue databases) and in `silver` / `gold` in the local DuckDB file. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.type == 'duckdb' -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
