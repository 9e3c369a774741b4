#include "build_pool.h"

namespace nexus {

void BuiltMessage::Build(const RecordBuilder& builder, const keystone::olist::v1::PublishRequest& request) {
  const size_t n = static_cast<size_t>(request.events_size());
  if (records_.size() < n) records_.resize(n);
  reasons_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    reasons_[i] = builder.Build(request.events(static_cast<int>(i)), &records_[i]);
  }
}

void BuiltMessage::Wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [this] { return done_; });
}

void BuiltMessage::MarkDone() {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = true;
  done_cv_.notify_all();
}

BuildPool::BuildPool(const RecordBuilder& builder, int threads) : builder_(builder) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

BuildPool::~BuildPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void BuildPool::Submit(const keystone::olist::v1::PublishRequest* request, BuiltMessage* out) {
  {
    std::lock_guard<std::mutex> lock(out->mutex_);
    out->done_ = false;
  }
  out->request_ = request;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(out);
  }
  work_cv_.notify_one();
}

void BuildPool::Run() {
  for (;;) {
    BuiltMessage* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      job = queue_.front();
      queue_.pop_front();
    }
    job->Build(builder_, *job->request_);
    job->MarkDone();
  }
}

}  // namespace nexus
