// The event contracts, read from the protobuf descriptors (the (entity) and (field)
// options of protos/keystone/olist/v1/options.proto), so the protos stay the single
// source of every entity's topic, key, columns and rules, as on the Python side
// (keystone_nexus.contracts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

namespace nexus {

// The named wire formats of FieldRules.format.
enum class Format { kNone, kTimestamp, kMd5Id, kZipPrefix, kState };

// One column of an entity: where it is in the message and what it must satisfy.
struct FieldPlan {
  const google::protobuf::FieldDescriptor* descriptor = nullptr;
  std::string name;      // the Olist column name (the proto field name)
  std::string json_key;  // "\"name\":", pre-rendered for the encoder
  bool required = false;
  bool has_presence = false;  // proto3 `optional`: unset encodes as null
  Format format = Format::kNone;
  std::vector<std::string> enum_values;
  std::optional<double> minimum;
  std::optional<double> maximum;
  std::optional<uint32_t> max_length;  // in Unicode code points, like JSON Schema
};

// One Olist entity: its message, payload field in Event, topic and key.
struct EntityPlan {
  size_t index = 0;  // position in the Event payload oneof (and in Contracts::entities())
  std::string name;  // e.g. "order_items"
  std::string topic;  // olist.<name>.v1, also the registry's schema name
  int entity_enum = 0;  // the keystone.olist.v1.Entity value ENTITY_<NAME>
  std::string entity_enum_name;
  const google::protobuf::FieldDescriptor* payload_field = nullptr;
  const google::protobuf::Descriptor* message = nullptr;
  std::vector<FieldPlan> fields;
  std::vector<size_t> key_fields;  // indexes into `fields`, in key order
};

// Every entity of the Event payload oneof. Throws std::runtime_error naming the
// message or field when the protos' options are incomplete or use an unknown format.
class Contracts {
 public:
  static Contracts FromDescriptors();

  const std::vector<EntityPlan>& entities() const { return entities_; }
  // nullptr when unknown.
  const EntityPlan* ByPayloadField(int field_number) const;
  const EntityPlan* ByEnum(int value) const;
  const EntityPlan* ByName(const std::string& name) const;

 private:
  std::vector<EntityPlan> entities_;
};

}  // namespace nexus
