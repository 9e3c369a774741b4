-- Per purchase date and customer state: orders that were not canceled or unavailable, and
-- their gross merchandise value (items plus freight).
with orders as (
    select * from {{ ref('fct_orders') }}
    where order_status not in ('canceled', 'unavailable')
),

final as (
    select
        cast(purchased_at as date) as purchase_date,
        customer_state,
        count(*) as orders,
        sum(items_value + freight_value) as gmv
    from orders
    group by cast(purchased_at as date), customer_state
)

select * from final
