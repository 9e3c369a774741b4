#include "record_json.h"

#include <charconv>
#include <cstdint>

namespace nexus {
namespace {

namespace pb = google::protobuf;

template <typename Int>
void AppendInt(Int value, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, res.ptr);
}

// Appends one field's value (not its key) as JSON.
void AppendValue(const FieldPlan& field, const pb::Message& record, std::string* scratch, std::string* out) {
  const pb::Reflection* refl = record.GetReflection();
  const pb::FieldDescriptor* fd = field.descriptor;
  if (field.has_presence && !refl->HasField(record, fd)) {
    out->append("null");
    return;
  }
  switch (fd->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      AppendJsonString(refl->GetStringReference(record, fd, scratch), out);
      break;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      AppendInt(refl->GetInt32(record, fd), out);
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      AppendInt(refl->GetInt64(record, fd), out);
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      AppendInt(refl->GetUInt32(record, fd), out);
      break;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      AppendJsonNumber(refl->GetDouble(record, fd), out);
      break;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      AppendJsonNumber(refl->GetFloat(record, fd), out);
      break;
    default:
      out->append("null");
  }
}

}  // namespace

void AppendJsonString(std::string_view value, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(value.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, sizeof esc);
      }
    }
  }
  out->append(value.data() + run, value.size() - run);
  out->push_back('"');
}

void AppendJsonNumber(double value, std::string* out) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  bool integral_looking = true;
  for (const char* p = buf; p < res.ptr; ++p) {
    if (*p == '.' || *p == 'e' || *p == 'n' || *p == 'i') integral_looking = false;
  }
  out->append(buf, res.ptr);
  if (integral_looking) out->append(".0");
}

void AppendRecordJson(const EntityPlan& entity, const pb::Message& record, std::string* out) {
  std::string scratch;
  out->push_back('{');
  bool first = true;
  for (const FieldPlan& field : entity.fields) {
    if (!first) out->push_back(',');
    first = false;
    out->append(field.json_key);
    AppendValue(field, record, &scratch, out);
  }
  out->push_back('}');
}

void AppendRecordKey(const EntityPlan& entity, const pb::Message& record, std::string* out) {
  const pb::Reflection* refl = record.GetReflection();
  std::string scratch;
  for (size_t i = 0; i < entity.key_fields.size(); ++i) {
    if (i > 0) out->push_back('|');
    const FieldPlan& field = entity.fields[entity.key_fields[i]];
    const pb::FieldDescriptor* fd = field.descriptor;
    if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      out->append(refl->GetStringReference(record, fd, &scratch));
    } else {
      AppendValue(field, record, &scratch, out);
    }
  }
}

std::string RecordKey(const EntityPlan& entity, const pb::Message& record) {
  std::string key;
  AppendRecordKey(entity, record, &key);
  return key;
}

}  // namespace nexus
