import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keystone.olist.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTITY_UNSPECIFIED: _ClassVar[Entity]
    ENTITY_CUSTOMERS: _ClassVar[Entity]
    ENTITY_GEOLOCATION: _ClassVar[Entity]
    ENTITY_ORDER_ITEMS: _ClassVar[Entity]
    ENTITY_PAYMENTS: _ClassVar[Entity]
    ENTITY_REVIEWS: _ClassVar[Entity]
    ENTITY_ORDERS: _ClassVar[Entity]
    ENTITY_PRODUCTS: _ClassVar[Entity]
    ENTITY_SELLERS: _ClassVar[Entity]
    ENTITY_CATEGORY_TRANSLATION: _ClassVar[Entity]
ENTITY_UNSPECIFIED: Entity
ENTITY_CUSTOMERS: Entity
ENTITY_GEOLOCATION: Entity
ENTITY_ORDER_ITEMS: Entity
ENTITY_PAYMENTS: Entity
ENTITY_REVIEWS: Entity
ENTITY_ORDERS: Entity
ENTITY_PRODUCTS: Entity
ENTITY_SELLERS: Entity
ENTITY_CATEGORY_TRANSLATION: Entity

class Customer(_message.Message):
    __slots__ = ("customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ZIP_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_CITY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_STATE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_unique_id: str
    customer_zip_code_prefix: str
    customer_city: str
    customer_state: str
    def __init__(self, customer_id: _Optional[str] = ..., customer_unique_id: _Optional[str] = ..., customer_zip_code_prefix: _Optional[str] = ..., customer_city: _Optional[str] = ..., customer_state: _Optional[str] = ...) -> None: ...

class Geolocation(_message.Message):
    __slots__ = ("geolocation_zip_code_prefix", "geolocation_lat", "geolocation_lng", "geolocation_city", "geolocation_state")
    GEOLOCATION_ZIP_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    GEOLOCATION_LAT_FIELD_NUMBER: _ClassVar[int]
    GEOLOCATION_LNG_FIELD_NUMBER: _ClassVar[int]
    GEOLOCATION_CITY_FIELD_NUMBER: _ClassVar[int]
    GEOLOCATION_STATE_FIELD_NUMBER: _ClassVar[int]
    geolocation_zip_code_prefix: str
    geolocation_lat: float
    geolocation_lng: float
    geolocation_city: str
    geolocation_state: str
    def __init__(self, geolocation_zip_code_prefix: _Optional[str] = ..., geolocation_lat: _Optional[float] = ..., geolocation_lng: _Optional[float] = ..., geolocation_city: _Optional[str] = ..., geolocation_state: _Optional[str] = ...) -> None: ...

class OrderItem(_message.Message):
    __slots__ = ("order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date", "price", "freight_value")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ID_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_LIMIT_DATE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FREIGHT_VALUE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    order_item_id: int
    product_id: str
    seller_id: str
    shipping_limit_date: str
    price: float
    freight_value: float
    def __init__(self, order_id: _Optional[str] = ..., order_item_id: _Optional[int] = ..., product_id: _Optional[str] = ..., seller_id: _Optional[str] = ..., shipping_limit_date: _Optional[str] = ..., price: _Optional[float] = ..., freight_value: _Optional[float] = ...) -> None: ...

class OrderPayment(_message.Message):
    __slots__ = ("order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_SEQUENTIAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_INSTALLMENTS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_VALUE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    payment_sequential: int
    payment_type: str
    payment_installments: int
    payment_value: float
    def __init__(self, order_id: _Optional[str] = ..., payment_sequential: _Optional[int] = ..., payment_type: _Optional[str] = ..., payment_installments: _Optional[int] = ..., payment_value: _Optional[float] = ...) -> None: ...

class OrderReview(_message.Message):
    __slots__ = ("review_id", "order_id", "review_score", "review_comment_title", "review_comment_message", "review_creation_date", "review_answer_timestamp")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEW_SCORE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_COMMENT_TITLE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_COMMENT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_CREATION_DATE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ANSWER_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    order_id: str
    review_score: int
    review_comment_title: str
    review_comment_message: str
    review_creation_date: str
    review_answer_timestamp: str
    def __init__(self, review_id: _Optional[str] = ..., order_id: _Optional[str] = ..., review_score: _Optional[int] = ..., review_comment_title: _Optional[str] = ..., review_comment_message: _Optional[str] = ..., review_creation_date: _Optional[str] = ..., review_answer_timestamp: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date", "order_delivered_customer_date", "order_estimated_delivery_date")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_STATUS_FIELD_NUMBER: _ClassVar[int]
    ORDER_PURCHASE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ORDER_APPROVED_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_DELIVERED_CARRIER_DATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_DELIVERED_CUSTOMER_DATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ESTIMATED_DELIVERY_DATE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: str
    order_status: str
    order_purchase_timestamp: str
    order_approved_at: str
    order_delivered_carrier_date: str
    order_delivered_customer_date: str
    order_estimated_delivery_date: str
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., order_status: _Optional[str] = ..., order_purchase_timestamp: _Optional[str] = ..., order_approved_at: _Optional[str] = ..., order_delivered_carrier_date: _Optional[str] = ..., order_delivered_customer_date: _Optional[str] = ..., order_estimated_delivery_date: _Optional[str] = ...) -> None: ...

class Product(_message.Message):
    __slots__ = ("product_id", "product_category_name", "product_name_lenght", "product_description_lenght", "product_photos_qty", "product_weight_g", "product_length_cm", "product_height_cm", "product_width_cm")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CATEGORY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_LENGHT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_DESCRIPTION_LENGHT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_PHOTOS_QTY_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_WEIGHT_G_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_LENGTH_CM_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_HEIGHT_CM_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_WIDTH_CM_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    product_category_name: str
    product_name_lenght: int
    product_description_lenght: int
    product_photos_qty: int
    product_weight_g: int
    product_length_cm: int
    product_height_cm: int
    product_width_cm: int
    def __init__(self, product_id: _Optional[str] = ..., product_category_name: _Optional[str] = ..., product_name_lenght: _Optional[int] = ..., product_description_lenght: _Optional[int] = ..., product_photos_qty: _Optional[int] = ..., product_weight_g: _Optional[int] = ..., product_length_cm: _Optional[int] = ..., product_height_cm: _Optional[int] = ..., product_width_cm: _Optional[int] = ...) -> None: ...

class Seller(_message.Message):
    __slots__ = ("seller_id", "seller_zip_code_prefix", "seller_city", "seller_state")
    SELLER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ZIP_CODE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SELLER_CITY_FIELD_NUMBER: _ClassVar[int]
    SELLER_STATE_FIELD_NUMBER: _ClassVar[int]
    seller_id: str
    seller_zip_code_prefix: str
    seller_city: str
    seller_state: str
    def __init__(self, seller_id: _Optional[str] = ..., seller_zip_code_prefix: _Optional[str] = ..., seller_city: _Optional[str] = ..., seller_state: _Optional[str] = ...) -> None: ...

class CategoryTranslation(_message.Message):
    __slots__ = ("product_category_name", "product_category_name_english")
    PRODUCT_CATEGORY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CATEGORY_NAME_ENGLISH_FIELD_NUMBER: _ClassVar[int]
    product_category_name: str
    product_category_name_english: str
    def __init__(self, product_category_name: _Optional[str] = ..., product_category_name_english: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "event_time", "source", "entity", "customer", "geolocation", "order_item", "payment", "review", "order", "product", "seller", "category_translation")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    GEOLOCATION_FIELD_NUMBER: _ClassVar[int]
    ORDER_ITEM_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: _timestamp_pb2.Timestamp
    source: str
    entity: Entity
    customer: Customer
    geolocation: Geolocation
    order_item: OrderItem
    payment: OrderPayment
    review: OrderReview
    order: Order
    product: Product
    seller: Seller
    category_translation: CategoryTranslation
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., entity: _Optional[_Union[Entity, str]] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ..., geolocation: _Optional[_Union[Geolocation, _Mapping]] = ..., order_item: _Optional[_Union[OrderItem, _Mapping]] = ..., payment: _Optional[_Union[OrderPayment, _Mapping]] = ..., review: _Optional[_Union[OrderReview, _Mapping]] = ..., order: _Optional[_Union[Order, _Mapping]] = ..., product: _Optional[_Union[Product, _Mapping]] = ..., seller: _Optional[_Union[Seller, _Mapping]] = ..., category_translation: _Optional[_Union[CategoryTranslation, _Mapping]] = ...) -> None: ...
