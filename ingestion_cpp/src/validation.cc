#include "validation.h"

#include <charconv>
#include <cmath>
#include <cstdio>


namespace nexus {
namespace {

namespace pb = google::protobuf;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(std::string_view s, size_t len, bool (*pred)(char)) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

// A value quoted in a reason: at most 40 bytes, cut on a UTF-8 boundary.
std::string Quote(std::string_view value) {
  constexpr size_t kMax = 40;
  if (value.size() <= kMax) return "\"" + std::string(value) + "\"";
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(value.substr(0, cut)) + "...\"";
}

// Shortest text that reads back as `v`, without a forced ".0": "0", "-0.5", "1e+20".
std::string Number(double v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

const char* FormatDescription(Format format) {
  switch (format) {
    case Format::kTimestamp:
      return "a timestamp YYYY-MM-DD HH:MM:SS";
    case Format::kMd5Id:
      return "an md5_id (32 lower-case hex characters)";
    case Format::kZipPrefix:
      return "a zip_prefix (5 digits)";
    case Format::kState:
      return "a state (two upper-case letters)";
    case Format::kNone:
      break;
  }
  return "";
}

std::string CheckString(const FieldPlan& field, std::string_view value) {
  if (field.format != Format::kNone && !MatchesFormat(field.format, value)) {
    return field.name + ": must be " + FormatDescription(field.format) + ", got " + Quote(value);
  }
  if (!field.enum_values.empty()) {
    bool found = false;
    for (const std::string& allowed : field.enum_values) found = found || allowed == value;
    if (!found) {
      std::string list;
      for (const std::string& allowed : field.enum_values) list += (list.empty() ? "" : ", ") + allowed;
      return field.name + ": must be one of " + list + ", got " + Quote(value);
    }
  }
  if (field.max_length && CodePoints(value) > *field.max_length) {
    return field.name + ": longer than " + std::to_string(*field.max_length) + " characters";
  }
  return "";
}

std::string CheckNumber(const FieldPlan& field, double value) {
  if (!std::isfinite(value)) return field.name + ": must be a finite number";
  if (field.minimum && value < *field.minimum) {
    return field.name + ": " + Number(value) + " is less than the minimum " + Number(*field.minimum);
  }
  if (field.maximum && value > *field.maximum) {
    return field.name + ": " + Number(value) + " is more than the maximum " + Number(*field.maximum);
  }
  return "";
}

}  // namespace

bool MatchesFormat(Format format, std::string_view v) {
  switch (format) {
    case Format::kNone:
      return true;
    case Format::kTimestamp:
      // ^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$
      if (v.size() != 19 || v[4] != '-' || v[7] != '-' || v[10] != ' ' || v[13] != ':' || v[16] != ':') {
        return false;
      }
      for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
        if (!IsDigit(v[i])) return false;
      }
      return true;
    case Format::kMd5Id:
      return AllOf(v, 32, [](char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); });
    case Format::kZipPrefix:
      return AllOf(v, 5, IsDigit);
    case Format::kState:
      return AllOf(v, 2, [](char c) { return c >= 'A' && c <= 'Z'; });
  }
  return false;
}

size_t CodePoints(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

EnvelopeCheck CheckEnvelope(const Contracts& contracts, const keystone::olist::v1::Event& event) {
  EnvelopeCheck check;
  if (event.event_id().empty()) {
    check.reason = "event_id: is required";
    return check;
  }
  if (event.payload_case() == keystone::olist::v1::Event::PAYLOAD_NOT_SET) {
    check.reason = "payload: no record set (set exactly one of the payload fields)";
    return check;
  }
  const EntityPlan* by_payload = contracts.ByPayloadField(static_cast<int>(event.payload_case()));
  if (by_payload == nullptr) {
    check.reason = "payload: field " + std::to_string(event.payload_case()) + " is not a known entity";
    return check;
  }
  if (event.entity() == keystone::olist::v1::ENTITY_UNSPECIFIED) {
    check.reason = "entity: is required (" + by_payload->entity_enum_name + " for a " +
                   by_payload->payload_field->name() + " payload)";
    return check;
  }
  const EntityPlan* by_enum = contracts.ByEnum(event.entity());
  if (by_enum == nullptr) {
    check.reason = "entity: unknown value " + std::to_string(event.entity());
    return check;
  }
  if (by_enum != by_payload) {
    check.reason = "entity: " + by_enum->entity_enum_name + " does not match the " +
                   by_payload->payload_field->name() + " payload (" + by_payload->entity_enum_name + ")";
    return check;
  }
  check.entity = by_payload;
  return check;
}

std::string CheckRecord(const EntityPlan& entity, const pb::Message& record) {
  const pb::Reflection* refl = record.GetReflection();
  std::string scratch;
  for (const FieldPlan& field : entity.fields) {
    const pb::FieldDescriptor* fd = field.descriptor;
    if (field.has_presence && !refl->HasField(record, fd)) {
      if (field.required) return field.name + ": is required";
      continue;
    }
    std::string reason;
    switch (fd->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        const std::string& value = refl->GetStringReference(record, fd, &scratch);
        if (value.empty() && field.required) return field.name + ": is required";
        reason = CheckString(field, value);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_INT32:
        reason = CheckNumber(field, refl->GetInt32(record, fd));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        reason = CheckNumber(field, static_cast<double>(refl->GetInt64(record, fd)));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        reason = CheckNumber(field, refl->GetUInt32(record, fd));
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        reason = CheckNumber(field, refl->GetDouble(record, fd));
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        reason = CheckNumber(field, refl->GetFloat(record, fd));
        break;
      default:
        reason = field.name + ": unsupported type";
    }
    if (!reason.empty()) return reason;
  }
  return "";
}

}  // namespace nexus
