#include "kafka_producer.h"

#include <stdexcept>

#include "log.h"

namespace nexus {

KafkaProducer::KafkaProducer(const KafkaProperties& properties, const Contracts& contracts) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("librdkafka property " + key + "=" + value + ": " + errstr);
    }
  }
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf, &KafkaProducer::OnError);
  rd_kafka_conf_set_log_cb(conf, &KafkaProducer::OnLog);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("creating the Kafka producer: ") + errstr);
  }
  for (const EntityPlan& entity : contracts.entities()) {
    rd_kafka_topic_t* topic = rd_kafka_topic_new(rk_, entity.topic.c_str(), nullptr);
    if (topic == nullptr) {
      throw std::runtime_error("topic handle " + entity.topic + ": " +
                               rd_kafka_err2str(rd_kafka_last_error()));
    }
    topics_.push_back(topic);
  }
  poller_ = std::thread([this] {
    while (!stop_.load()) rd_kafka_poll(rk_, 100);
  });
}

KafkaProducer::~KafkaProducer() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  for (rd_kafka_topic_t* topic : topics_) rd_kafka_topic_destroy(topic);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

rd_kafka_resp_err_t KafkaProducer::Produce(const KafkaRecord& record, const std::string& event_id,
                                           const std::string& source, DeliverySlot* slot) {
  const std::string& entity = record.entity->name;
  return rd_kafka_producev(
      rk_, RD_KAFKA_V_RKT(topics_[record.entity->index]), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<char*>(record.key.data()), record.key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
      RD_KAFKA_V_HEADER(kHeaderEventId, event_id.data(), static_cast<ssize_t>(event_id.size())),
      RD_KAFKA_V_HEADER(kHeaderSource, source.data(), static_cast<ssize_t>(source.size())),
      RD_KAFKA_V_HEADER(kHeaderEntity, entity.data(), static_cast<ssize_t>(entity.size())),
      RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
}

void KafkaProducer::Poll(int timeout_ms) { rd_kafka_poll(rk_, timeout_ms); }

int KafkaProducer::Flush(int timeout_ms) {
  rd_kafka_flush(rk_, timeout_ms);
  return rd_kafka_outq_len(rk_);
}

int KafkaProducer::QueueLength() const { return rd_kafka_outq_len(rk_); }

void KafkaProducer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (message->err) {
    self->counters_.delivery_errors.fetch_add(1, std::memory_order_relaxed);
  } else {
    self->counters_.delivered.fetch_add(1, std::memory_order_relaxed);
  }
  auto* slot = static_cast<DeliverySlot*>(message->_private);
  if (slot != nullptr) DeliveryBatch::Complete(slot, message->err, message->partition, message->offset);
}

void KafkaProducer::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    const rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    self->fatal_ = true;
    Log(LogLevel::kError, "kafka_fatal_error", {{"error", rd_kafka_err2name(code)}, {"reason", fatal}});
    return;
  }
  Log(LogLevel::kWarn, "kafka_error",
      {{"error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))}, {"reason", reason}});
}

void KafkaProducer::OnLog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  const LogLevel mapped = level <= 3 ? LogLevel::kError : level == 4 ? LogLevel::kWarn
                                                      : level <= 6   ? LogLevel::kInfo
                                                                     : LogLevel::kDebug;
  Log(mapped, "librdkafka", {{"facility", facility}, {"message", message}});
}

}  // namespace nexus
