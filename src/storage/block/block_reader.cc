#include "storage/block/block_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/coding.h"
#include "base/crc32c.h"
#include "storage/block/block_format.h"
#include "storage/codec/bool_codec.h"
#include "storage/codec/codec_limits.h"
#include "storage/codec/float_codec.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/string_codec.h"
#include "storage/codec/timestamp_codec.h"
#include "storage/codec/zstd_frame.h"

namespace liandu::storage::block {

result<std::unique_ptr<block_reader>> block_reader::open(const std::string& path) {
  std::unique_ptr<block_reader> r(new block_reader());
  r->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(errc::io_error, "open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return error(errc::io_error, "stat " + path + ": " + std::strerror(errno));
  }
  r->size_ = static_cast<size_t>(st.st_size);
  if (r->size_ > 0) {
    void* m = ::mmap(nullptr, r->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return error(errc::io_error, "mmap " + path + ": " + std::strerror(errno));
    }
    r->map_ = m;
    r->data_ = static_cast<const char*>(m);
  }
  ::close(fd);
  LIANDU_RETURN_IF_ERROR(r->parse());
  return r;
}

result<std::unique_ptr<block_reader>> block_reader::open_bytes(std::string bytes) {
  std::unique_ptr<block_reader> r(new block_reader());
  r->path_ = "<memory>";
  r->owned_ = std::move(bytes);
  r->data_ = r->owned_.data();
  r->size_ = r->owned_.size();
  LIANDU_RETURN_IF_ERROR(r->parse());
  return r;
}

block_reader::~block_reader() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

status block_reader::parse() {
  auto bad = [&](const std::string& what) { return error(errc::corruption, "block " + path_ + ": " + what); };
  if (size_ < header_bytes + footer_bytes) return bad("file too small");
  if (std::memcmp(data_, header_magic, 4) != 0) return bad("bad header magic");
  const uint32_t version = get_fixed32(data_ + 4);
  if (version != format_version && version != format_version_plain_index) {
    return bad("unsupported format version " + std::to_string(version));
  }
  const char* f = data_ + size_ - footer_bytes;
  if (std::memcmp(f + 20, footer_magic, 8) != 0) return bad("bad footer magic");
  uint64_t index_offset = get_fixed64(f);
  uint32_t index_len = get_fixed32(f + 8);
  uint32_t index_crc = get_fixed32(f + 12);
  uint32_t count = get_fixed32(f + 16);
  if (index_offset < header_bytes || index_offset > size_ - footer_bytes ||
      index_len != size_ - footer_bytes - index_offset) {
    return bad("bad index position");
  }
  if (crc32c(data_ + index_offset, index_len) != index_crc) return bad("index checksum mismatch");
  std::string_view in(data_ + index_offset, index_len);
  std::string inflated;
  if (version != format_version_plain_index) {
    if (in.empty()) return bad("empty index");
    const auto kind = static_cast<index_kind>(static_cast<uint8_t>(in.front()));
    in.remove_prefix(1);
    if (kind == index_kind::zstd) {
      // Bounded like a column's zstd frame: a forged size allocates no more.
      status s = codec::read_zstd(in, codec::max_column_bytes, index_offset + 1, inflated);
      if (!s.ok()) return bad("index: " + s.message());
      in = inflated;
    } else if (kind != index_kind::plain) {
      return bad("unknown index kind " + std::to_string(static_cast<int>(kind)));
    }
  }
  if (count > in.size()) return bad("bad entry count");
  entries_.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    entry e;
    uint64_t sid, n, zmin, zmax, off, tl, vl;
    std::string_view field;
    if (!get_varint(in, sid) || !get_string(in, field) || in.empty()) return bad("truncated index entry");
    e.type = static_cast<model::field_type>(static_cast<uint8_t>(in.front()));
    in.remove_prefix(1);
    if (!get_varint(in, n) || !get_varint(in, zmin) || !get_varint(in, zmax) || !get_varint(in, off) ||
        !get_varint(in, tl) || !get_varint(in, vl) || in.size() < 4) {
      return bad("truncated index entry");
    }
    e.crc = get_fixed32(in.data());
    in.remove_prefix(4);
    if (sid == 0 || sid > UINT32_MAX || n == 0 || n > UINT32_MAX || off < header_bytes || tl > index_offset ||
        vl > index_offset || off > index_offset - tl - vl) {
      return bad("index entry " + std::to_string(i) + " out of range");
    }
    e.series_id = static_cast<uint32_t>(sid);
    e.field = std::string(field);
    e.count = static_cast<uint32_t>(n);
    e.min_time = zigzag_decode(zmin);
    e.max_time = zigzag_decode(zmax);
    e.offset = off;
    e.times_length = static_cast<uint32_t>(tl);
    e.values_length = static_cast<uint32_t>(vl);
    switch (e.type) {
      case model::field_type::float64: {
        if (in.size() < 16) return bad("truncated stats");
        uint64_t a = get_fixed64(in.data()), b = get_fixed64(in.data() + 8);
        std::memcpy(&e.min_value, &a, 8);
        std::memcpy(&e.max_value, &b, 8);
        in.remove_prefix(16);
        break;
      }
      case model::field_type::int64: {
        uint64_t a, b;
        if (!get_varint(in, a) || !get_varint(in, b)) return bad("truncated stats");
        e.min_value = static_cast<double>(zigzag_decode(a));
        e.max_value = static_cast<double>(zigzag_decode(b));
        break;
      }
      case model::field_type::uint64: {
        uint64_t a, b;
        if (!get_varint(in, a) || !get_varint(in, b)) return bad("truncated stats");
        e.min_value = static_cast<double>(a);
        e.max_value = static_cast<double>(b);
        break;
      }
      case model::field_type::boolean:
      case model::field_type::string: break;
      default: return bad("unknown field type in entry " + std::to_string(i));
    }
    if (!entries_.empty()) {
      const entry& p = entries_.back();
      bool continues = p.series_id == e.series_id && p.field == e.field && p.max_time < e.min_time;
      if (!continues && (p.series_id > e.series_id || (p.series_id == e.series_id && p.field >= e.field))) {
        return bad("index entries out of order");
      }
    }
    min_time_ = std::min(min_time_, e.min_time);
    max_time_ = std::max(max_time_, e.max_time);
    entries_.push_back(std::move(e));
  }
  return {};
}

