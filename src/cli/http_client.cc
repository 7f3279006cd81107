#include "cli/http_client.h"

#include "http/url.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <strings.h>

namespace liandu::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

std::string http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

struct http_client::impl {
  std::string host;
  std::string port;
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  bool connected = false;
  beast::flat_buffer buffer;
};

http_client::http_client(std::string host, uint16_t port) : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = std::to_string(port);
}

http_client::~http_client() {
  beast::error_code ec;
  impl_->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

result<std::unique_ptr<http_client>> http_client::from_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (rest.rfind("https://", 0) == 0) return error(errc::unsupported, "https URLs are not supported by the CLI yet");
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  std::string host = rest.substr(0, colon);
  uint16_t port = 8086;
  if (colon != std::string::npos) {
    try {
      port = static_cast<uint16_t>(std::stoi(rest.substr(colon + 1)));
    } catch (...) {
      return error(errc::invalid_argument, "bad port in URL: " + url);
    }
  }
  if (host.empty()) return error(errc::invalid_argument, "bad URL: " + url);
  return std::make_unique<http_client>(host, port);
}

result<http_response> http_client::request(const std::string& method, const std::string& target,
                                           const std::string& body,
                                           const std::vector<std::pair<std::string, std::string>>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!impl_->connected) {
      asio::ip::tcp::resolver resolver(impl_->ioc);
      auto results = resolver.resolve(impl_->host, impl_->port, ec);
      if (ec) return error(errc::io_error, "resolve " + impl_->host + ": " + ec.message());
      impl_->stream.connect(results, ec);
      if (ec) {
        return error(errc::io_error, "connect to " + impl_->host + ":" + impl_->port + ": " + ec.message());
      }
      impl_->connected = true;
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, impl_->host);
    req.set(http::field::user_agent, "liandu-cli");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    impl_->stream.expires_after(std::chrono::seconds(120));
    http::write(impl_->stream, req, ec);
    if (!ec) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 31);
      http::read(impl_->stream, impl_->buffer, parser, ec);
      if (!ec) {
        auto res = parser.release();
        http_response out;
        out.status = res.result_int();
        for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        out.body = std::move(res.body());
        if (!res.keep_alive()) {
          impl_->stream.socket().close(ec);
          impl_->connected = false;
        }
        return out;
      }
    }
    // The server may have closed an idle keep-alive connection: retry once.
    impl_->stream.socket().close(ec);
    impl_->connected = false;
    impl_->buffer.clear();
    if (attempt == 1) return error(errc::io_error, "request " + target + ": " + ec.message());
  }
  return error(errc::io_error, "request failed");
}

std::string url_encode(std::string_view s) { return liandu::http::percent_encode(s); }

}  // namespace liandu::cli
