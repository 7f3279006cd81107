#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "http/message.h"

namespace liandu::http::testing {

// Small blocking HTTP/1.1 client for tests (Beast, synchronous). Every read
// and write gives up after the timeout, so a broken server fails a test
// instead of hanging it. Chunked responses are reassembled. Not for
// production use: no redirects, no TLS verification.

struct client_response {
  unsigned status = 0;
  header_list headers;
  std::string body;
  bool keep_alive = false;  // what the server said about the connection
  std::optional<std::string_view> header(std::string_view name) const;
};

inline constexpr std::chrono::milliseconds default_client_timeout{10000};

// One request on a fresh connection, closed afterwards.
result<client_response> http_request(std::string_view method, const std::string& host, uint16_t port,
                                     std::string_view target, std::string_view body = {},
                                     const header_list& headers = {});
result<client_response> http_get(const std::string& host, uint16_t port, std::string_view target,
                                 const header_list& headers = {});
result<client_response> http_post(const std::string& host, uint16_t port, std::string_view target,
                                  std::string_view body, const header_list& headers = {});
// Same over TLS, without certificate verification.
result<client_response> https_request(std::string_view method, const std::string& host, uint16_t port,
                                      std::string_view target, std::string_view body = {},
                                      const header_list& headers = {});

// One connection reused for several requests (keep-alive).
class http_connection {
 public:
  static result<std::unique_ptr<http_connection>> connect(
      const std::string& host, uint16_t port, std::chrono::milliseconds timeout = default_client_timeout);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  result<client_response> request(std::string_view method, std::string_view target,
                                  std::string_view body = {}, const header_list& headers = {});
  // Sends raw bytes (malformed requests, slow clients).
  status send_raw(std::string_view bytes);
  // Reads whatever arrives until the peer closes or `timeout` passes.
  // Returns the bytes and sets *closed when the peer closed (EOF or reset).
  std::string read_until_closed(std::chrono::milliseconds timeout, bool* closed);

 private:
  struct impl;
  explicit http_connection(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace liandu::http::testing