const entry* block_reader::find(uint32_t series_id, std::string_view field) const {
  auto [lo, hi] = series_range(series_id);
  for (size_t i = lo; i < hi; ++i) {
    if (entries_[i].field == field) return &entries_[i];
  }
  return nullptr;
}

std::vector<const entry*> block_reader::entries_of(uint32_t series_id, std::string_view field) const {
  std::vector<const entry*> out;
  auto [lo, hi] = series_range(series_id);
  for (size_t i = lo; i < hi; ++i) {
    if (entries_[i].field == field) out.push_back(&entries_[i]);
  }
  return out;
}

std::pair<size_t, size_t> block_reader::series_range(uint32_t series_id) const {
  auto lo = std::lower_bound(entries_.begin(), entries_.end(), series_id,
                             [](const entry& e, uint32_t id) { return e.series_id < id; });
  auto hi = lo;
  while (hi != entries_.end() && hi->series_id == series_id) ++hi;
  return {static_cast<size_t>(lo - entries_.begin()), static_cast<size_t>(hi - entries_.begin())};
}

status block_reader::read_times(const entry& e, std::vector<int64_t>& out) const {
  std::string_view bytes(data_ + e.offset, e.times_length + e.values_length);
  if (crc32c(bytes.data(), bytes.size()) != e.crc) {
    return error(errc::corruption,
                 "block " + path_ + ": column checksum mismatch at offset " + std::to_string(e.offset));
  }
  return codec::decode_timestamps(bytes.substr(0, e.times_length), e.count, out);
}

status block_reader::read(const entry& e, column& out) const {
  if (out.size() > 0 && out.type != e.type) return error(errc::conflict, "field type differs between blocks");
  out.type = e.type;
  LIANDU_RETURN_IF_ERROR(read_times(e, out.times));
  std::string_view values(data_ + e.offset + e.times_length, e.values_length);
  status s;
  switch (e.type) {
    case model::field_type::float64: s = codec::decode_floats(values, e.count, out.floats); break;
    case model::field_type::int64: s = codec::decode_integers(values, e.count, out.integers); break;
    case model::field_type::uint64: s = codec::decode_unsigneds(values, e.count, out.unsigneds); break;
    case model::field_type::boolean: s = codec::decode_booleans(values, e.count, out.booleans); break;
    case model::field_type::string: s = codec::decode_strings(values, e.count, out.strings); break;
  }
  if (!s.ok()) return error(errc::corruption, "block " + path_ + ": " + s.message());
  return {};
}

}  // namespace liandu::storage::block
