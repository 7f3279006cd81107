#include "http/testing/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>

namespace liandu::http::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void set_socket_timeout(tcp::socket& s, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

result<tcp::socket> connect_socket(net::io_context& ioc, const std::string& host, uint16_t port,
                                   std::chrono::milliseconds timeout) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return error(errc::io_error, "resolve " + host + ": " + ec.message());
  tcp::socket socket(ioc);
  net::connect(socket, endpoints, ec);
  if (ec) return error(errc::io_error, "connect " + host + ":" + std::to_string(port) + ": " + ec.message());
  set_socket_timeout(socket, timeout);
  return socket;
}

bhttp::request<bhttp::string_body> make_request(std::string_view method, const std::string& host, uint16_t port,
                                                std::string_view target, std::string_view body,
                                                const header_list& headers) {
  bhttp::request<bhttp::string_body> req;
  bhttp::verb v = bhttp::string_to_verb(method);
  if (v == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(v);
  }
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, host + ":" + std::to_string(port));
  req.set(bhttp::field::user_agent, "liandu-test-client");
  for (const auto& [name, value] : headers) req.insert(name, value);
  req.body() = std::string(body);
  if (!body.empty() || v == bhttp::verb::post || v == bhttp::verb::put) req.prepare_payload();
  return req;
}

template <class Stream>
result<client_response> exchange(Stream& stream, beast::flat_buffer& buffer,
                                 const bhttp::request<bhttp::string_body>& req) {
  beast::error_code ec;
  bhttp::write(stream, req, ec);
  if (ec) return error(errc::io_error, "write: " + ec.message());
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (req.method() == bhttp::verb::head) parser.skip(true);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) return error(errc::io_error, "read: " + ec.message());
  auto msg = parser.release();
  client_response out;
  out.status = msg.result_int();
  out.keep_alive = msg.keep_alive();
  for (const auto& f : msg) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(msg.body());
  return out;
}

}  // namespace

std::optional<std::string_view> client_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

struct http_connection::impl {
  net::io_context ioc;
  std::optional<tcp::socket> socket;
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port = 0;
};

http_connection::http_connection(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

http_connection::~http_connection() {
  if (impl_->socket) {
    beast::error_code ec;
    impl_->socket->shutdown(tcp::socket::shutdown_both, ec);
    impl_->socket->close(ec);
  }
}

result<std::unique_ptr<http_connection>> http_connection::connect(const std::string& host, uint16_t port,
                                                                  std::chrono::milliseconds timeout) {
  auto i = std::make_unique<impl>();
  auto s = connect_socket(i->ioc, host, port, timeout);
  if (!s) return s.error();
  i->socket.emplace(std::move(*s));
  i->host = host;
  i->port = port;
  return std::unique_ptr<http_connection>(new http_connection(std::move(i)));
}

result<client_response> http_connection::request(std::string_view method, std::string_view target,
                                                 std::string_view body, const header_list& headers) {
  return exchange(*impl_->socket, impl_->buffer, make_request(method, impl_->host, impl_->port, target, body, headers));
}

status http_connection::send_raw(std::string_view bytes) {
  beast::error_code ec;
  net::write(*impl_->socket, net::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return error(errc::io_error, "write: " + ec.message());
  return {};
}

std::string http_connection::read_until_closed(std::chrono::milliseconds timeout, bool* closed) {
  *closed = false;
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bytes a previous request() read past its response.
  for (auto b : beast::buffers_range(impl_->buffer.data())) out.append(static_cast<const char*>(b.data()), b.size());
  impl_->buffer.consume(impl_->buffer.size());
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    set_socket_timeout(*impl_->socket, std::max(left, std::chrono::milliseconds(1)));
    beast::error_code ec;
    size_t n = impl_->socket->read_some(net::buffer(buf), ec);
    out.append(buf, n);
    if (ec == net::error::eof || ec == net::error::connection_reset) {
      *closed = true;
      break;
    }
    if (ec) break;  // timeout
  }
  return out;
}

result<client_response> http_request(std::string_view method, const std::string& host, uint16_t port,
                                     std::string_view target, std::string_view body, const header_list& headers) {
  auto c = http_connection::connect(host, port);
  if (!c) return c.error();
  return (*c)->request(method, target, body, headers);
}

result<client_response> http_get(const std::string& host, uint16_t port, std::string_view target,
                                 const header_list& headers) {
  return http_request("GET", host, port, target, {}, headers);
}

result<client_response> http_post(const std::string& host, uint16_t port, std::string_view target,
                                  std::string_view body, const header_list& headers) {
  return http_request("POST", host, port, target, body, headers);
}

result<client_response> https_request(std::string_view method, const std::string& host, uint16_t port,
                                      std::string_view target, std::string_view body, const header_list& headers) {
  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  auto s = connect_socket(ioc, host, port, default_client_timeout);
  if (!s) return s.error();
  beast::ssl_stream<tcp::socket> stream(std::move(*s), ctx);
  beast::error_code ec;
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) return error(errc::io_error, "tls handshake: " + ec.message());
  beast::flat_buffer buffer;
  auto r = exchange(stream, buffer, make_request(method, host, port, target, body, headers));
  stream.shutdown(ec);  // a server that just closes is fine too
  return r;
}

}  // namespace liandu::http::testing
