#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace liandu::cli {

struct http_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const;
};

// A blocking HTTP/1.1 client with one keep-alive connection, reconnecting
// when the server closed it. Used by the CLI and the plant simulator.
class http_client {
 public:
  http_client(std::string host, uint16_t port);
  ~http_client();
  // Parses "http://host:port" (path ignored).
  static result<std::unique_ptr<http_client>> from_url(const std::string& url);

  result<http_response> request(const std::string& method, const std::string& target, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

std::string url_encode(std::string_view s);

}  // namespace liandu::cli
