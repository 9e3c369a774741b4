// The request builder: one event in, either a Kafka record (topic, key, Glue-framed
// JSON value, headers) or the reason it is rejected. Pure: no I/O, tested without a
// broker; the producer only sends what this builds.
#pragma once

#include <string>
#include <vector>

#include "contracts.h"
#include "glue_header.h"
#include "keystone/olist/v1/olist.pb.h"

namespace nexus {

// Kafka header names, as keystone_nexus.events.
constexpr char kHeaderEventId[] = "event_id";
constexpr char kHeaderSource[] = "source";
constexpr char kHeaderEntity[] = "entity";

struct KafkaRecord {
  const EntityPlan* entity = nullptr;  // its topic is entity->topic
  std::string key;
  std::string value;  // Glue header + JSON
};

class RecordBuilder {
 public:
  // `schema_ids` is indexed like contracts.entities(); `contracts` must outlive this.
  RecordBuilder(const Contracts& contracts, std::vector<Uuid> schema_ids);

  // Fills `out` and returns "" for a valid event; otherwise returns the reason.
  std::string Build(const keystone::olist::v1::Event& event, KafkaRecord* out) const;

  const Contracts& contracts() const { return contracts_; }

 private:
  const Contracts& contracts_;
  std::vector<Uuid> schema_ids_;
};

}  // namespace nexus
