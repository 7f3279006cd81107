#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "storage/fs/file_util.h"

namespace liandu::toolbox {

// The webhook deliveries not yet delivered nor given up, kept on disk so that
// they survive a restart or a crash (at least once: a delivery whose end was
// not yet on disk is made again). One append-only file,
// <rules dir>/webhooks.log, in the WAL's record framing (crc32c, length,
// type, payload; replayed by the WAL's reader, which skips a corrupt record
// and drops a torn tail). Byte-level spec: docs/formats/webhook_log.md.
//
//   enqueue (type 4)   id, attempts, delivery id, target, body
//   end     (type 2)   id, how (delivered, given up, refused)
//   attempt (type 3)   id, attempts (failed so far)
//   enqueue (type 1)   id, attempts, target, body: version 1, read only
//
// The delivery id (rules::new_delivery_id(), sent as X-Liandu-Delivery-Id)
// is written with the delivery, so it is the same on every attempt, after
// restarts too. A version 1 delivery, which has none, gets a new one at
// open(), which then rewrites the file (as for compaction) so that it keeps
// it from then on.
//
// Durability: append() returns once its record is written and fdatasynced,
// so an alert is queued only when it is on disk. end() and attempted() write
// their record at once (a process crash keeps it) and leave the fdatasync to
// the next append(), sync() or compaction (a power loss may forget it: the
// delivery is made again, or gets the attempts it had lost again).
//
// Compaction: when an end() or attempted() leaves the file past options.compact_bytes and
// more than twice the bytes of its pending records, it is rewritten
// atomically (temp file, fsync, rename) with only the pending deliveries, in
// their order, each with its failed attempts. open() compacts at once when
// the file holds anything else (ended deliveries, attempt records, damaged
// bytes), so new records never follow a damaged one.
//
// Ids are given in append order, so the pending deliveries in id order are in
// the order they were queued (per target too). A delivery keeps its id across
// compactions and restarts. Ids are not unique across restarts (once all
// deliveries ended, the next start counts from 1 again): receivers get the
// delivery id instead.
//
// Thread-safe: every method may be called from any thread.
class webhook_log {
 public:
  struct options {
    uint64_t compact_bytes = 4 << 20;
  };
  struct delivery {
    uint64_t id = 0;
    std::string target;
    std::string body;
    int attempts = 0;  // failed attempts
    std::string delivery_id;
  };
  enum class end_kind : uint8_t {
    delivered = 1,
    given_up = 2,  // failed its last attempt
    refused = 3,   // not queued after all (the delivery queue was full)
  };
  struct counters {
    uint64_t appended = 0;
    uint64_t ended = 0;
    uint64_t compactions = 0;
    uint64_t file_bytes = 0;
    size_t pending = 0;
  };

  // Replays path (missing: empty). Damaged records are dropped, each with a
  // line in messages(); everything before and after them is kept. Errors:
  // I/O errors reading or rewriting the file.
  static result<std::unique_ptr<webhook_log>> open(const std::string& path, options o);
  static result<std::unique_ptr<webhook_log>> open(const std::string& path) { return open(path, options()); }

  // The deliveries that open() found pending, in the order they were queued.
  const std::vector<delivery>& restored() const { return restored_; }
  // What open() dropped and why ("<path>: corrupt record at offset 120 ...").
  const std::vector<std::string>& messages() const { return messages_; }

  // Appends an enqueue record for target, body and delivery_id (not empty),
  // fdatasyncs it and returns its id. Errors: invalid_argument (an empty
  // delivery_id), I/O errors (the delivery is not kept).
  result<uint64_t> append(std::string_view target, std::string_view body, std::string_view delivery_id);
  // Appends an attempt record: delivery id has failed `attempts` times (not
  // synced, see above); compacts when due. Errors: I/O errors (a restart may
  // give the delivery more attempts than it had left).
  status attempted(uint64_t id, int attempts);
  // Appends an end record for id (not synced, see above); compacts when due.
  // Unknown ids (0, or ended already) are ignored. Errors: I/O errors (the
  // delivery may be made again after a restart).
  status end(uint64_t id, end_kind how);
  // fdatasyncs what end() wrote since the last sync.
  void sync();
  counters stats() const;

 private:
  explicit webhook_log(std::string path, options o) : path_(std::move(path)), options_(o) {}
  status compact_locked();
  status append_unsynced_locked(std::string_view record);

  const std::string path_;
  const options options_;
  std::vector<delivery> restored_;
  std::vector<std::string> messages_;

  mutable std::mutex mu_;
  storage::fs::append_file file_;         // guarded by mu_
  std::map<uint64_t, delivery> pending_;  // guarded by mu_; by id, i.e. in queue order
  uint64_t pending_bytes_ = 0;            // guarded by mu_; their records' size
  uint64_t next_id_ = 1;                  // guarded by mu_
  bool unsynced_ = false;                 // guarded by mu_
  counters stats_;                        // guarded by mu_
};

}  // namespace liandu::toolbox
