#include "storage/codec/zstd_frame.h"

#include <zstd.h>

#include "base/coding.h"

namespace liandu::storage::codec {

namespace {
// Fast enough for checkpoints and compactions; higher levels gained little
// on columns and block indexes.
constexpr int zstd_level = 3;
}  // namespace

bool append_zstd_if_smaller(std::string_view raw, size_t budget, std::string& out) {
  const size_t at = out.size();
  put_varint(out, raw.size());
  const size_t header = out.size() - at;
  out.resize(at + header + ZSTD_compressBound(raw.size()));
  const size_t size =
      ZSTD_compress(out.data() + at + header, out.size() - at - header, raw.data(), raw.size(), zstd_level);
  if (!ZSTD_isError(size) && header + size < budget) {
    out.resize(at + header + size);
    return true;
  }
  out.resize(at);
  return false;
}

status read_zstd(std::string_view in, size_t limit, size_t base, std::string& out) {
  std::string_view p = in;
  uint64_t size = 0;
  if (!get_varint(p, size) || size == 0 || size > limit) {
    return status(errc::corruption, "bad decompressed size at byte " + std::to_string(base));
  }
  const size_t at = base + (in.size() - p.size());
  // The frame must declare the same size, so a forged frame cannot make us
  // decompress more than we allocated (zstd checks dst capacity too).
  if (ZSTD_getFrameContentSize(p.data(), p.size()) != size) {
    return status(errc::corruption, "frame at byte " + std::to_string(at) + " does not declare " +
                                        std::to_string(size) + " bytes");
  }
  out.assign(size, '\0');
  const size_t got = ZSTD_decompress(out.data(), out.size(), p.data(), p.size());
  if (ZSTD_isError(got) || got != size) {
    return status(errc::corruption, "frame at byte " + std::to_string(at) + ": " +
                                        (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short"));
  }
  return status();
}

}  // namespace liandu::storage::codec
