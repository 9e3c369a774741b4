#include "delivery.h"

#include <stdexcept>

namespace nexus {

void DeliveryTracker::Reported() {
  if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // The last report after Wait() began: wake it under the lock, so the tracker
    // cannot be destroyed before this thread is done with it.
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    done_cv_.notify_all();
  }
}

void DeliveryTracker::Wait() {
  if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) return;  // nothing in flight
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [this] { return done_; });
}

void DeliveryBatch::Reset(DeliveryTracker* tracker, size_t events) {
  if (!Done()) throw std::logic_error("DeliveryBatch::Reset with messages in flight");
  tracker_ = tracker;
  slots_.clear();
  slots_.reserve(events);
}

DeliverySlot* DeliveryBatch::Add(uint32_t index, const EntityPlan* entity) {
  if (slots_.size() == slots_.capacity()) throw std::logic_error("DeliveryBatch::Add beyond its Reset size");
  DeliverySlot& slot = slots_.emplace_back();
  slot.batch = this;
  slot.index = index;
  slot.entity = entity;
  slot.queued = true;
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  tracker_->Queued();
  return &slot;
}

void DeliveryBatch::Cancel(DeliverySlot* slot) {
  slot->queued = false;
  outstanding_.fetch_sub(1, std::memory_order_relaxed);
  tracker_->Reported();  // the call's own hold keeps the tracker above zero
}

void DeliveryBatch::Complete(DeliverySlot* slot, int err, int32_t partition, int64_t offset) {
  DeliveryBatch* batch = slot->batch;
  DeliveryTracker* tracker = batch->tracker_;  // read first: once Done(), the batch may be reused
  slot->err = err;
  slot->partition = partition;
  slot->offset = offset;
  batch->outstanding_.fetch_sub(1, std::memory_order_acq_rel);
  tracker->Reported();
}

}  // namespace nexus
