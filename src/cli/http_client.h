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

// What a request needs of "http[s]://host[:port][/path][?query][#fragment]":
//
//   "https://hooks.example/a/b?k=1"  ->  tls, host "hooks.example", port 443,
//                                        target "/a/b?k=1"
//   "http://[::1]:9000"              ->  host "::1", port 9000, target "/"
//   "127.0.0.1:8086"                 ->  no scheme: http
//
// A URL without a port gets default_http_port for http, 443 for https. The
// fragment is not sent, so it is dropped.
struct url_parts {
  bool tls = false;
  std::string host;  // an IPv6 literal without its brackets
  uint16_t port = 0;
  std::string target;  // path and query, "/" when the URL has no path
};
result<url_parts> parse_url(const std::string& url, uint16_t default_http_port);

// The Host header of a request to u (RFC 7230 section 5.4: uri-host [ ":"
// port ]): the port unless it is the scheme's own (80 for http, 443 for
// https), an IPv6 literal in brackets.
//
//   "http://hooks.example/a"     ->  "hooks.example"
//   "http://127.0.0.1:8086"      ->  "127.0.0.1:8086"
//   "https://[::1]:8443/p"       ->  "[::1]:8443"
//   "http://h" (CLI: port 8086)  ->  "h:8086"
std::string host_header(const url_parts& u);

// The port of a Liandu server's http:// URL that names none (the CLI's
// --url); receivers elsewhere (webhooks) get HTTP's own, 80.
inline constexpr uint16_t default_server_port = 8086;

struct http_client_options {
  // PEM file of CA certificates that https:// servers may chain to, trusted
  // in addition to the system store (OpenSSL's default verify paths).
  std::string ca_file;
  // Each step of a request (connect, TLS handshake, sending the request,
  // reading the response) must end within this, else the connection is
  // closed and the request fails. Name resolution (getaddrinfo, which cannot
  // be interrupted) is not bounded by it.
  std::chrono::milliseconds timeout{120'000};
  // The port of an http:// URL that names none (https: 443).
  uint16_t default_http_port = 80;
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
  // A client for the server of url (parse_url, with options'
  // default_http_port); the URL's path and query are kept as target(). Fails
  // when options.ca_file cannot be loaded (for https only).
  static result<std::unique_ptr<http_client>> from_url(const std::string& url,
                                                       const http_client_options& o = {});

  result<http_response> request(const std::string& method, const std::string& target, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers = {});

  // "https://host:port": what errors name.
  const std::string& origin() const;
  // The path and query of the URL given to from_url ("/" when it had none).
  const std::string& target() const;

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
