#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "model/point.h"
#include "storage/column.h"
#include "storage/write_batch.h"

namespace liandu::storage::head {
class sharded_appender;
class head_column;
}  // namespace liandu::storage::head

namespace liandu::storage {

namespace wal {
class writer;
}

struct engine_options {
  std::string data_dir;
  // Head size that starts a flush to blocks. Two heads (the one being
  // written and the new one) are most of the peak memory while ingesting;
  // 16 MiB keeps it at about a third of InfluxDB's on the trucks benchmark.
  // The small blocks this leaves are merged by size-tiered compaction.
  size_t checkpoint_bytes = 16ull << 20;
  size_t head_memory_limit = 512ull << 20;  // writes answer limit_exceeded above this
  size_t max_series_per_database = 1000000;
  uint64_t wal_segment_bytes = 64ull << 20;
  // A partition with more blocks is compacted, size-tiered
  // (compaction/compaction_policy.h); 0 merges every block into one.
  size_t compact_after_blocks = 8;
  bool background = true;  // background checkpoint and retention thread
  int64_t background_interval_ms = 1000;
};

struct retention_policy {
  std::string name;
  int64_t duration_ns = 0;        // 0 = keep forever
  int64_t shard_duration_ns = 0;  // partition width; 0 = chosen from duration
  int replication = 1;
};

// Partition width InfluxDB picks for a retention duration.
int64_t default_shard_duration(int64_t duration_ns);

struct rejected_point {
  size_t index = 0;  // position in the batch
  std::string message;
};

struct write_result {
  status st;  // not ok: nothing was written (database not found, over budget, ...)
  size_t points_written = 0;
  std::vector<rejected_point> rejected;  // points refused while the others were written
};

struct series_ref {
  uint32_t id = 0;
  std::string key;
};

struct engine_stats {
  uint64_t points_written = 0;
  uint64_t values_written = 0;
  uint64_t bytes_written = 0;  // batch bytes accepted
  uint64_t wal_fsyncs = 0;
  uint64_t wal_fsync_nanos = 0;
  uint64_t wal_bytes = 0;
  uint64_t head_bytes = 0;
  uint64_t checkpoints = 0;
  uint64_t compactions = 0;
  uint64_t block_files = 0;
  uint64_t block_bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> series_per_database;
  uint64_t index_bytes = 0;
};

struct recovery_report {
  size_t wal_records = 0;
  size_t points = 0;
  size_t series = 0;
  std::vector<std::string> messages;  // torn tails, corrupt records, skipped batches
};

// The storage engine: databases with retention policies, each split into time
// partitions; a partition is an in-memory head plus immutable block files.
//
// Write path: write() validates a batch (field types, cardinality), appends it
// to the WAL and the heads under the engine lock, then waits for the WAL group
// commit; it returns only once the batch is durable. A checkpoint later
// freezes the heads, writes them as block files, persists the series index and
// removes WAL segments that are no longer needed.
//
// Thread safety: every public method may be called from any thread.
class engine {
 public:
  static result<std::unique_ptr<engine>> open(engine_options opts);
  ~engine();  // stops background work; does not checkpoint (the WAL has everything)

  const recovery_report& recovery() const { return recovery_; }

  // --- databases and retention policies ---
  std::vector<std::string> databases() const;
  bool has_database(std::string_view db) const;
  status create_database(std::string_view db, const retention_policy* rp = nullptr);
  status drop_database(std::string_view db);
  result<std::vector<std::pair<retention_policy, bool /*default*/>>> retention_policies(
      std::string_view db) const;
  status create_retention_policy(std::string_view db, const retention_policy& rp, bool make_default);
  status alter_retention_policy(std::string_view db, const retention_policy& rp, bool make_default);
  status drop_retention_policy(std::string_view db, std::string_view rp);

  // --- writes ---
  write_result write(const write_batch& batch);

  // The stream bus hook: called after every write() once its points are
  // durable, with the encoded batch of the accepted points (a write_batch
  // payload; read it with batch_reader). Runs on the writer's thread, outside
  // the engine lock, so it must be quick (hand off to a queue). Set before
  // writes start.
  using write_observer = std::function<void(std::string_view batch_payload)>;
  void set_write_observer(write_observer fn) { observer_ = std::move(fn); }
  // Called with the duration of every WAL fsync, in nanoseconds.
  void set_fsync_observer(std::function<void(uint64_t nanos)> fn);

