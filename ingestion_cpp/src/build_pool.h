// Builds the Kafka records of request messages on a few threads, so one stream's
// validation and JSON encoding run in parallel with the producing of its earlier
// messages (the stream's own thread still queues them on the producer in order, so
// per-key order is kept). Pure: no Kafka, no gRPC; tested without a broker.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keystone/olist/v1/ingestion.pb.h"
#include "record_builder.h"

namespace nexus {

// The records of one request message: records[i] for a valid event i, else reasons[i].
// Reused across messages: its vectors and strings keep their capacity.
class BuiltMessage {
 public:
  const KafkaRecord* record(int i) const { return reasons_[i].empty() ? &records_[i] : nullptr; }
  const std::string& reason(int i) const { return reasons_[i]; }

  // Builds every event of `request` (on the calling thread).
  void Build(const RecordBuilder& builder, const keystone::olist::v1::PublishRequest& request);
  // Blocks until the pool has built the message handed to BuildPool::Submit.
  void Wait();

 private:
  friend class BuildPool;
  void MarkDone();

  const keystone::olist::v1::PublishRequest* request_ = nullptr;
  std::vector<KafkaRecord> records_;
  std::vector<std::string> reasons_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = true;
};

class BuildPool {
 public:
  // `threads` >= 1; `builder` must outlive the pool.
  BuildPool(const RecordBuilder& builder, int threads);
  ~BuildPool();  // finishes the queued messages, then joins
  BuildPool(const BuildPool&) = delete;
  BuildPool& operator=(const BuildPool&) = delete;

  // Builds `request` into `out` on a pool thread; `request` and `out` must stay put
  // until out->Wait() returns.
  void Submit(const keystone::olist::v1::PublishRequest* request, BuiltMessage* out);

 private:
  void Run();

  const RecordBuilder& builder_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::deque<BuiltMessage*> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace nexus
