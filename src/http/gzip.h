#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace liandu::http {

// Decompresses a gzip body (RFC 1952; several concatenated members are
// accepted, as Go's gzip reader does). The limit applies to the decompressed
// size, so a small "zip bomb" is refused with errc::limit_exceeded as soon as
// the output passes max_bytes, without inflating the rest. A corrupt or
// truncated stream, or bytes after it that are not another member, is
// errc::parse_error.
result<std::string> gunzip(std::string_view in, size_t max_bytes);

// Compresses to one gzip member; for responses and tests.
std::string gzip_compress(std::string_view in);

}  // namespace liandu::http
