-- One point per zip-code prefix: the mean of its coordinates, its most frequent city and state.
with source as (
    {{ latest_by_key(source('bronze', 'geolocation'),
        ['geolocation_zip_code_prefix', 'geolocation_lat', 'geolocation_lng', 'geolocation_city', 'geolocation_state']) }}
),

cleaned as (
    select
        trim(geolocation_zip_code_prefix) as zip_code_prefix,
        cast(geolocation_lat as double) as lat,
        cast(geolocation_lng as double) as lng,
        {{ normalize_text('geolocation_city') }} as city,
        {{ state_code('geolocation_state') }} as state
    from source
    where geolocation_lat between -35 and 6 and geolocation_lng between -75 and -33  -- inside Brazil
),

places as (
    select
        zip_code_prefix,
        city,
        state,
        row_number() over (partition by zip_code_prefix order by count(*) desc, city, state) as place_rank
    from cleaned
    group by zip_code_prefix, city, state
),

points as (
    select zip_code_prefix, avg(lat) as lat, avg(lng) as lng, count(*) as source_points
    from cleaned
    group by zip_code_prefix
),

final as (
    select points.zip_code_prefix, points.lat, points.lng, places.city, places.state, points.source_points
    from points
    inner join places on points.zip_code_prefix = places.zip_code_prefix and places.place_rank = 1
)

select * from final
