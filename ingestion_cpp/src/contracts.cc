#include "contracts.h"

#include <stdexcept>

#include "keystone/olist/v1/olist.pb.h"
#include "keystone/olist/v1/options.pb.h"

namespace nexus {
namespace {

namespace pb = google::protobuf;
namespace v1 = keystone::olist::v1;

constexpr char kTopicPrefix[] = "olist.";
constexpr char kTopicSuffix[] = ".v1";

Format ParseFormat(const std::string& format, const std::string& field) {
  if (format.empty()) return Format::kNone;
  if (format == "timestamp") return Format::kTimestamp;
  if (format == "md5_id") return Format::kMd5Id;
  if (format == "zip_prefix") return Format::kZipPrefix;
  if (format == "state") return Format::kState;
  throw std::runtime_error(field + ": unknown (field).format \"" + format + "\"");
}

bool SupportedType(pb::FieldDescriptor::CppType type) {
  switch (type) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return true;
    default:
      return false;
  }
}

FieldPlan PlanField(const pb::FieldDescriptor* fd) {
  if (fd->is_repeated() || !SupportedType(fd->cpp_type())) {
    throw std::runtime_error(fd->full_name() + ": unsupported field type for an Olist column");
  }
  const v1::FieldRules& rules = fd->options().GetExtension(v1::field);
  FieldPlan plan;
  plan.descriptor = fd;
  plan.name = fd->name();
  plan.json_key = "\"" + fd->name() + "\":";
  plan.required = rules.required();
  plan.has_presence = fd->has_presence();
  plan.format = ParseFormat(rules.format(), fd->full_name());
  plan.enum_values.assign(rules.enum_().begin(), rules.enum_().end());
  if (rules.has_minimum()) plan.minimum = rules.minimum();
  if (rules.has_maximum()) plan.maximum = rules.maximum();
  if (rules.has_max_length()) plan.max_length = rules.max_length();
  return plan;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

}  // namespace

Contracts Contracts::FromDescriptors() {
  Contracts contracts;
  const pb::Descriptor* event = v1::Event::descriptor();
  const pb::EnumDescriptor* entity_enum = v1::Entity_descriptor();
  const pb::OneofDescriptor* payload = event->FindOneofByName("payload");
  if (payload == nullptr) throw std::runtime_error("keystone.olist.v1.Event has no payload oneof");
  for (int i = 0; i < payload->field_count(); ++i) {
    const pb::FieldDescriptor* pf = payload->field(i);
    const pb::Descriptor* message = pf->message_type();
    if (message == nullptr) throw std::runtime_error(pf->full_name() + " is not a message field");
    const v1::EntityRules& rules = message->options().GetExtension(v1::entity);
    if (rules.name().empty() || rules.key_fields().empty()) {
      throw std::runtime_error(message->full_name() + ": incomplete (entity) options");
    }
    EntityPlan plan;
    plan.index = contracts.entities_.size();
    plan.name = rules.name();
    plan.topic = kTopicPrefix + rules.name() + kTopicSuffix;
    plan.payload_field = pf;
    plan.message = message;
    plan.entity_enum_name = "ENTITY_" + Upper(rules.name());
    const pb::EnumValueDescriptor* value = entity_enum->FindValueByName(plan.entity_enum_name);
    if (value == nullptr) throw std::runtime_error("keystone.olist.v1.Entity has no " + plan.entity_enum_name);
    plan.entity_enum = value->number();
    for (int f = 0; f < message->field_count(); ++f) plan.fields.push_back(PlanField(message->field(f)));
    for (const std::string& key : rules.key_fields()) {
      size_t found = plan.fields.size();
      for (size_t f = 0; f < plan.fields.size(); ++f) {
        if (plan.fields[f].name == key) found = f;
      }
      if (found == plan.fields.size()) {
        throw std::runtime_error(message->full_name() + ": key field " + key + " is not a field");
      }
      plan.key_fields.push_back(found);
    }
    contracts.entities_.push_back(std::move(plan));
  }
  return contracts;
}

const EntityPlan* Contracts::ByPayloadField(int field_number) const {
  for (const EntityPlan& e : entities_) {
    if (e.payload_field->number() == field_number) return &e;
  }
  return nullptr;
}

const EntityPlan* Contracts::ByEnum(int value) const {
  for (const EntityPlan& e : entities_) {
    if (e.entity_enum == value) return &e;
  }
  return nullptr;
}

const EntityPlan* Contracts::ByName(const std::string& name) const {
  for (const EntityPlan& e : entities_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace nexus
