#include "cli/http_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace liandu::cli {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::string origin_of(const std::string& url, uint16_t default_http_port = 80) {
  http_client_options o;
  o.default_http_port = default_http_port;
  auto c = http_client::from_url(url, o);
  return c.ok() ? (*c)->origin() + " " + (*c)->target() : "error: " + c.error().message();
}

TEST(http_client, parses_http_and_https_urls) {
  EXPECT_EQ(origin_of("127.0.0.1:9/x"), "http://127.0.0.1:9 /x");
  EXPECT_EQ(origin_of("https://example.com/hook?a=1"), "https://example.com:443 /hook?a=1");
  EXPECT_EQ(origin_of("https://example.com:8443"), "https://example.com:8443 /");
  EXPECT_EQ(origin_of("https://[::1]:8443/p"), "https://[::1]:8443 /p");
  EXPECT_EQ(origin_of("http://h?k=1#frag"), "http://h:80 /?k=1");
  EXPECT_EQ(origin_of("http://h:9/a/b#frag"), "http://h:9 /a/b");
  for (const char* bad : {"ftp://h", "https://h:0", "https://h:70000", "https://h:x", "https://h:443x",
                          "https://h:", "https://:443", "https://[::1"}) {
    EXPECT_EQ(origin_of(bad).rfind("error: ", 0), 0u) << bad;
  }
  EXPECT_NE(origin_of("ftp://h").find("unsupported URL scheme"), std::string::npos);
}

// A webhook receiver at http://host/path is on port 80, as for any HTTP
// client; only the CLI's --url, which names a Liandu server, means 8086.
TEST(http_client, url_without_port_defaults_to_80_or_443) {
  for (auto [url, origin] : {std::pair{"http://hooks.example/alert", "http://hooks.example:80"},
                             std::pair{"https://hooks.example/alert", "https://hooks.example:443"}}) {
    auto c = http_client::from_url(url);  // default options, as webhook deliveries use them
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ((*c)->origin(), origin);
  }
  EXPECT_EQ(origin_of("http://[::1]/a"), "http://[::1]:80 /a");
  EXPECT_EQ(origin_of("http://h", default_server_port), "http://h:8086 /");
  EXPECT_EQ(origin_of("https://h", default_server_port), "https://h:443 /");
  auto u = parse_url("http://hooks.example/alert?k=1", 80);
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "hooks.example");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/alert?k=1");
}

TEST(http_client, ca_file_errors_name_the_file_and_reason) {
  http_client_options o;
  o.ca_file = "/nonexistent/ca.pem";
  auto c = http_client::from_url("https://127.0.0.1:1", o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("CA file /nonexistent/ca.pem: No such file"), std::string::npos)
      << c.error().message();
  EXPECT_TRUE(http_client::from_url("http://127.0.0.1:1", o).ok()) << "plain http loads no CA file";

  auto path =
      std::filesystem::temp_directory_path() / ("liandu_ca_test_" + std::to_string(getpid()) + ".pem");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("not a certificate\n", f);
  std::fclose(f);
  status s = check_ca_file(path.string());
  std::filesystem::remove(path);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path.string() + ": no PEM certificate"), std::string::npos) << s.message();
}

// Reads one request from a connection accepted on `a` and answers 204;
// returns its Host header ("" when it has none).
std::string host_header_received(asio::ip::tcp::acceptor& a) {
  asio::ip::tcp::socket s = a.accept();
  std::string request;
  char buf[1024];
  boost::system::error_code ec;
  while (request.find("\r\n\r\n") == std::string::npos && !ec) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    request.append(buf, n);
  }
  asio::write(s, asio::buffer(std::string_view("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")), ec);
  size_t at = request.find("\r\nHost: ");
  if (at == std::string::npos) return "";
  at += 8;
  return request.substr(at, request.find("\r\n", at) - at);
}

// RFC 7230 section 5.4: Host = uri-host [ ":" port ], the port given unless
// it is the scheme's default, an IPv6 literal in brackets. Virtual hosts and
// reverse proxies in front of a webhook receiver route on it.
TEST(http_client, host_header_names_the_port_and_brackets_ipv6) {
  for (auto [url, host] :
       {std::pair{"http://hooks.example/a", "hooks.example"},
        std::pair{"http://hooks.example:80/a", "hooks.example"},
        std::pair{"https://hooks.example/a", "hooks.example"},
        std::pair{"https://hooks.example:443", "hooks.example"},
        std::pair{"http://hooks.example:443", "hooks.example:443"},
        std::pair{"https://hooks.example:80", "hooks.example:80"},
        std::pair{"http://127.0.0.1:8086/write", "127.0.0.1:8086"}, std::pair{"http://[::1]/a", "[::1]"},
        std::pair{"https://[::1]:8443/p", "[::1]:8443"}}) {
    auto u = parse_url(url, 80);
    ASSERT_TRUE(u.ok()) << url;
    EXPECT_EQ(host_header(*u), host) << url;
  }
  auto cli = parse_url("http://h", default_server_port);  // the CLI's --url
  ASSERT_TRUE(cli.ok());
  EXPECT_EQ(host_header(*cli), "h:8086");

  // What a server receives.
  asio::io_context ioc;
  std::vector<std::string> hosts{"127.0.0.1"};
  boost::system::error_code ec;
  asio::ip::tcp::acceptor probe(ioc);
  probe.open(asio::ip::tcp::v6(), ec);
  if (!ec) probe.bind({asio::ip::make_address("::1"), 0}, ec);
  if (!ec) hosts.push_back("::1");  // where the machine has IPv6 loopback
  for (const auto& host : hosts) {
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address(host), 0});
    const std::string port = std::to_string(a.local_endpoint().port());
    const std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    auto c = http_client::from_url("http://" + authority + ":" + port + "/hook");
    ASSERT_TRUE(c.ok()) << c.error().message();
    std::string received;
    std::thread server([&] { received = host_header_received(a); });
    auto r = (*c)->request("POST", (*c)->target(), "{}");
    server.join();
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status, 204u);
    EXPECT_EQ(received, authority + ":" + port);
  }
}

// A server that completes TCP connects (the kernel does, into the backlog)
// but never accepts, reads or answers: each step must time out, for http as
// for https (where the TLS handshake waits for the server's hello).
TEST(http_client, a_silent_server_times_out) {
  asio::io_context ioc;
  asio::ip::tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  const std::string port = std::to_string(silent.local_endpoint().port());
  for (std::string scheme : {"http", "https"}) {
    http_client_options o;
    o.timeout = 300ms;
    auto c = http_client::from_url(scheme + "://127.0.0.1:" + port, o);
    ASSERT_TRUE(c.ok()) << c.error().message();
    auto start = std::chrono::steady_clock::now();
    auto r = (*c)->request("POST", "/hook", "{}");
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.ok()) << scheme;
    EXPECT_NE(r.error().message().find(scheme + "://127.0.0.1:" + port), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("timed out after 300 ms"), std::string::npos) << r.error().message();
    EXPECT_LT(took, 5s) << scheme;
  }
}

}  // namespace
}  // namespace liandu::cli
