#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/wal/wal_format.h"

namespace liandu::storage::wal {

// What replay found besides good records: a torn tail (a crash during an
// append) or corruption in the middle (a flipped bit on disk). Corrupt bytes
// are skipped by scanning forward for the next record whose checksum holds, so
// one bad record costs only itself.
struct replay_report {
  size_t records = 0;
  size_t corrupt_records = 0;
  uint64_t skipped_bytes = 0;
  bool torn_tail = false;
  uint64_t valid_end = 0;  // offset just past the last good record
  std::vector<std::string> messages;
};

using record_fn = std::function<void(record_type, std::string_view payload)>;

// Reads every intact record of one segment's bytes in order. `name` starts
// each message ("wal 00000000000000000001: torn or corrupt tail at offset
// ..."). Other append-only files in the same framing use it too (the
// webhook log).
replay_report read_segment(std::string_view data, const std::string& name, const record_fn& fn);

// The same records and report as read_segment, but checksums are verified
// (and the mapped pages first touched) on a helper thread that runs ahead,
// while fn is called on the calling thread, in order. At start-up that work
// was a quarter of the replaying thread's time. fn must not throw.
replay_report read_segment_pipelined(std::string_view data, const std::string& name, const record_fn& fn);

}  // namespace liandu::storage::wal
