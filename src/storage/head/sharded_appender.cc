#include "storage/head/sharded_appender.h"

#include <algorithm>

namespace liandu::storage::head {

sharded_appender::sharded_appender(size_t threads) : shards_(std::max<size_t>(1, threads)), totals_(shards_) {
  for (size_t i = 0; i < shards_; ++i) threads_.emplace_back([this, i] { work(i); });
}

sharded_appender::~sharded_appender() {
  finish();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void sharded_appender::add(head& h, uint32_t series, std::string_view field, const model::field_value_view& v,
                           int64_t time) {
  if (!current_) {
    std::lock_guard lock(mu_);
    if (!spare_.empty()) {
      current_ = std::move(spare_.back());
      spare_.pop_back();
    } else {
      current_ = std::make_unique<chunk>();
      current_->by_shard.resize(shards_);
      for (auto& v : current_->by_shard) v.reserve(chunk_values / shards_ + 64);
    }
  }
  // The slot and the field id are found here, on the one thread that may
  // grow h's tables.
  current_->by_shard[series % shards_].push_back({&h, &h.slot(series), time, v, h.field_id(field)});
  if (++current_->count >= chunk_values) publish();
}

void sharded_appender::publish() {
  if (!current_ || current_->count == 0) return;
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return queue_.size() < max_queued; });
  current_->workers_left = shards_;
  queue_.push_back(std::move(current_));
  lock.unlock();
  work_cv_.notify_all();
}

void sharded_appender::finish() {
  publish();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return queue_.empty(); });
  // Every worker finished every chunk under mu_, so their totals are ours.
  for (auto& per_worker : totals_) {
    for (auto& [h, t] : per_worker) h->add_totals(t.bytes, t.values, t.series);
    per_worker.clear();
  }
}

uint64_t sharded_appender::mark() {
  publish();
  std::lock_guard lock(mu_);
  return first_seq_ + queue_.size();
}

void sharded_appender::wait_applied(uint64_t mark) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return first_seq_ >= mark; });
}

void sharded_appender::work(size_t shard) {
  auto& mine = totals_[shard];
  uint64_t next_seq = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || next_seq < first_seq_ + queue_.size(); });
    if (next_seq >= first_seq_ + queue_.size()) return;  // stop_, nothing left
    chunk* c = queue_[next_seq - first_seq_].get();
    lock.unlock();
    // The last owner/totals pair is cached: a chunk rarely spans two heads.
    head* last_owner = nullptr;
    totals* t = nullptr;
    for (const value& v : c->by_shard[shard]) {
      if (v.owner != last_owner) {
        last_owner = v.owner;
        t = &mine[v.owner];
      }
      bool new_series = false;
      t->bytes += head::append_to(*v.series, v.field, v.v, v.time, new_series);
      t->values += 1;
      t->series += new_series;
    }
    lock.lock();
    ++next_seq;
    if (--c->workers_left == 0) {
      // Chunks finish in order: every worker takes them in order.
      auto done = std::move(queue_.front());
      queue_.pop_front();
      ++first_seq_;
      for (auto& v : done->by_shard) v.clear();
      done->count = 0;
      spare_.push_back(std::move(done));
      done_cv_.notify_all();
    }
  }
}

}  // namespace liandu::storage::head
