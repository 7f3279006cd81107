#include "base/status.h"

namespace liandu {

const char* errc_name(errc code) {
  switch (code) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid argument";
    case errc::parse_error: return "parse error";
    case errc::corruption: return "corruption";
    case errc::io_error: return "I/O error";
    case errc::not_found: return "not found";
    case errc::already_exists: return "already exists";
    case errc::conflict: return "conflict";
    case errc::limit_exceeded: return "limit exceeded";
    case errc::unauthorized: return "unauthorized";
    case errc::forbidden: return "forbidden";
    case errc::unsupported: return "unsupported";
    case errc::internal: return "internal error";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (ok()) return "ok";
  return std::string(errc_name(code_)) + ": " + message_;
}

}  // namespace liandu
