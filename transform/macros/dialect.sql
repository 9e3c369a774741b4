{#- The few places where DuckDB and Athena (Trino) differ; everything else uses dbt's
    cross-database macros (dbt.datediff, dbt.date_trunc, dbt.dateadd, dbt.type_*). -#}

{#- An Olist timestamp string ("2017-10-02 10:56:33") as a timestamp; null when blank or malformed. -#}
{% macro parse_ts(column) -%}
    {{ return(adapter.dispatch('parse_ts', 'keystone_nexus')(column)) }}
{%- endmacro %}

{% macro default__parse_ts(column) -%}
    try_cast(nullif(trim({{ column }}), '') as timestamp)
{%- endmacro %}

{% macro athena__parse_ts(column) -%}
    try(date_parse(nullif(trim({{ column }}), ''), '%Y-%m-%d %H:%i:%s'))
{%- endmacro %}

{#- Lower case, trimmed, accents removed, inner whitespace collapsed ("São  Paulo " -> "sao paulo"). -#}
{% macro normalize_text(column) -%}
    {{ return(adapter.dispatch('normalize_text', 'keystone_nexus')(column)) }}
{%- endmacro %}

{% macro default__normalize_text(column) -%}
    nullif(regexp_replace(lower(trim(strip_accents({{ column }}))), '\s+', ' ', 'g'), '')
{%- endmacro %}

{% macro athena__normalize_text(column) -%}
    nullif(regexp_replace(lower(trim(regexp_replace(normalize({{ column }}, NFD), '\p{M}', ''))), '\s+', ' '), '')
{%- endmacro %}

{#- Two-letter state code, upper case. -#}
{% macro state_code(column) -%}
    nullif(upper(trim({{ column }})), '')
{%- endmacro %}

{#- Materialization of a gold table: incremental insert_overwrite by partition on Athena,
    a full rebuild elsewhere. -#}
{% macro gold_materialization() -%}
    {{ return('incremental' if target.type == 'athena' else 'table') }}
{%- endmacro %}

{#- is_incremental(), except under `dbt compile`: asking whether the table exists needs the
    warehouse, and compiling must work offline (`dbt compile --target athena --no-populate-cache`). -#}
{% macro incremental_run() -%}
    {{ return(flags.WHICH != 'compile' and is_incremental()) }}
{%- endmacro %}
