#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "storage/fs/file_util.h"
#include "storage/wal/wal_format.h"
#include "storage/wal/wal_reader.h"

namespace liandu::storage::wal {

// The write-ahead log: numbered segment files in one folder
// (`00000000000000000001.wal`, ...).
//
// Durability contract: append() only buffers a record; it is durable once
// sync(seq) has returned for its sequence number. sync() implements group
// commit: the first waiter becomes the leader, writes everything buffered so
// far and fsyncs once for all waiters.
//
// Thread safety: all methods may be called from any thread. Callers that need
// records in a given order (the engine) call append() under their own lock.
class writer {
 public:
  struct options {
    uint64_t segment_bytes = 64ull << 20;  // rotate after this many bytes
  };

  static result<std::unique_ptr<writer>> open(const std::string& dir, options opts);
  ~writer();

  // Replays every segment in order and truncates a torn tail of the last one,
  // so new records follow the last good one. Call once, before append().
  // The payloads passed to fn point into the segment's mapping, which is
  // handed to segment_done (if given) once the segment's records are read:
  // they stay valid as long as the caller keeps it. Without segment_done the
  // mapping goes when the segment is read.
  using segment_done_fn = std::function<void(std::unique_ptr<fs::mapped_file>)>;
  status replay(const record_fn& fn, replay_report& report, const segment_done_fn& segment_done = {});

  uint64_t append(record_type type, std::string_view payload);
  // Like append(), but the payload is written from where it is instead of
  // being copied into the buffer (a batch of 5,000 lines is ~0.5 MB, and the
  // copy was 2.5% of the server's CPU while ingesting). The caller must keep
  // the bytes alive and unchanged until sync(seq) has returned for the
  // sequence number this returns, as a writer waiting for its
  // acknowledgement does anyway.
  uint64_t append_borrowed(record_type type, std::string_view payload);
  void sync(uint64_t seq);

  // Closes the current segment (flushed and fsynced) and starts a new one.
  // Returns the id of the closed segment: every record appended before this
  // call is in a segment with an id at most that.
  uint64_t rotate();
  // Deletes segments with id <= last (after a checkpoint made them redundant).
  status remove_up_to(uint64_t last);

  uint64_t segment_count() const;
  uint64_t bytes_written() const;
  uint64_t fsync_count() const;
  uint64_t fsync_nanos() const;  // total time spent in fsync
  // Called with the duration of every fsync (for a latency histogram); runs
  // on the syncing writer's thread and must be cheap.
  void set_fsync_observer(std::function<void(uint64_t nanos)> fn);

 private:
  writer(std::string dir, options opts) : dir_(std::move(dir)), opts_(opts) {}
  std::string segment_path(uint64_t id) const;
  status open_segment(uint64_t id);
  void write_pending_locked(std::unique_lock<std::mutex>& lock);

  const std::string dir_;
  const options opts_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;  // encoded records not yet written
  // Payloads of pending records that append_borrowed() did not copy: each
  // goes at offset `at` of pending_ (right after its record header).
  struct borrowed_payload {
    size_t at;
    std::string_view bytes;
  };
  std::vector<borrowed_payload> borrowed_;
  std::vector<borrowed_payload> spare_borrowed_;
  // The buffer the last group was written from, kept (up to
  // max_spare_bytes of capacity) to become pending_ at the next write.
  std::string spare_;
  static constexpr size_t max_spare_bytes = 16u << 20;
  uint64_t appended_seq_ = 0;
  uint64_t durable_seq_ = 0;
  bool syncing_ = false;
  uint64_t first_segment_ = 1;
  uint64_t segment_id_ = 0;
  fs::append_file file_;
  uint64_t bytes_written_ = 0;
  uint64_t fsyncs_ = 0;
  uint64_t fsync_nanos_ = 0;
  std::function<void(uint64_t)> fsync_observer_;
};

}  // namespace liandu::storage::wal
