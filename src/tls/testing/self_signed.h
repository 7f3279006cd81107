#pragma once

#include <string>

namespace liandu::tls::testing {

// Writes a fresh self-signed certificate for "localhost" (P-256, valid one
// hour) and its key, both PEM. Each call makes a new key, so two calls give
// a certificate and a key that do not match each other. False on failure.
bool write_self_signed(const std::string& cert_path, const std::string& key_path);

}  // namespace liandu::tls::testing
