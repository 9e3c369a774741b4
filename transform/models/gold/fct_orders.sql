-- One row per order: who bought, its state, delivery, and what it was worth.
-- Athena: incremental, the purchase months of orders ingested within `lookback_hours`
-- rewritten in place (insert_overwrite); locally a full rebuild.
{{ config(
    materialized=gold_materialization(),
    incremental_strategy='insert_overwrite',
    partitioned_by=['purchase_month'],
) }}

with orders as (
    select * from {{ ref('stg_orders') }}
    {% if incremental_run() %}
    where {{ dbt.date_trunc('month', 'purchased_at') }} in (
        select {{ dbt.date_trunc('month', 'purchased_at') }}
        from {{ ref('stg_orders') }}
        where _ingested_at >= {{ dbt.dateadd('hour', -1 * var('lookback_hours'), dbt.current_timestamp()) }}
    )
    {% endif %}
),

delivery as (
    select * from {{ ref('int_orders_delivery_measured') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

items as (
    select
        order_id,
        count(*) as item_count,
        sum(price) as items_value,
        sum(freight_value) as freight_value
    from {{ ref('stg_order_items') }}
    group by order_id
),

payments as (
    select order_id, sum(payment_value) as payment_value
    from {{ ref('stg_payments') }}
    group by order_id
),

latest_review as (
    select order_id, review_score
    from (
        select
            order_id,
            review_score,
            row_number() over (
                partition by order_id
                order by answered_at desc nulls last, created_at desc nulls last, review_id desc
            ) as review_rank
        from {{ ref('stg_reviews') }}
    ) as ranked
    where review_rank = 1
),

final as (
    select
        orders.order_id,
        customers.customer_unique_id,
        customers.customer_state,
        orders.order_status,
        orders.purchased_at,
        orders.delivered_at,
        orders.estimated_delivery_at,
        delivery.delivery_days,
        delivery.is_late,
        coalesce(items.item_count, 0) as item_count,
        coalesce(items.items_value, 0) as items_value,
        coalesce(items.freight_value, 0) as freight_value,
        coalesce(payments.payment_value, 0) as payment_value,
        latest_review.review_score,
        cast({{ dbt.date_trunc('month', 'orders.purchased_at') }} as date) as purchase_month
    from orders
    inner join delivery on orders.order_id = delivery.order_id
    left join customers on orders.customer_id = customers.customer_id
    left join items on orders.order_id = items.order_id
    left join payments on orders.order_id = payments.order_id
    left join latest_review on orders.order_id = latest_review.order_id
)

select * from final
