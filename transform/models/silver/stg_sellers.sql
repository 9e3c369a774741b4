-- One row per seller.
with source as (
    {{ latest_by_key(source('bronze', 'sellers'), ['seller_id']) }}
),

renamed as (
    select
        trim(seller_id) as seller_id,
        trim(seller_zip_code_prefix) as seller_zip_code_prefix,
        {{ normalize_text('seller_city') }} as seller_city,
        {{ state_code('seller_state') }} as seller_state
    from source
)

select * from renamed
