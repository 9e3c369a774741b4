-- One row per seller with a scorecard: revenue and orders (orders not canceled or
-- unavailable), the average review of their orders, and the share of their items handed to
-- the carrier after the shipping limit.
with sellers as (
    select * from {{ ref('stg_sellers') }}
),

items as (
    select * from {{ ref('stg_order_items') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

stg_orders as (
    select order_id, delivered_carrier_at from {{ ref('stg_orders') }}
),

geo as (
    select * from {{ ref('stg_geolocation') }}
),

seller_items as (
    select
        items.seller_id,
        items.order_id,
        items.price,
        orders.order_status,
        orders.review_score,
        case
            when stg_orders.delivered_carrier_at is not null
                then stg_orders.delivered_carrier_at > items.shipping_limit_at
        end as shipped_late
    from items
    inner join orders on items.order_id = orders.order_id
    left join stg_orders on items.order_id = stg_orders.order_id
),

scorecard as (
    select
        seller_id,
        sum(case when order_status not in ('canceled', 'unavailable') then price else 0 end) as revenue,
        count(distinct case when order_status not in ('canceled', 'unavailable') then order_id end) as orders,
        count(*) as items,
        avg(cast(review_score as double)) as avg_review_score,
        avg(case when shipped_late then 1.0 when not shipped_late then 0.0 end) as late_shipping_rate
    from seller_items
    group by seller_id
),

final as (
    select
        sellers.seller_id,
        sellers.seller_zip_code_prefix as zip_code_prefix,
        sellers.seller_city as city,
        sellers.seller_state as state,
        geo.lat,
        geo.lng,
        coalesce(scorecard.revenue, 0) as revenue,
        coalesce(scorecard.orders, 0) as orders,
        coalesce(scorecard.items, 0) as items,
        scorecard.avg_review_score,
        scorecard.late_shipping_rate
    from sellers
    left join scorecard on sellers.seller_id = scorecard.seller_id
    left join geo on sellers.seller_zip_code_prefix = geo.zip_code_prefix
)

select * from final
