#include "cli/http_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

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
