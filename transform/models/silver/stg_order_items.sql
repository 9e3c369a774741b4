-- One row per (order, item number).
with source as (
    {{ latest_by_key(source('bronze', 'order_items'), ['order_id', 'order_item_id']) }}
),

renamed as (
    select
        trim(order_id) as order_id,
        cast(order_item_id as integer) as order_item_id,
        trim(product_id) as product_id,
        trim(seller_id) as seller_id,
        {{ parse_ts('shipping_limit_date') }} as shipping_limit_at,
        cast(price as double) as price,
        cast(freight_value as double) as freight_value
    from source
)

select * from renamed
