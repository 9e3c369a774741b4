#include "record_builder.h"

#include <stdexcept>

#include "record_json.h"
#include "validation.h"

namespace nexus {

RecordBuilder::RecordBuilder(const Contracts& contracts, std::vector<Uuid> schema_ids)
    : contracts_(contracts), schema_ids_(std::move(schema_ids)) {
  if (schema_ids_.size() != contracts_.entities().size()) {
    throw std::invalid_argument("RecordBuilder: one schema id per entity is needed");
  }
}

std::string RecordBuilder::Build(const keystone::olist::v1::Event& event, KafkaRecord* out) const {
  EnvelopeCheck envelope = CheckEnvelope(contracts_, event);
  if (envelope.entity == nullptr) return envelope.reason;
  const EntityPlan& entity = *envelope.entity;
  const google::protobuf::Message& record =
      event.GetReflection()->GetMessage(event, entity.payload_field);
  std::string reason = CheckRecord(entity, record);
  if (!reason.empty()) return reason;
  out->entity = &entity;
  out->key.clear();
  AppendRecordKey(entity, record, &out->key);
  out->value.clear();
  out->value.reserve(kGlueHeaderSize + 64 * entity.fields.size());
  AppendGlueHeader(schema_ids_[entity.index], &out->value);
  AppendRecordJson(entity, record, &out->value);
  return "";
}

}  // namespace nexus
