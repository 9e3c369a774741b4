-- One row per Portuguese category name with its English name.
with source as (
    {{ latest_by_key(source('bronze', 'category_translation'), ['product_category_name']) }}
),

renamed as (
    select
        lower(trim(product_category_name)) as product_category_name,
        lower(trim(product_category_name_english)) as product_category_name_english
    from source
)

select * from renamed
