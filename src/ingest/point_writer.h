#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "ingest/line_protocol.h"
#include "storage/engine.h"

namespace liandu::ingest {

// What a line-protocol write did: how many points are durable, and why the
// others were refused (bad lines, field type conflicts, limits).
struct write_outcome {
  status st;  // not ok: nothing written (database missing, over memory budget)
  size_t points_written = 0;
  size_t points_dropped = 0;  // valid lines refused by storage
  std::vector<line_error> parse_errors;
  std::vector<std::string> storage_errors;
  bool partial() const { return !parse_errors.empty() || !storage_errors.empty(); }
  // InfluxDB 1.8's text for a partial write:
  // "partial write: <reasons, one per line> dropped=N".
  std::string partial_message(std::string_view body) const;
};

// Parses a line-protocol body and writes its valid points to the engine as one
// batch. Returns once they are durable (WAL fsync). Lines that fail to parse
// are reported and skipped; the valid ones are written.
write_outcome write_line_protocol(storage::engine& engine, std::string_view db, std::string_view rp,
                                  model::precision precision, std::string_view body, int64_t now_ns,
                                  const line_protocol_limits& limits = {});

}  // namespace liandu::ingest
