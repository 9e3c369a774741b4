-- Delivery measures per order. Calendar days (dates, not 24-hour periods), the same on
-- every engine: an order is late when it was delivered on a date after the estimated date;
-- `is_late` and `delivery_days` are null while it is not delivered.
with orders as (
    select * from {{ ref('stg_orders') }}
),

measured as (
    select
        order_id,
        purchased_at,
        delivered_at,
        estimated_delivery_at,
        case
            when delivered_at is not null
                then {{ dbt.datediff('cast(purchased_at as date)', 'cast(delivered_at as date)', 'day') }}
        end as delivery_days,
        case
            when delivered_at is not null
                then cast(delivered_at as date) > cast(estimated_delivery_at as date)
        end as is_late,
        case
            when delivered_at is not null
                then {{ dbt.datediff('cast(estimated_delivery_at as date)', 'cast(delivered_at as date)', 'day') }}
        end as days_past_estimate
    from orders
)

select * from measured
