-- One row per person (customer_unique_id): where they live (as of their latest order),
-- when they ordered, how often, and what they paid.
with customers as (
    select * from {{ ref('stg_customers') }}
),

orders as (
    select * from {{ ref('stg_orders') }}
),

payments as (
    select order_id, sum(payment_value) as payment_value
    from {{ ref('stg_payments') }}
    group by order_id
),

geo as (
    select * from {{ ref('stg_geolocation') }}
),

customer_orders as (
    select
        customers.customer_unique_id,
        customers.customer_zip_code_prefix,
        customers.customer_city,
        customers.customer_state,
        orders.order_id,
        orders.purchased_at,
        payments.payment_value,
        row_number() over (
            partition by customers.customer_unique_id
            order by orders.purchased_at desc nulls last, customers.customer_id desc
        ) as recency_rank
    from customers
    left join orders on customers.customer_id = orders.customer_id
    left join payments on orders.order_id = payments.order_id
),

summary as (
    select
        customer_unique_id,
        count(order_id) as orders,
        min(purchased_at) as first_order_at,
        max(purchased_at) as last_order_at,
        coalesce(sum(payment_value), 0) as lifetime_value
    from customer_orders
    group by customer_unique_id
),

final as (
    select
        summary.customer_unique_id,
        latest.customer_zip_code_prefix as zip_code_prefix,
        latest.customer_city as city,
        latest.customer_state as state,
        geo.lat,
        geo.lng,
        summary.orders,
        summary.first_order_at,
        summary.last_order_at,
        summary.lifetime_value
    from summary
    inner join customer_orders as latest
        on summary.customer_unique_id = latest.customer_unique_id and latest.recency_rank = 1
    left join geo on latest.customer_zip_code_prefix = geo.zip_code_prefix
)

select * from final
