#include "http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace liandu::http {

namespace {

// 16 + MAX_WBITS selects the gzip wrapper (not zlib or raw deflate).
constexpr int gzip_window_bits = 16 + MAX_WBITS;
constexpr size_t chunk_bytes = 64 * 1024;

class inflater {
 public:
  inflater() { ok_ = inflateInit2(&zs_, gzip_window_bits) == Z_OK; }
  ~inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream& stream() { return zs_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
};

}  // namespace

result<std::string> gunzip(std::string_view in, size_t max_bytes) {
  inflater inf;
  if (!inf.ok()) return error(errc::internal, "gzip: cannot initialise zlib");
  if (in.size() > std::numeric_limits<uInt>::max())
    return error(errc::limit_exceeded, "gzip: body too large");
  z_stream& zs = inf.stream();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  for (;;) {
    size_t room = std::min(chunk_bytes, max_bytes - out.size() + 1);  // +1: detect going over
    size_t old = out.size();
    out.resize(old + room);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(room);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + (room - zs.avail_out));
    if (out.size() > max_bytes)
      return error(errc::limit_exceeded, "gzip: decompressed body exceeds the limit");
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) return out;
      // Another member may follow (concatenated gzip files).
      if (inflateReset(&zs) != Z_OK) return error(errc::internal, "gzip: reset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0)
      return error(errc::parse_error, "gzip: unexpected end of data");
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return error(errc::parse_error, std::string("gzip: ") + (zs.msg ? zs.msg : "invalid data"));
    }
  }
}

std::string gzip_compress(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace liandu::http
