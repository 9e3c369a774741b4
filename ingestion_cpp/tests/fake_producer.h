// A Producer for the unit tests, no broker: a queue of `capacity` records whose delivery
// reports are served by Poll() or DeliverAll(), as librdkafka's are, or at once when
// `instant` (as if a poll thread served them before the call looked).
#pragma once

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "producer.h"

namespace nexus::testing {

class FakeProducer final : public Producer {
 public:
  rd_kafka_resp_err_t Produce(const KafkaRecord& record, const std::string& event_id, const std::string& source,
                              DeliverySlot* slot) override {
    ++produce_calls;
    sources.push_back(source);
    if (not_queued.count(event_id) != 0) return RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (queued_.size() >= capacity) return RD_KAFKA_RESP_ERR__QUEUE_FULL;
    queued_.push_back({slot, event_id, record.entity->topic});
    max_queued = std::max(max_queued, queued_.size());
    if (instant) DeliverAll();
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  // Reports every queued record, unless `stuck` (a broker that does not answer).
  void Poll(int) override {
    ++polls;
    if (!stuck) DeliverAll();
  }

  // Reports every queued record: an error for the event ids in `fail`, else delivered
  // at the next offset of partition 0.
  void DeliverAll() {
    while (!queued_.empty()) {
      const Queued q = queued_.front();
      queued_.pop_front();
      topics.push_back(q.topic);
      if (fail.count(q.event_id) != 0) {
        DeliveryBatch::Complete(q.slot, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, -1, -1);
      } else {
        DeliveryBatch::Complete(q.slot, RD_KAFKA_RESP_ERR_NO_ERROR, 0, next_offset++);
      }
    }
  }

  size_t queued() const { return queued_.size(); }

  bool instant = true;
  size_t capacity = 1000000;
  bool stuck = false;
  std::set<std::string> fail;        // delivery reports with an error
  std::set<std::string> not_queued;  // refused by Produce (not queue full)
  size_t produce_calls = 0;
  size_t polls = 0;
  size_t max_queued = 0;
  int64_t next_offset = 0;
  std::deque<std::string> topics;  // of the delivered records, in order
  std::vector<std::string> sources;  // the source header of every record offered, in order

 private:
  struct Queued {
    DeliverySlot* slot;
    std::string event_id;
    std::string topic;
  };
  std::deque<Queued> queued_;
};

}  // namespace nexus::testing
