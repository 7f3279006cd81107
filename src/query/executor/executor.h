#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/executor/result.h"
#include "query/storage.h"

namespace liandu::query {

class continuous_query_registry;

struct query_options {
  std::string db;     // default database (the `db` URL parameter)
  std::string rp;     // default retention policy; empty = the database's default
  std::string epoch;  // "", ns, u, ms, s, m, h (only the encoders use it)
  int64_t now_ns = 0;
  size_t memory_limit_bytes = 256 << 20;
  size_t chunk_size = 0;  // only the HTTP layer's chunked encoder uses it
  // Where CREATE/DROP/SHOW CONTINUOUS QUERIES keep definitions. Null: those
  // statements answer an error.
  continuous_query_registry* cqs = nullptr;
};

// What one request produced: a parse error (then no statement ran), or one
// result per statement, in order, each with its own error if it failed.
struct execution {
  std::string parse_error;  // "error parsing query: ..." or empty
  std::vector<statement_result> results;
};

// Runs every statement of query_text against s.
execution execute(storage& s, std::string_view query_text, const query_options& opts);

// execute() encoded as InfluxDB 1.8's JSON body:
// {"results":[{"statement_id":0,"series":[...]},{"statement_id":1,"error":"..."}]}
// or {"error":"error parsing query: ..."}.
std::string execute_to_json(storage& s, std::string_view query_text, const query_options& opts);

}  // namespace liandu::query
