{#- The latest event per business key. Bronze can hold the same Kafka record twice (a replay
    into a second lake prefix, a restored backup): first one row per Kafka coordinate, then
    one row per business key, the latest event winning (Kafka timestamp, then offset; a key
    always lands in one partition, so the offset orders its events). -#}
{% macro latest_by_key(relation, key_columns) -%}
select *
from (
    select
        *,
        row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by _kafka_timestamp desc, _offset desc
        ) as _key_rank
    from (
        select
            *,
            row_number() over (
                partition by _topic, _partition, _offset
                order by _ingested_at
            ) as _coord_rank
        from {{ relation }}
    ) as by_coordinate
    where _coord_rank = 1
) as by_key
where _key_rank = 1
{%- endmacro %}
