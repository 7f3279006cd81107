#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "http/message.h"

namespace liandu::http::handlers {

inline response json_response(unsigned status, const nlohmann::json& body) {
  response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.body = body.dump();
  return r;
}

// 204 No Content: what a successful DELETE (or an acknowledged write) answers.
inline response no_content() {
  response r;
  r.status = 204;
  return r;
}

// The path segment after prefix ("/api/v1/tokens/12" -> "12"), or "".
inline std::string path_tail(const request& req, std::string_view prefix) {
  if (req.path.size() <= prefix.size()) return {};
  return req.path.substr(prefix.size());
}

inline unsigned status_for(errc code) {
  switch (code) {
    case errc::not_found: return 404;
    case errc::already_exists:
    case errc::conflict: return 409;
    case errc::forbidden: return 403;
    case errc::unauthorized: return 401;
    case errc::invalid_argument:
    case errc::parse_error: return 400;
    case errc::limit_exceeded: return 429;
    default: return 500;
  }
}

}  // namespace liandu::http::handlers
