// Checking one event before it is produced: the envelope (event id, entity, payload)
// and the record's column rules, the same rules as the registry's JSON Schemas
// (keystone_nexus.schemas): formats, enums, inclusive bounds, maxLength.
//
// proto3 cannot tell an unset plain field from its default, so "required" means:
// a required string is non-empty; a required number is always present (0 is checked
// against its bounds). proto3 `optional` fields that are unset encode as null.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "contracts.h"
#include "keystone/olist/v1/olist.pb.h"

namespace nexus {

// The entity of a valid event, or the reason it is rejected (exactly one is set).
struct EnvelopeCheck {
  const EntityPlan* entity = nullptr;
  std::string reason;
};

// Envelope: event_id non-empty, entity known and matching the payload set.
EnvelopeCheck CheckEnvelope(const Contracts& contracts, const keystone::olist::v1::Event& event);

// The record's columns; "" when valid, else "<column>: <what is wrong>".
std::string CheckRecord(const EntityPlan& entity, const google::protobuf::Message& record);

// The named formats (exposed for tests).
bool MatchesFormat(Format format, std::string_view value);

// Number of Unicode code points in valid UTF-8 text.
size_t CodePoints(std::string_view utf8);

}  // namespace nexus
