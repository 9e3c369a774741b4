-- Row-level invariant, held by most orders: what was paid equals items plus freight within
-- 1.00 (vouchers and instalment interest make the rest differ). Fails when fewer than 90% of
-- the orders with items and payments agree.
with orders as (
    select
        case when abs(payment_value - (items_value + freight_value)) <= 1.0 then 1 else 0 end as agrees
    from {{ ref('fct_orders') }}
    where item_count > 0 and payment_value > 0
)

select count(*) as orders, sum(agrees) as agreeing
from orders
having count(*) > 0 and sum(agrees) < 0.9 * count(*)
