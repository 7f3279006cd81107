#include "storage/wal/wal_reader.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "base/coding.h"
#include "base/crc32c.h"

namespace liandu::storage::wal {

namespace {

// Returns the record length when a whole, checksummed record starts at pos.
bool record_at(std::string_view data, size_t pos, uint32_t& length) {
  if (data.size() - pos < record_header_bytes) return false;
  uint32_t crc = get_fixed32(data.data() + pos);
  length = get_fixed32(data.data() + pos + 4);
  if (length > max_record_bytes || length > data.size() - pos - record_header_bytes) return false;
  uint32_t actual = crc32c(data.data() + pos + 8, 1 + length);
  return actual == crc;
}

}  // namespace

replay_report read_segment(std::string_view data, const std::string& name, const record_fn& fn) {
  replay_report report;
  size_t pos = 0;
  while (pos < data.size()) {
    uint32_t length = 0;
    if (record_at(data, pos, length)) {
      auto type = static_cast<record_type>(static_cast<uint8_t>(data[pos + 8]));
      fn(type, data.substr(pos + record_header_bytes, length));
      ++report.records;
      pos += record_header_bytes + length;
      report.valid_end = pos;
      continue;
    }
    // Not a valid record here: find the next one. If none follows, this is a
    // torn tail; otherwise a corrupt record in the middle.
    size_t next = pos + 1;
    while (next < data.size() && !record_at(data, next, length)) ++next;
    if (next >= data.size()) {
      report.torn_tail = true;
      report.skipped_bytes += data.size() - pos;
      report.messages.push_back(name + ": torn or corrupt tail at offset " + std::to_string(pos) + " (" +
                                std::to_string(data.size() - pos) + " bytes dropped)");
      break;
    }
    ++report.corrupt_records;
    report.skipped_bytes += next - pos;
    report.messages.push_back(name + ": corrupt record at offset " + std::to_string(pos) + " (" +
                              std::to_string(next - pos) + " bytes skipped)");
    pos = next;
  }
  return report;
}

replay_report read_segment_pipelined(std::string_view data, const std::string& name, const record_fn& fn) {
  struct record_ref {
    record_type type;
    std::string_view payload;
  };
  // Records travel in chunks so that the two threads meet on the mutex once
  // per chunk, not once per record; a chunk is handed over at 256 records or
  // 256 KiB of payload, whichever comes first (a write record often holds
  // 5,000 points, half a megabyte: by count alone a whole segment would be
  // checked before the first record was applied).
  constexpr size_t chunk_records = 256;
  constexpr size_t chunk_bytes = 256 << 10;
  std::mutex mu;
  std::condition_variable ready;
  std::vector<std::vector<record_ref>> chunks;  // verified, not yet applied
  bool done = false;
  replay_report report;

  std::thread checker([&] {
    std::vector<record_ref> chunk;
    chunk.reserve(chunk_records);
    size_t bytes = 0;
    auto publish = [&] {
      std::lock_guard lock(mu);
      chunks.push_back(std::move(chunk));
      ready.notify_one();
    };
    replay_report r = read_segment(data, name, [&](record_type t, std::string_view payload) {
      chunk.push_back({t, payload});
      bytes += payload.size();
      if (chunk.size() == chunk_records || bytes >= chunk_bytes) {
        publish();
        chunk = {};
        chunk.reserve(chunk_records);
        bytes = 0;
      }
    });
    std::lock_guard lock(mu);
    if (!chunk.empty()) chunks.push_back(std::move(chunk));
    report = std::move(r);
    done = true;
    ready.notify_one();
  });

  std::vector<std::vector<record_ref>> taken;
  for (;;) {
    {
      std::unique_lock lock(mu);
      ready.wait(lock, [&] { return done || !chunks.empty(); });
      if (chunks.empty()) break;  // done, and everything applied
      taken.swap(chunks);
    }
    for (const auto& chunk : taken) {
      for (const auto& rec : chunk) fn(rec.type, rec.payload);
    }
    taken.clear();
  }
  checker.join();
  return report;
}

}  // namespace liandu::storage::wal
