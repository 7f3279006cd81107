#include "cli/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <strings.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "http/url.h"

namespace liandu::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

status load_ca_file(asio::ssl::context& ctx, const std::string& path) {
  // OpenSSL's error for a missing file is vague; errno is not.
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return error(errc::io_error, "CA file " + path + ": " + std::strerror(errno));
  std::fclose(f);
  beast::error_code ec;
  ctx.load_verify_file(path, ec);
  if (ec) {
    return error(errc::invalid_argument,
                 "CA file " + path + ": no PEM certificate could be loaded (" + ec.message() + ")");
  }
  return {};
}

// The context of https:// clients: the server's chain is verified against
// the system store and ca_file; TLS 1.2 at least.
result<std::shared_ptr<asio::ssl::context>> make_client_context(const std::string& ca_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
    return error(errc::internal, "TLS: cannot require TLS 1.2");
  beast::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return error(errc::internal, "TLS: system CA store: " + ec.message());
  if (!ca_file.empty()) LIANDU_RETURN_IF_ERROR(load_ca_file(*ctx, ca_file));
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) return error(errc::internal, "TLS: " + ec.message());
  return ctx;
}

// One context per CA file for the life of the process: loading the system
// store takes about 30 ms, which every webhook delivery (a new client each)
// paid on the rules thread. An SSL_CTX may back any number of connections on
// any threads. A CA file that fails to load is not kept, so it is tried again.
result<std::shared_ptr<asio::ssl::context>> client_context(const std::string& ca_file) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<asio::ssl::context>> by_ca_file;
  std::lock_guard lock(mu);
  if (auto it = by_ca_file.find(ca_file); it != by_ca_file.end()) return it->second;
  auto ctx = make_client_context(ca_file);
  if (ctx.ok()) by_ca_file.emplace(ca_file, *ctx);
  return ctx;
}

// The name the server's certificate must carry: an IP literal is matched
// against its IP addresses and sends no SNI (RFC 6066 allows host names
// only); a host name is matched against its DNS names and sent as SNI.
bool set_peer_name(SSL* ssl, const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

bool parse_port(const std::string& text, uint16_t& port) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int p = std::stoi(text);
  if (p < 1 || p > 65535) return false;
  port = static_cast<uint16_t>(p);
  return true;
}

// A host as the authority of a URL writes it: an IPv6 literal in brackets.
std::string uri_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

std::string http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

// Every operation runs asynchronously on the client's own io_context, driven
// to completion by the calling thread: the tcp_stream's timer applies only
// to asynchronous operations.
struct http_client::impl {
  std::string host;
  std::string port;
  std::string host_header;  // the request's Host
  std::string origin;
  std::string target;  // of the URL given to from_url
  http_client_options options;
  std::shared_ptr<asio::ssl::context> tls;  // null for http://
  asio::io_context ioc;
  // One of the two while connected; a TLS session is not reused across connections.
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Starts one operation with a completion handler and runs it to its end
  // (or its timeout, which closes the socket).
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  std::string describe(const beast::error_code& ec) const {
    if (ec == beast::error::timeout)
      return "timed out after " + std::to_string(options.timeout.count()) + " ms";
    return ec.message();
  }

  status connect() {
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return error(errc::io_error, "resolve " + host + ": " + ec.message());
    if (tls) {
      secure.emplace(ioc, *tls);
    } else {
      plain.emplace(ioc);
    }
    tcp().expires_after(options.timeout);
    ec = run([&](auto done) { tcp().async_connect(endpoints, std::move(done)); });
    if (ec) {
      close();
      return error(errc::io_error, "connect to " + origin + ": " + describe(ec));
    }
    if (!secure) return {};
    SSL* ssl = secure->native_handle();
    if (!set_peer_name(ssl, host)) {
      close();
      return error(errc::invalid_argument, "TLS: cannot verify the name " + host);
    }
    tcp().expires_after(options.timeout);
    ec = run([&](auto done) { secure->async_handshake(asio::ssl::stream_base::client, std::move(done)); });
    if (ec) {
      long verify = SSL_get_verify_result(ssl);
      std::string why = verify != X509_V_OK ? std::string("certificate verify failed: ") +
                                                  X509_verify_cert_error_string(verify)
                                            : describe(ec);
      close();
      return error(errc::io_error, "TLS handshake with " + origin + ": " + why);
    }
    return {};
  }

