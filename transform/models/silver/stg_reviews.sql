-- One row per (review, order): Olist reuses a review id across the orders it covers.
with source as (
    {{ latest_by_key(source('bronze', 'reviews'), ['review_id', 'order_id']) }}
),

renamed as (
    select
        trim(review_id) as review_id,
        trim(order_id) as order_id,
        cast(review_score as integer) as review_score,
        nullif(trim(review_comment_title), '') as review_comment_title,
        nullif(trim(review_comment_message), '') as review_comment_message,
        {{ parse_ts('review_creation_date') }} as created_at,
        {{ parse_ts('review_answer_timestamp') }} as answered_at
    from source
)

select * from renamed
