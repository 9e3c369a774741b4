-- One row per product, its category translated to English (the Portuguese name when no
-- translation exists; null when the product has no category).
with source as (
    {{ latest_by_key(source('bronze', 'products'), ['product_id']) }}
),

translation as (
    select * from {{ ref('stg_category_translation') }}
),

renamed as (
    select
        trim(source.product_id) as product_id,
        nullif(lower(trim(source.product_category_name)), '') as product_category_name,
        cast(source.product_name_lenght as integer) as product_name_length,
        cast(source.product_description_lenght as integer) as product_description_length,
        cast(source.product_photos_qty as integer) as product_photos_qty,
        cast(source.product_weight_g as integer) as product_weight_g,
        cast(source.product_length_cm as integer) as product_length_cm,
        cast(source.product_height_cm as integer) as product_height_cm,
        cast(source.product_width_cm as integer) as product_width_cm
    from source
),

final as (
    select
        renamed.*,
        coalesce(translation.product_category_name_english, renamed.product_category_name)
            as product_category_name_english
    from renamed
    left join translation on renamed.product_category_name = translation.product_category_name
)

select * from final
