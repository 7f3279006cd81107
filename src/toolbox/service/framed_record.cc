#include "toolbox/service/framed_record.h"

#include "base/coding.h"
#include "base/crc32c.h"
#include "storage/wal/wal_format.h"

namespace liandu::toolbox {

std::string framed_record(uint8_t type, std::string_view payload) {
  std::string out;
  out.reserve(storage::wal::record_header_bytes + payload.size());
  put_fixed32(out, crc32c(payload.data(), payload.size(), crc32c(&type, 1)));
  put_fixed32(out, static_cast<uint32_t>(payload.size()));
  out.push_back(static_cast<char>(type));
  out.append(payload);
  return out;
}

}  // namespace liandu::toolbox
