-- One row per order, in its latest state.
with source as (
    {{ latest_by_key(source('bronze', 'orders'), ['order_id']) }}
),

renamed as (
    select
        trim(order_id) as order_id,
        trim(customer_id) as customer_id,
        lower(trim(order_status)) as order_status,
        {{ parse_ts('order_purchase_timestamp') }} as purchased_at,
        {{ parse_ts('order_approved_at') }} as approved_at,
        {{ parse_ts('order_delivered_carrier_date') }} as delivered_carrier_at,
        {{ parse_ts('order_delivered_customer_date') }} as delivered_at,
        {{ parse_ts('order_estimated_delivery_date') }} as estimated_delivery_at,
        _ingested_at
    from source
)

select * from renamed
