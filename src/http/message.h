#pragma once

// <ostream> first: Boost 1.74's string_view (used by verb.hpp) needs it and
// does not include it.
#include <ostream>
// clang-format off
#include <boost/beast/http/verb.hpp>
// clang-format on
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/url.h"

namespace liandu::http {

// Only the verb enum comes from Beast here (a small header); the parser and
// the sockets stay inside server.cc so that code including this file does not
// pay Beast's compile time.
using verb = boost::beast::http::verb;

using header_list = std::vector<std::pair<std::string, std::string>>;

// A request as a handler sees it: fully read, decoded and within limits.
struct request {
  verb method = verb::get;
  std::string method_string;  // as sent, e.g. for verbs Beast does not know
  std::string target;         // raw, e.g. "/query?db=x&q=SELECT%201"
  std::string path;           // percent-decoded path, e.g. "/query"
  query_map query;            // decoded query parameters (+ form fields, see merge_form_body)
  header_list headers;        // in arrival order, names as sent
  std::string body;           // already gunzipped when Content-Encoding: gzip
  std::string remote_address;
  uint16_t remote_port = 0;
  bool tls = false;

  // Case-insensitive header lookup; the first one wins.
  std::optional<std::string_view> header(std::string_view name) const;
  std::string_view header_or(std::string_view name, std::string_view fallback) const;
  // First value of a query (or merged form) parameter.
  std::optional<std::string_view> param(std::string_view name) const;
  std::string_view param_or(std::string_view name, std::string_view fallback) const;
};

// Produces the next piece of a streamed (chunked) response body, or nullopt
// at the end. Called on a handler thread, one call at a time, until it
// returns nullopt or the client goes away; an exception ends the response
// abruptly (no final chunk), which tells the client it is incomplete.
using chunk_producer = std::function<std::optional<std::string>()>;

struct response {
  unsigned status = 200;
  header_list headers;
  std::string body;
  // When set the response is sent with Transfer-Encoding: chunked: first
  // `body` (if not empty), then every chunk the producer returns.
  chunk_producer stream;

  response& set_header(std::string name, std::string value);
};

// A WebSocket connection a handler keeps to push text messages (live data).
// Thread-safe. Messages wait in a bounded queue: when a slow consumer lets it
// fill, the oldest message is dropped and counted, so memory stays bounded.
class live_channel {
 public:
  virtual ~live_channel() = default;
  // Queues a text message; false once the connection is closed.
  virtual bool send(std::string text) = 0;
  virtual bool is_open() const = 0;
  virtual uint64_t dropped() const = 0;
  virtual void close() = 0;
};

// Runs on a handler thread for a WebSocket upgrade request (plain HTTP
// listeners only). Returning status 101 accepts the upgrade and makes the
// channel live (messages sent before the handshake completes are queued);
// any other response is sent as is and the connection closed. Messages from
// the client are read and ignored (pings and close are answered).
using websocket_handler = std::function<response(const request&, std::shared_ptr<live_channel>)>;

// {"error":"<message>"} with Content-Type application/json and the
// X-Influxdb-Error header, as InfluxDB 1.8's httpError writes it.
response json_error(unsigned status, std::string_view message);

// For POST /query with Content-Type application/x-www-form-urlencoded: parses
// the body and merges its fields into req.query, ahead of the URL's own
// parameters for the same name (Go's Request.FormValue gives the body
// precedence). Does nothing for other content types.
status merge_form_body(request& req);

}  // namespace liandu::http
