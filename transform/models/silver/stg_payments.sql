-- One row per (order, payment sequence number).
with source as (
    {{ latest_by_key(source('bronze', 'payments'), ['order_id', 'payment_sequential']) }}
),

renamed as (
    select
        trim(order_id) as order_id,
        cast(payment_sequential as integer) as payment_sequential,
        lower(trim(payment_type)) as payment_type,
        cast(payment_installments as integer) as payment_installments,
        cast(payment_value as double) as payment_value
    from source
)

select * from renamed