  // Sends req and reads the response on the open connection.
  template <class Stream>
  beast::error_code exchange(Stream& s, http::request<http::string_body>& req,
                             http::response_parser<http::string_body>& parser) {
    tcp().expires_after(options.timeout);
    beast::error_code ec = run([&](auto done) { http::async_write(s, req, std::move(done)); });
    if (ec) return ec;
    tcp().expires_after(options.timeout);
    return run([&](auto done) { http::async_read(s, buffer, parser, std::move(done)); });
  }

  // Closes without a TLS close_notify: a response is read to the end its
  // headers announce, so a truncated one is an error whatever the close.
  void close() {
    if (connected()) {
      beast::error_code ec;
      tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      tcp().close();
    }
    secure.reset();
    plain.reset();
    buffer.clear();
  }
};

http_client::http_client(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

http_client::~http_client() { impl_->close(); }

const std::string& http_client::origin() const { return impl_->origin; }

const std::string& http_client::target() const { return impl_->target; }

result<url_parts> parse_url(const std::string& url, uint16_t default_http_port) {
  url_parts u;
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
    u.tls = true;
  } else if (rest.find("://") != std::string::npos) {
    return error(errc::invalid_argument, "unsupported URL scheme (use http:// or https://): " + url);
  }
  size_t authority_end = rest.find_first_of("/?#");
  if (authority_end != std::string::npos) {
    u.target = rest.substr(authority_end, rest.find('#', authority_end) - authority_end);
    rest.resize(authority_end);
  }
  if (u.target.empty() || u.target.front() != '/') u.target.insert(0, "/");
  u.host = rest;
  std::string port_text;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6 literal]
    size_t end = rest.find(']');
    if (end == std::string::npos) return error(errc::invalid_argument, "bad URL: " + url);
    u.host = rest.substr(1, end - 1);
    std::string after = rest.substr(end + 1);
    if (!after.empty() && after.front() != ':') return error(errc::invalid_argument, "bad URL: " + url);
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    u.host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    has_port = true;
  }
  u.port = u.tls ? 443 : default_http_port;
  if (has_port && !parse_port(port_text, u.port))
    return error(errc::invalid_argument, "bad port in URL: " + url);
  if (u.host.empty()) return error(errc::invalid_argument, "bad URL: " + url);
  return u;
}

std::string host_header(const url_parts& u) {
  const bool scheme_port = u.port == (u.tls ? 443 : 80);
  return scheme_port ? uri_host(u.host) : uri_host(u.host) + ":" + std::to_string(u.port);
}

result<std::unique_ptr<http_client>> http_client::from_url(const std::string& url,
                                                           const http_client_options& o) {
  auto u = parse_url(url, o.default_http_port);
  if (!u.ok()) return u.error();
  auto i = std::make_unique<impl>();
  i->host = u->host;
  i->port = std::to_string(u->port);
  i->host_header = host_header(*u);
  i->target = std::move(u->target);
  i->origin = (u->tls ? "https://" : "http://") + uri_host(i->host) + ":" + i->port;
  i->options = o;
  if (u->tls) {
    auto ctx = client_context(o.ca_file);
    if (!ctx.ok()) return ctx.error();
    i->tls = std::move(ctx).value();
  }
  return std::unique_ptr<http_client>(new http_client(std::move(i)));
}

result<http_response> http_client::request(const std::string& method, const std::string& target,
                                           const std::string& body,
                                           const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, impl_->host_header);
  req.set(http::field::user_agent, "liandu-cli");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  for (int attempt = 0;; ++attempt) {
    const bool reused = impl_->connected();
    if (!reused) LIANDU_RETURN_IF_ERROR(impl_->connect());
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 31);
    beast::error_code ec = impl_->secure ? impl_->exchange(*impl_->secure, req, parser)
                                         : impl_->exchange(*impl_->plain, req, parser);
    if (!ec) {
      auto res = parser.release();
      http_response out;
      out.status = res.result_int();
      for (const auto& f : res)
        out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      out.body = std::move(res.body());
      if (!res.keep_alive()) impl_->close();
      return out;
    }
    impl_->close();
    // The server may have closed an idle keep-alive connection: retry once
    // on a new one. A new connection that fails is not tried again.
    if (!reused || attempt > 0)
      return error(errc::io_error, method + " " + impl_->origin + ": " + impl_->describe(ec));
  }
}

status check_ca_file(const std::string& path) {
  auto ctx = client_context(path);
  return ctx.ok() ? status{} : ctx.error();
}

std::string url_encode(std::string_view s) { return liandu::http::percent_encode(s); }

}  // namespace liandu::cli
