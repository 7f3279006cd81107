#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/head/head.h"

namespace liandu::storage::head {

// Appends values to heads on several threads, each thread owning the series
// whose id falls in its shard (id % threads), while the caller goes on
// decoding. WAL replay is bound by the cache misses of appending to tens of
// thousands of columns, not by decoding, and series are independent: one
// series always lands on the same thread, so its values keep their order.
//
// The caller queues values with add() and calls finish() before anything
// else reads or writes the heads it named; between finish() calls the heads
// belong to the appender. String values must stay valid until they are
// applied (finish() or wait_applied() has returned; replay keeps each WAL
// segment mapped until then); field names are interned by add().
//
// Thread safety: add() and finish() from one thread.
class sharded_appender {
 public:
  explicit sharded_appender(size_t threads);
  ~sharded_appender();
  sharded_appender(const sharded_appender&) = delete;
  sharded_appender& operator=(const sharded_appender&) = delete;

  void add(head& h, uint32_t series, std::string_view field, const model::field_value_view& v, int64_t time);
  // Waits until every queued value is in its head and adds the counts.
  void finish();
  // Hands over what add() has gathered and returns a mark for it;
  // wait_applied(mark) returns once every value added before mark() is in its
  // head. Lets replay release a WAL segment without draining the queue (and
  // idling both sides) at every segment end. Counts are added by finish().
  uint64_t mark();
  void wait_applied(uint64_t mark);

 private:
  struct value {
    head* owner;
    series_head* series;
    int64_t time;
    model::field_value_view v;
    uint32_t field;  // head::field_id
  };
  // Values split by shard on the caller's thread, so each worker reads only
  // its own (it used to scan every value and skip the others').
  struct chunk {
    std::vector<std::vector<value>> by_shard;
    size_t count = 0;
    size_t workers_left = 0;  // guarded by mu_
  };
  struct totals {
    size_t bytes = 0, values = 0, series = 0;
  };

  void publish();
  void work(size_t shard);

  // 4,096 values (≈ 300 KB) per hand-off; at most 8 chunks queued.
  static constexpr size_t chunk_values = 4096;
  static constexpr size_t max_queued = 8;

  const size_t shards_;  // set before the threads start: they read it
  std::vector<std::thread> threads_;
  std::unique_ptr<chunk> current_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // workers: a chunk was published, or stop
  std::condition_variable done_cv_;  // caller: a chunk was finished
  // Published chunks not yet finished by every worker; chunk seq `first_seq_`
  // is queue_.front().
  std::deque<std::unique_ptr<chunk>> queue_;               // guarded by mu_
  uint64_t first_seq_ = 0;                                 // guarded by mu_
  std::vector<std::unique_ptr<chunk>> spare_;              // guarded by mu_
  bool stop_ = false;                                      // guarded by mu_
  std::vector<std::unordered_map<head*, totals>> totals_;  // one per worker; read after finish
};

}  // namespace liandu::storage::head
