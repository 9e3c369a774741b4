#include "event_queuer.h"

namespace nexus {

namespace v1 = keystone::olist::v1;

std::string DeliveryFailure(int err) {
  return std::string("delivery failed: ") + rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)) + "; retry";
}

std::string OverLimit(const char* what, int events, int limit) {
  return std::string(what) + " of " + std::to_string(events) + " events is over the limit of " +
         std::to_string(limit) + "; split it";
}

void Reject(v1::EventResult* result, const std::string& reason) {
  result->set_accepted(false);
  result->set_reason(reason);
}

rd_kafka_resp_err_t EventQueuer::Produce(const KafkaRecord& record, const v1::Event& event, DeliverySlot* slot) {
  const std::string& source = grant_ != nullptr ? grant_->producer : event.source();
  rd_kafka_resp_err_t err = producer_.Produce(record, event.event_id(), source, slot);
  if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
  const auto started = Clock::now();
  const auto deadline = started + queue_full_timeout_;
  auto now = started;
  while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && now < deadline) {
    producer_.Poll(1);
    err = producer_.Produce(record, event.event_id(), source, slot);
    now = Clock::now();
  }
  queue_full_wait += now - started;
  return err;
}

}  // namespace nexus
