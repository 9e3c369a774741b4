// A record as the Kafka payload: JSON with the Olist column names, in field order,
// numbers as JSON numbers, unset proto3 `optional` fields as null; and its Kafka key
// (the key fields joined with '|'), as keystone_nexus.events writes them.
//
// A small hand-written encoder rather than building an nlohmann::json per event: it
// runs for every event on the hot path. Its output is checked by parsing it back with
// nlohmann-json in the unit tests.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "contracts.h"

namespace nexus {

// Appends the record's JSON object to `out`. The record must be of entity.message.
void AppendRecordJson(const EntityPlan& entity, const google::protobuf::Message& record, std::string* out);

// The Kafka key: the key fields' values joined with '|'.
std::string RecordKey(const EntityPlan& entity, const google::protobuf::Message& record);
// The same, appended to `out` (the hot path reuses its buffer).
void AppendRecordKey(const EntityPlan& entity, const google::protobuf::Message& record, std::string* out);

// A JSON string literal (quoted, escaped; UTF-8 passes through unchanged).
void AppendJsonString(std::string_view value, std::string* out);

// The shortest text that reads back as `value`; integral values keep a ".0", as
// Python's float repr and orjson write them. `value` must be finite.
void AppendJsonNumber(double value, std::string* out);

}  // namespace nexus
