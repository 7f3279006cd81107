#include "storage/codec/timestamp_codec.h"

#include "storage/codec/codec_limits.h"
#include "storage/codec/integer_codec.h"

namespace liandu::storage::codec {

void encode_timestamps(const int64_t* values, size_t n, std::string& out) {
  encode_integer_column(reinterpret_cast<const uint64_t*>(values), n, true, out);
}

status decode_timestamps(std::string_view in, size_t n, std::vector<int64_t>& out) {
  if (n > max_column_values) return decode_integer_column(in, n, true, "timestamp", nullptr);
  const size_t old = out.size();
  out.resize(old + n);
  status s = decode_integer_column(in, n, true, "timestamp", reinterpret_cast<uint64_t*>(out.data() + old));
  if (!s.ok()) out.resize(old);
  return s;
}

}  // namespace liandu::storage::codec
