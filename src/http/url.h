#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace liandu::http {

// URL pieces as InfluxDB clients send them.
//
//   "/query?db=my%20db&q=SELECT+*+FROM+cpu"  ->  path "/query",
//   query {db: "my db", q: "SELECT * FROM cpu"}
//
// In a query string or a form body '+' means a space; in a path it stays '+'.
// A '%' not followed by two hex digits is an error (a clear 400 beats
// guessing what a broken client meant).

using query_map = std::multimap<std::string, std::string>;

// Decodes %XX escapes; with plus_as_space, also '+' -> ' '.
result<std::string> percent_decode(std::string_view in, bool plus_as_space);

// Encodes everything but unreserved characters (RFC 3986 section 2.3).
std::string percent_encode(std::string_view in);

// Parses "a=1&b=2&a=3" (application/x-www-form-urlencoded). Empty pairs are
// skipped; a key without '=' has an empty value. Values of a repeated key keep
// their order.
result<query_map> parse_query(std::string_view text);

// Splits a request target into the decoded path and the parsed query.
struct target_parts {
  std::string path;
  query_map query;
};
result<target_parts> split_target(std::string_view target);

}  // namespace liandu::http
