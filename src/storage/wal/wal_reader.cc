#include "storage/wal/wal_reader.h"

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

replay_report read_segment(std::string_view data, const std::string& segment_name, const record_fn& fn) {
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
      report.messages.push_back("wal " + segment_name + ": torn or corrupt tail at offset " + std::to_string(pos) +
                                " (" + std::to_string(data.size() - pos) + " bytes dropped)");
      break;
    }
    ++report.corrupt_records;
    report.skipped_bytes += next - pos;
    report.messages.push_back("wal " + segment_name + ": corrupt record at offset " + std::to_string(pos) + " (" +
                              std::to_string(next - pos) + " bytes skipped)");
    pos = next;
  }
  return report;
}

}  // namespace liandu::storage::wal
