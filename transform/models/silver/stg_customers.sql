-- One row per customer id (a person has one customer_unique_id and a customer id per order).
with source as (
    {{ latest_by_key(source('bronze', 'customers'), ['customer_id']) }}
),

renamed as (
    select
        trim(customer_id) as customer_id,
        trim(customer_unique_id) as customer_unique_id,
        trim(customer_zip_code_prefix) as customer_zip_code_prefix,
        {{ normalize_text('customer_city') }} as customer_city,
        {{ state_code('customer_state') }} as customer_state
    from source
)

select * from renamed
