-- One row per product: its category in Portuguese and English, its measures, and sales.
with products as (
    select * from {{ ref('stg_products') }}
),

sales as (
    select
        items.product_id,
        count(*) as items_sold,
        sum(items.price) as revenue,
        avg(cast(orders.review_score as double)) as avg_review_score
    from {{ ref('stg_order_items') }} as items
    inner join {{ ref('fct_orders') }} as orders on items.order_id = orders.order_id
    where orders.order_status not in ('canceled', 'unavailable')
    group by items.product_id
),

final as (
    select
        products.product_id,
        products.product_category_name,
        products.product_category_name_english,
        products.product_name_length,
        products.product_description_length,
        products.product_photos_qty,
        products.product_weight_g,
        products.product_length_cm,
        products.product_height_cm,
        products.product_width_cm,
        coalesce(sales.items_sold, 0) as items_sold,
        coalesce(sales.revenue, 0) as revenue,
        sales.avg_review_score
    from products
    left join sales on products.product_id = sales.product_id
)

select * from final
