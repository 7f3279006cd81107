#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "base/result.h"

namespace liandu::tls {

// A TLS server context as every Liandu listener (HTTPS, MQTT over TLS) sets
// it up: TLS 1.2 and up (SSLv2/3, TLS 1.0/1.1 refused), a fresh DH key per
// handshake, the certificate chain and the PEM private key from files.
//
// Errors (errc::io_error) name the file and OpenSSL's reason:
//   "certificate <cert_chain_file>: <reason>"
//   "private key <private_key_file>: <reason>" (also a key that does not
//                                               match the certificate)
// Callers prefix the listener ("tls: ", "MQTT TLS: ").
//
// The context is shared: streams keep a reference to it for as long as
// they live, so it must outlive every connection made with it.
result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const std::string& cert_chain_file,
                                                                       const std::string& private_key_file);

}  // namespace liandu::tls