  // --- index ---
  result<std::vector<std::string>> measurements(std::string_view db) const;
  result<std::vector<std::pair<std::string, model::field_type>>> field_keys(
      std::string_view db, std::string_view measurement) const;
  result<std::vector<std::string>> tag_keys(std::string_view db, std::string_view measurement) const;
  result<std::vector<series_ref>> series(std::string_view db, std::string_view measurement) const;
  // The series index's generation (series_index::generation): equal values
  // mean series() and tag_values() answer as before.
  result<uint64_t> series_generation(std::string_view db) const;
  result<std::vector<std::pair<std::string, std::vector<uint32_t>>>> tag_values(std::string_view db,
                                                                                std::string_view measurement,
                                                                                std::string_view key) const;
  result<std::vector<uint32_t>> series_with_tag(std::string_view db, std::string_view measurement,
                                                std::string_view key, std::string_view value) const;

  // --- reads ---
  // One field of one series in [min_time, max_time], sorted by time, one
  // value per time (last write wins), appended to out.
  status scan(std::string_view db, std::string_view rp, uint32_t series_id, std::string_view field,
              int64_t min_time, int64_t max_time, column& out) const;
  // The newest (newest = true) or the oldest point that scan() would return
  // for the same arguments, as a column of one point; out is left empty when
  // there is none. Reads the head columns and only the block columns that can
  // hold the point, so last() of a series costs one column, not all of them.
  status scan_edge(std::string_view db, std::string_view rp, uint32_t series_id, std::string_view field,
                   int64_t min_time, int64_t max_time, bool newest, column& out) const;
  // The number of points scan() would return for the same arguments and their
  // type (meaningful when count > 0). A block column wholly inside the range
  // is counted from the block index, without decoding, when no other source
  // overlaps it and no delete applies; values are never decoded.
  status count(std::string_view db, std::string_view rp, uint32_t series_id, std::string_view field,
               int64_t min_time, int64_t max_time, model::field_type& type, uint64_t& count) const;

  // --- deletes (durable on return) ---
  status delete_series(std::string_view db, const std::vector<uint32_t>& ids, int64_t min_time,
                       int64_t max_time);
  status drop_measurement(std::string_view db, std::string_view measurement);

  // --- maintenance ---
  status checkpoint();  // flush every head to blocks, truncate the WAL
  status enforce_retention(int64_t now_ns);
  engine_stats stats() const;
  size_t head_bytes() const;

  struct database;
  struct partition;
  struct rp_state;
  struct read_plan;

 private:
  explicit engine(engine_options opts);
  status load();
  status save_meta_locked();
  // key_hashes: index::series_index::key_hash of each point's key, in order
  // (write_batch::key_hashes), or null to hash them here.
  void apply_batch_locked(database& db, rp_state& rp, std::string_view payload, const write_batch* live,
                          std::vector<rejected_point>* rejected, std::vector<std::pair<size_t, size_t>>* keep,
                          bool enforce_limits, size_t& points, size_t& values,
                          head::sharded_appender* appender = nullptr);
  void apply_delete_locked(database& db, const std::vector<uint32_t>& ids, int64_t min_time,
                           int64_t max_time);
  void replay_record(uint8_t type, std::string_view payload, head::sharded_appender& appender);
  // The sources of one field of one series in [lo, hi], partition by
  // partition; calls on_active(part, column) for the active head's column
  // under the lock (the only time it may be read).
  status plan_read(std::string_view name, std::string_view rpname, uint32_t series_id, std::string_view field,
                   int64_t lo, int64_t hi, read_plan& plan,
                   const std::function<void(size_t part, const head::head_column& active)>& on_active) const;
  status compact(const std::shared_ptr<partition>& p, const std::shared_ptr<database>& db);
  void background_loop();
  database* find_db_locked(std::string_view db) const;

  engine_options opts_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<database>, std::less<>> dbs_;
  uint64_t next_block_seq_ = 1;
  std::unique_ptr<wal::writer> wal_;
  std::mutex checkpoint_mu_;
  recovery_report recovery_;

  std::atomic<uint64_t> points_written_{0}, values_written_{0}, bytes_written_{0}, checkpoints_{0},
      compactions_{0};
  std::atomic<size_t> head_bytes_{0};

  write_observer observer_;
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;
  std::thread bg_;
};

}  // namespace liandu::storage
