-- Per customer state and purchase month: delivered orders, the share delivered on time,
-- and how late the late ones were.
with delivered as (
    select * from {{ ref('fct_orders') }}
    where delivered_at is not null
),

delivery as (
    select order_id, days_past_estimate from {{ ref('int_orders_delivery_measured') }}
),

final as (
    select
        delivered.customer_state,
        cast({{ dbt.date_trunc('month', 'delivered.purchased_at') }} as date) as purchase_month,
        count(*) as delivered_orders,
        avg(case when delivered.is_late then 0.0 else 1.0 end) as on_time_rate,
        avg(cast(delivered.delivery_days as double)) as avg_delivery_days,
        avg(case when delivered.is_late then cast(delivery.days_past_estimate as double) end) as avg_days_late
    from delivered
    inner join delivery on delivered.order_id = delivery.order_id
    group by 1, 2
)

select * from final
