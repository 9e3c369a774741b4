// What a call needs of the Kafka side: queue one record, serve delivery reports. The
// stream and batch logic take this interface, so their unit tests run against a fake
// producer (tests/fake_producer.h) without a broker; KafkaProducer is the real one.
#pragma once

#include <string>

#include <librdkafka/rdkafka.h>

#include "delivery.h"
#include "record_builder.h"

namespace nexus {

class Producer {
 public:
  virtual ~Producer() = default;
  // Queues one record; its delivery report completes `slot` (DeliveryBatch::Complete).
  // RD_KAFKA_RESP_ERR__QUEUE_FULL when the queue has no room, another error code when
  // the record cannot be queued (then `slot` gets no report).
  virtual rd_kafka_resp_err_t Produce(const KafkaRecord& record, const std::string& event_id,
                                      const std::string& source, DeliverySlot* slot) = 0;
  // Serves delivery reports for up to `timeout_ms` (room frees up as they arrive).
  virtual void Poll(int timeout_ms) = 0;
};

}  // namespace nexus
