#include "storage/codec/string_codec.h"

#include <algorithm>
#include <cassert>
#include <unordered_map>

#include "base/coding.h"
#include "base/result.h"
#include "storage/codec/codec_limits.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/zstd_frame.h"

namespace liandu::storage::codec {
namespace {

// Smaller encodings are not worth a zstd frame header (about a dozen bytes).
constexpr size_t zstd_min_size = 64;

char tag(string_scheme s) { return static_cast<char>(s); }

status corrupt(std::string what) { return status(errc::corruption, "string column: " + what); }

void encode_plain(const std::string* values, size_t n, std::string& out) {
  std::vector<uint64_t> lengths(n);
  for (size_t i = 0; i < n; ++i) lengths[i] = values[i].size();
  std::string encoded_lengths;
  encode_unsigneds(lengths.data(), n, encoded_lengths);
  out.push_back(tag(string_scheme::plain));
  put_varint(out, encoded_lengths.size());
  out.append(encoded_lengths);
  for (size_t i = 0; i < n; ++i) out.append(values[i]);
}

// Appends the dict encoding unless more than half the values seen so far
// are distinct (past the first 32), when it would not pay; zstd still finds
// repeats the dictionary gave up on.
bool encode_dict(const std::string* values, size_t n, std::string& out) {
  if (n < 2) return false;
  std::unordered_map<std::string_view, uint64_t> ids;
  ids.reserve(std::min<size_t>(n / 2, 1024));
  std::vector<std::string_view> entries;
  std::vector<uint64_t> indices(n);
  for (size_t i = 0; i < n; ++i) {
    auto [it, added] = ids.try_emplace(values[i], entries.size());
    if (added) {
      entries.push_back(values[i]);
      if (entries.size() > std::max<size_t>(16, (i + 1) / 2)) return false;
    }
    indices[i] = it->second;
  }
  out.push_back(tag(string_scheme::dict));
  put_varint(out, entries.size());
  for (auto e : entries) put_string(out, e);
  encode_unsigneds(indices.data(), n, out);
  return true;
}

status decode_plain(std::string_view p, size_t n, std::vector<std::string>& out) {
  uint64_t lengths_size = 0;
  if (!get_varint(p, lengths_size) || lengths_size > p.size()) {
    return corrupt("plain scheme: bad size of the lengths");
  }
  std::vector<uint64_t> lengths(n);
  LIANDU_RETURN_IF_ERROR(decode_integer_column(p.substr(0, lengths_size), n, false,
                                               "string column: plain scheme: length", lengths.data()));
  const std::string_view bytes = p.substr(lengths_size);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (lengths[i] > bytes.size() - total) {
      return corrupt("plain scheme: value " + std::to_string(i) + " of " + std::to_string(lengths[i]) +
                     " bytes runs past the end");
    }
    total += lengths[i];
  }
  if (total != bytes.size()) {
    return corrupt("plain scheme: " + std::to_string(bytes.size() - total) + " trailing bytes");
  }
  out.reserve(out.size() + n);
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    out.emplace_back(bytes.substr(at, lengths[i]));
    at += lengths[i];
  }
  return status();
}

status decode_dict(std::string_view p, size_t n, const std::string_view in, std::vector<std::string>& out) {
  uint64_t d = 0;
  if (!get_varint(p, d) || d == 0 || d > n || d > p.size()) {
    return corrupt("dict scheme: bad entry count");
  }
  std::vector<std::string_view> entries(d);
  for (auto& e : entries) {
    const size_t at = in.size() - p.size();
    if (!get_string(p, e)) return corrupt("dict scheme: bad entry at byte " + std::to_string(at));
  }
  std::vector<uint64_t> indices(n);
  LIANDU_RETURN_IF_ERROR(
      decode_integer_column(p, n, false, "string column: dict scheme: index", indices.data()));
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (indices[i] >= d) {
      return corrupt("dict scheme: value " + std::to_string(i) + " has index " + std::to_string(indices[i]) +
                     " of " + std::to_string(d) + " entries");
    }
    total += entries[indices[i]].size();
    if (total > max_column_bytes) {
      return corrupt("dict scheme: values add up to more than " + std::to_string(max_column_bytes) +
                     " bytes");
    }
  }
  out.reserve(out.size() + n);
  for (size_t i = 0; i < n; ++i) out.emplace_back(entries[indices[i]]);
  return status();
}

// Decodes a plain or dict encoding; in starts with its tag.
status decode_inner(std::string_view in, size_t n, std::vector<std::string>& out) {
  const auto scheme = static_cast<string_scheme>(in.front());
  switch (scheme) {
    case string_scheme::plain: return decode_plain(in.substr(1), n, out);
    case string_scheme::dict: return decode_dict(in.substr(1), n, in, out);
    default: break;
  }
  return corrupt("scheme " + std::to_string(static_cast<uint8_t>(in.front())) +
                 " at byte 0 is unknown or not allowed here");
}

}  // namespace

void encode_strings(const std::string* values, size_t n, std::string& out) {
  assert(n <= max_column_values);
  if (n == 0) {
    out.push_back(tag(string_scheme::empty));
    return;
  }
  // The plain form is at least as large as the bytes of all values, so a
  // dictionary smaller than that needs no comparison.
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += values[i].size();
  assert(total <= max_column_bytes);
  std::string best;
  if (!encode_dict(values, n, best) || best.size() >= total) {
    std::string plain;
    encode_plain(values, n, plain);
    if (best.empty() || plain.size() < best.size()) best.swap(plain);
  }
  if (best.size() >= zstd_min_size) {
    // Compress straight into out; roll back when it does not pay.
    const size_t at = out.size();
    out.push_back(tag(string_scheme::zstd));
    if (append_zstd_if_smaller(best, best.size() - 1, out)) return;
    out.resize(at);
  }
  out.append(best);
}

status decode_strings(std::string_view in, size_t n, std::vector<std::string>& out) {
  if (n > max_column_values) {
    return corrupt(std::to_string(n) + " values is over the limit of " + std::to_string(max_column_values));
  }
  if (in.empty()) {
    if (n == 0) return status();
    return corrupt("no bytes for " + std::to_string(n) + " values");
  }
  const size_t old = out.size();
  status s;
  switch (static_cast<string_scheme>(in.front())) {
    case string_scheme::empty:
      if (n != 0) return corrupt("empty scheme for " + std::to_string(n) + " values");
      if (in.size() != 1)
        return corrupt("empty scheme with " + std::to_string(in.size() - 1) + " bytes after it");
      return status();
    case string_scheme::zstd: {
      if (n == 0) return corrupt("zstd scheme for zero values");
      std::string inner;
      if (status z = read_zstd(in.substr(1), max_column_bytes, 1, inner); !z.ok())
        return corrupt("zstd scheme: " + z.message());
      s = decode_inner(inner, n, out);
      if (!s.ok()) s = status(errc::corruption, "inside zstd frame: " + s.message());
      break;
    }
    default:
      if (n == 0) return corrupt("non-empty scheme for zero values");
      s = decode_inner(in, n, out);
      break;
  }
  if (!s.ok()) out.resize(old);
  return s;
}

}  // namespace liandu::storage::codec
