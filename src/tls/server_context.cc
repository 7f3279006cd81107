#include "tls/server_context.h"

#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>
#include <system_error>

namespace liandu::tls {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL 3 reports a file it cannot open as a system error (errno in the
// reason) that asio 1.74 cannot name: "asio.ssl error". Say the errno's
// text instead; every other reason is OpenSSL's own ("key values mismatch").
std::string reason(const boost::system::error_code& ec) {
  auto code = static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
  if (ec.category() == boost::asio::error::get_ssl_category() && ERR_SYSTEM_ERROR(code)) {
    return std::generic_category().message(ERR_GET_REASON(code));
  }
  return ec.message();
}

}  // namespace

result<std::shared_ptr<ssl::context>> make_server_context(const std::string& cert_chain_file,
                                                          const std::string& private_key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  if (ec) return error(errc::internal, ec.message());
  ctx->use_certificate_chain_file(cert_chain_file, ec);
  if (ec) return error(errc::io_error, "certificate " + cert_chain_file + ": " + reason(ec));
  // OpenSSL checks the key against the certificate loaded above.
  ctx->use_private_key_file(private_key_file, ssl::context::pem, ec);
  if (ec) return error(errc::io_error, "private key " + private_key_file + ": " + reason(ec));
  return ctx;
}

}  // namespace liandu::tls
