#include "http/testing/http_client.h"

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

// Beast 1.74 speaks boost::string_view.
beast::string_view to_beast(std::string_view s) { return {s.data(), s.size()}; }

// Runs one asynchronous operation to completion on ioc. Sync Beast calls
// cannot time out (Asio waits in poll() without a limit), so the client uses
// async operations on a beast::tcp_stream, whose expiry bounds each one.
template <class Initiate>
beast::error_code run_op(net::io_context& ioc, Initiate initiate) {
  beast::error_code result;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bhttp::request<bhttp::string_body> make_request(std::string_view method, const std::string& host,
                                                uint16_t port, std::string_view target, std::string_view body,
                                                const header_list& headers) {
  bhttp::request<bhttp::string_body> req;
  bhttp::verb v = bhttp::string_to_verb(to_beast(method));
  if (v == bhttp::verb::unknown) {
    req.method_string(to_beast(method));
  } else {
    req.method(v);
  }
  req.target(to_beast(target));
  req.version(11);
  req.set(bhttp::field::host, host + ":" + std::to_string(port));
  req.set(bhttp::field::user_agent, "liandu-test-client");
  for (const auto& [name, value] : headers) req.insert(name, value);
  req.body() = std::string(body);
  if (!body.empty() || v == bhttp::verb::post || v == bhttp::verb::put) req.prepare_payload();
  return req;
}

template <class Stream>
result<client_response> exchange(net::io_context& ioc, Stream& stream, beast::flat_buffer& buffer,
                                 const bhttp::request<bhttp::string_body>& req,
                                 std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  beast::error_code ec = run_op(ioc, [&](auto handler) { bhttp::async_write(stream, req, handler); });
  if (ec) return error(errc::io_error, "write: " + ec.message());
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (req.method() == bhttp::verb::head) parser.skip(true);
  beast::get_lowest_layer(stream).expires_after(timeout);
  ec = run_op(ioc, [&](auto handler) { bhttp::async_read(stream, buffer, parser, handler); });
  if (ec) return error(errc::io_error, "read: " + ec.message());
  auto msg = parser.release();
  client_response out;
  out.status = msg.result_int();
  out.keep_alive = msg.keep_alive();
  for (const auto& f : msg) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(msg.body());
  return out;
}

status connect_stream(net::io_context& ioc, beast::tcp_stream& stream, const std::string& host, uint16_t port,
                      std::chrono::milliseconds timeout) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return error(errc::io_error, "resolve " + host + ": " + ec.message());
  stream.expires_after(timeout);
  ec = run_op(ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
  if (ec) return error(errc::io_error, "connect " + host + ":" + std::to_string(port) + ": " + ec.message());
  return {};
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
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port = 0;
  std::chrono::milliseconds timeout{};
};

http_connection::http_connection(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

http_connection::~http_connection() {
  beast::error_code ec;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream.close();
}

result<std::unique_ptr<http_connection>> http_connection::connect(const std::string& host, uint16_t port,
                                                                  std::chrono::milliseconds timeout) {
  auto i = std::make_unique<impl>();
  LIANDU_RETURN_IF_ERROR(connect_stream(i->ioc, i->stream, host, port, timeout));
  i->timeout = timeout;
  i->host = host;
  i->port = port;
  return std::unique_ptr<http_connection>(new http_connection(std::move(i)));
}

result<client_response> http_connection::request(std::string_view method, std::string_view target,
                                                 std::string_view body, const header_list& headers) {
  return exchange(impl_->ioc, impl_->stream, impl_->buffer,
                  make_request(method, impl_->host, impl_->port, target, body, headers), impl_->timeout);
}

status http_connection::send_raw(std::string_view bytes) {
  impl_->stream.expires_after(impl_->timeout);
  beast::error_code ec = run_op(impl_->ioc, [&](auto handler) {
    net::async_write(impl_->stream, net::buffer(bytes.data(), bytes.size()), handler);
  });
  if (ec) return error(errc::io_error, "write: " + ec.message());
  return {};
}

std::string http_connection::read_until_closed(std::chrono::milliseconds timeout, bool* closed) {
  *closed = false;
  std::string out;
  // Bytes a previous request() read past its response.
  for (auto b : beast::buffers_range(impl_->buffer.data()))
    out.append(static_cast<const char*>(b.data()), b.size());
  impl_->buffer.consume(impl_->buffer.size());
  // A separate timer cancels the read: tcp_stream's own expiry would close
  // the socket, and the caller may want to go on sending.
  net::steady_timer timer(impl_->ioc);
  timer.expires_after(timeout);
  bool timed_out = false;
  timer.async_wait([&](beast::error_code ec) {
    if (ec) return;
    timed_out = true;
    beast::error_code ignored;
    impl_->stream.socket().cancel(ignored);
  });
  impl_->stream.expires_never();
  char buf[4096];
  while (!timed_out) {
    size_t n = 0;
    beast::error_code ec;
    bool done = false;
    impl_->stream.async_read_some(net::buffer(buf), [&](beast::error_code e, size_t got) {
      ec = e;
      n = got;
      done = true;
    });
    impl_->ioc.restart();
    while (!done && impl_->ioc.run_one()) {
    }
    out.append(buf, n);
    if (ec == net::error::eof || ec == net::error::connection_reset) {
      *closed = true;
      break;
    }
    if (ec) break;  // cancelled by the timer
  }
  timer.cancel();
  impl_->ioc.restart();
  impl_->ioc.run();  // let the timer's handler finish
  return out;
}

result<client_response> http_request(std::string_view method, const std::string& host, uint16_t port,
                                     std::string_view target, std::string_view body,
                                     const header_list& headers) {
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
                                      std::string_view target, std::string_view body,
                                      const header_list& headers) {
  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  LIANDU_RETURN_IF_ERROR(
      connect_stream(ioc, beast::get_lowest_layer(stream), host, port, default_client_timeout));
  beast::get_lowest_layer(stream).expires_after(default_client_timeout);
  beast::error_code ec =
      run_op(ioc, [&](auto handler) { stream.async_handshake(net::ssl::stream_base::client, handler); });
  if (ec) return error(errc::io_error, "tls handshake: " + ec.message());
  beast::flat_buffer buffer;
  return exchange(ioc, stream, buffer, make_request(method, host, port, target, body, headers),
                  default_client_timeout);
}

}  // namespace liandu::http::testing
