#pragma once

#include <chrono>
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

struct http_client_options {
  // PEM file of CA certificates that https:// servers may chain to, trusted
  // in addition to the system store (OpenSSL's default verify paths).
  std::string ca_file;
  // Each step of a request (connect, TLS handshake, sending the request,
  // reading the response) must end within this, else the connection is
  // closed and the request fails. Name resolution (getaddrinfo, which cannot
  // be interrupted) is not bounded by it.
  std::chrono::milliseconds timeout{120'000};
};

// A blocking HTTP/1.1 client with one keep-alive connection, reconnecting
// when the server closed it. Used by the CLI, the plant simulator and webhook
// deliveries. Not thread-safe: one thread uses a client at a time.
//
// https:// verifies the server: its chain must end at a trusted CA (the
// system store and options.ca_file) and its certificate must name the URL's
// host (a DNS name, or an IP address for an IP literal); SNI carries a host
// name; TLS 1.2 at least.
class http_client {
 public:
  ~http_client();
  // Parses "http://host[:port]" or "https://host[:port]" (path ignored; no
  // scheme means http; default port 8086 for http, 443 for https). Fails when
  // options.ca_file cannot be loaded (for https only).
  static result<std::unique_ptr<http_client>> from_url(const std::string& url,
                                                       const http_client_options& o = {});

  result<http_response> request(const std::string& method, const std::string& target, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers = {});

  // "https://host:port": what errors name.
  const std::string& origin() const;

 private:
  struct impl;
  explicit http_client(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

// Checks that path holds CA certificates (PEM) that OpenSSL loads; the error
// names the path and the reason. A CA file (and the system store) is loaded
// once per process and kept for every later https:// client: replacing it on
// disk takes a restart.
status check_ca_file(const std::string& path);

std::string url_encode(std::string_view s);

}  // namespace liandu::cli
