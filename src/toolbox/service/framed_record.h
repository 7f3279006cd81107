#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace liandu::toolbox {

// One record in the WAL's framing (storage/wal/wal_format.h, docs/formats/wal.md):
// crc32c of type and payload, payload length, type, payload. The service's
// own logs (webhook_log, alert_state_log) use it so that the WAL's reader
// (storage::wal::read_segment) replays them, skipping damaged records.
std::string framed_record(uint8_t type, std::string_view payload);

}  // namespace liandu::toolbox
