// libFuzzer target for the column decoders (storage/codec). The first byte
// picks the column type (low 3 bits) and, with the second, the value count;
// the rest is the encoding. When a decode succeeds, the values are encoded
// again and must decode to the same values (bit for bit for floats).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "storage/codec/bool_codec.h"
#include "storage/codec/float_codec.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/string_codec.h"
#include "storage/codec/timestamp_codec.h"

namespace {

using namespace liandu;
using namespace liandu::storage::codec;

void check(bool ok) {
  if (!ok) std::abort();
}

template <typename T, typename Encode, typename Decode>
void round_trip(std::string_view in, size_t n, Encode encode, Decode decode) {
  std::vector<T> values;
  status s = decode(in, n, values);
  if (!s.ok()) {
    check(values.empty() && s.code() == errc::corruption);
    return;
  }
  check(values.size() == n);
  std::string again;
  encode(values.data(), values.size(), again);
  std::vector<T> back;
  check(decode(again, n, back).ok());
  check(back.size() == n);
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<T, double>) {
      check(std::bit_cast<uint64_t>(back[i]) == std::bit_cast<uint64_t>(values[i]));
    } else {
      check(back[i] == values[i]);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int column = data[0] & 7;
  const size_t n = (static_cast<size_t>(data[0] >> 3) << 8) | data[1];  // 0..8191
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  switch (column) {
    case 0: round_trip<int64_t>(in, n, encode_timestamps, decode_timestamps); break;
    case 1: round_trip<double>(in, n, encode_floats, decode_floats); break;
    case 2: round_trip<int64_t>(in, n, encode_integers, decode_integers); break;
    case 3: round_trip<uint64_t>(in, n, encode_unsigneds, decode_unsigneds); break;
    case 4: round_trip<uint8_t>(in, n, encode_booleans, decode_booleans); break;
    case 5: round_trip<std::string>(in, n, encode_strings, decode_strings); break;
    default: break;
  }
  return 0;
}
