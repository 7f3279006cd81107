#include "connect/bridge/bridge_config.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <vector>

#include "connect/bridge/bridge.h"
#include "storage/testing/temp_dir.h"

namespace liandu::connect::bridge {
namespace {

nlohmann::json valid() {
  return nlohmann::json::parse(R"({
    "name": "site-b", "database": "plant", "host": "127.0.0.1", "port": 1884,
    "client_id": "liandu-a", "username": "bridge", "password": "secret", "keepalive_s": 30,
    "clean_session": false,
    "subscribe": [{"filter": "factory/+/telemetry", "qos": 1}, {"filter": "$share/g/x/#"}],
    "forward": [{"filter": "commands/#", "qos": 2, "remote_prefix": "site-a/"}]})");
}

// The error message of parsing `j`, or "" when it parses.
std::string error_of(const nlohmann::json& j) {
  auto c = parse_bridge_config(j);
  return c.ok() ? "" : c.error().message();
}

TEST(BridgeConfig, ParsesEveryKey) {
  auto c = parse_bridge_config(valid());
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->name, "site-b");
  EXPECT_EQ(c->database, "plant");
  EXPECT_EQ(c->port, 1884);
  EXPECT_EQ(c->client_id, "liandu-a");
  EXPECT_EQ(c->password, "secret");
  EXPECT_EQ(c->keepalive_s, 30);
  EXPECT_FALSE(c->clean_session);
  ASSERT_EQ(c->subscribe.size(), 2u);
  EXPECT_EQ(c->subscribe[0].qos, 1);
  EXPECT_EQ(c->subscribe[1].qos, 0);
  ASSERT_EQ(c->forward.size(), 1u);
  EXPECT_EQ(c->forward[0].remote_prefix, "site-a/");
  EXPECT_EQ(c->forward[0].qos, 2);
}

TEST(BridgeConfig, Defaults) {
  auto c = parse_bridge_config(
      nlohmann::json::parse(R"({"name":"b","database":"d","host":"h","subscribe":[{"filter":"#"}]})"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->port, 1883);
  EXPECT_EQ(c->client_id, "liandu-bridge-b");
  EXPECT_EQ(c->keepalive_s, 60);
  EXPECT_TRUE(c->clean_session);
  EXPECT_TRUE(c->forward.empty());
  EXPECT_EQ(c->connections, 1);
  // One connection: the configured client id and the filters as given.
  EXPECT_EQ(connection_client_id(*c, 0), "liandu-bridge-b");
  EXPECT_EQ(subscribed_filter(*c, c->subscribe[0]), "#");
}

// `key` set to `value` (erased when null) in an otherwise valid entry gives
// an error containing `expect`.
struct bad_case {
  const char* key;
  nlohmann::json value;
  std::string expect;
};

void expect_errors(const nlohmann::json& entry, const std::vector<bad_case>& cases) {
  for (const auto& c : cases) {
    nlohmann::json j = entry;
    if (c.value.is_null()) {
      j.erase(c.key);
    } else {
      j[c.key] = c.value;
    }
    std::string err = error_of(j);
    EXPECT_NE(err.find(c.expect), std::string::npos)
        << c.key << " = " << c.value << ": got \"" << err << "\"";
  }
}

TEST(BridgeConfig, ErrorsNameTheBridgeAndTheKey) {
  expect_errors(
      valid(),
      {
          {"database", nullptr, "bridge site-b: \"database\" is required"},
          {"database", "", "\"database\" must not be empty"},
          {"host", 5, "bridge site-b: \"host\" must be a string"},
          {"port", 0, "\"port\" must be an integer 1..65535"},
          {"port", 70000, "\"port\" must be an integer 1..65535"},
          {"port", "1883", "\"port\" must be an integer"},
          {"keepalive_s", 2, "\"keepalive_s\" must be an integer 5..65535"},
          {"client_id", "", "\"client_id\" must not be empty"},
          {"clean_session", "yes", "\"clean_session\" must be true or false"},
          {"subscribe", "a/b", "\"subscribe\" must be an array"},
          {"subscribe", nlohmann::json::parse(R"([{"filter":"a/#/b"}])"),
           "\"subscribe[0].filter\" is not a valid MQTT"},
          {"subscribe", nlohmann::json::parse(R"([{"filter":"a+"}])"),
           "\"subscribe[0].filter\" is not a valid MQTT"},
          {"subscribe", nlohmann::json::parse(R"([{"filter":""}])"),
           "\"subscribe[0].filter\" is not a valid MQTT"},
          {"subscribe", nlohmann::json::parse(R"([{"qos":1}])"), "\"subscribe[0].filter\" is required"},
          {"subscribe", nlohmann::json::parse(R"([{"filter":"a","qos":3}])"),
           "\"subscribe[0].qos\" must be an integer 0..2"},
          {"subscribe", nlohmann::json::parse(R"([{"filter":"a","remote_prefix":"x/"}])"),
           "\"subscribe[0].remote_prefix\" is not a known key"},
          {"forward", nlohmann::json::parse(R"([{"filter":"a"},{"filter":"$share/g/a"}])"),
           "\"forward[1].filter\" must not be a shared subscription"},
          {"forward", nlohmann::json::parse(R"([{"filter":"a","remote_prefix":"x/#/"}])"),
           "\"forward[0].remote_prefix\" must not contain"},
          {"forward", nlohmann::json::parse(R"([{"filter":"a","remote_prefix":1}])"),
           "\"forward[0].remote_prefix\" must be a string"},
          {"subscirbe", nlohmann::json::array(), "bridge site-b: \"subscirbe\" is not a known key"},
      });
}

TEST(BridgeConfig, ConnectionsShareTheSubscriptions) {
  nlohmann::json j = valid();
  j["connections"] = 4;
  auto c = parse_bridge_config(j);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->connections, 4);
  // Stable, distinct client ids; the first is the configured one.
  EXPECT_EQ(connection_client_id(*c, 0), "liandu-a");
  EXPECT_EQ(connection_client_id(*c, 1), "liandu-a-2");
  EXPECT_EQ(connection_client_id(*c, 3), "liandu-a-4");
  // One share group per bridge, named by its client id; a filter that names
  // its own group keeps it.
  EXPECT_EQ(subscribed_filter(*c, c->subscribe[0]), "$share/liandu-a/factory/+/telemetry");
  EXPECT_EQ(subscribed_filter(*c, c->subscribe[1]), "$share/g/x/#");
  // Shown by GET and posted back unchanged, with the read-only count.
  nlohmann::json shown = to_json(*c, true);
  EXPECT_EQ(shown["connections"], 4);
  shown["connections_up"] = 3;
  auto again = parse_bridge_config(shown);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->connections, 4);
  EXPECT_EQ(to_json(*again, true), to_json(*c, true));
}

TEST(BridgeConfig, ConnectionsErrorsNameTheBridgeAndTheKey) {
  nlohmann::json two = valid();
  two["connections"] = 2;
  expect_errors(valid(), {
                             {"connections", 0, "bridge site-b: \"connections\" must be an integer 1..16"},
                             {"connections", 17, "bridge site-b: \"connections\" must be an integer 1..16"},
                             {"connections", "4", "\"connections\" must be an integer 1..16"},
                             {"connections", 2.5, "\"connections\" must be an integer 1..16"},
                         });
  expect_errors(two,
                {
                    {"subscribe", nlohmann::json::array(),
                     "bridge site-b: \"connections\" needs \"subscribe\" filters"},
                    {"client_id", "site/a", "bridge site-b: \"client_id\" must not contain '/', '+' or '#'"},
                    {"client_id", "a+", "\"client_id\" must not contain"},
                });
  // Such a client id is fine for one connection (it names no group then).
  nlohmann::json one = valid();
  one["client_id"] = "site/a";
  EXPECT_EQ(error_of(one), "");
}

TEST(BridgeConfig, NameIsRequiredAndPlain) {
  nlohmann::json j = valid();
  j.erase("name");
  EXPECT_NE(error_of(j).find("bridge: \"name\" is required"), std::string::npos) << error_of(j);
  j["name"] = "a b/c";
  EXPECT_NE(error_of(j).find("\"name\" must be"), std::string::npos) << error_of(j);
  EXPECT_NE(error_of(nlohmann::json::array()).find("expected a JSON object"), std::string::npos);
}

TEST(BridgeConfig, PasswordNeedsAUserName) {
  nlohmann::json j = valid();
  j.erase("username");
  EXPECT_NE(error_of(j).find("\"password\" needs a \"username\""), std::string::npos) << error_of(j);
}

TEST(BridgeConfig, SomethingToCarry) {
  nlohmann::json j = valid();
  j["subscribe"] = nlohmann::json::array();
  j.erase("forward");
  EXPECT_NE(error_of(j).find("are both empty"), std::string::npos) << error_of(j);
}

TEST(BridgeConfig, JsonMasksThePasswordAndRoundTrips) {
  auto c = parse_bridge_config(valid());
  ASSERT_TRUE(c.ok());
  nlohmann::json masked = to_json(*c, false);
  EXPECT_EQ(masked["password"], password_mask);
  EXPECT_EQ(masked.dump().find("secret"), std::string::npos);
  nlohmann::json full = to_json(*c, true);
  EXPECT_EQ(full["password"], "secret");
  // What GET shows (with its read-only status keys) can be posted back.
  full["status"] = "connected";
  full["last_error"] = "";
  full["connections_up"] = 1;
  full["messages_in"] = 3;
  auto again = parse_bridge_config(full);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(to_json(*again, true), to_json(*c, true));
}

TEST(BridgeConfig, EmptyPasswordIsNotMasked) {
  auto c = parse_bridge_config(
      nlohmann::json::parse(R"({"name":"b","database":"d","host":"h","forward":[{"filter":"a/+"}]})"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(to_json(*c, false)["password"], "");
}

TEST(BridgeConfig, TlsIsOffByDefaultAndShownAsSuch) {
  auto c = parse_bridge_config(valid());
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->tls);
  nlohmann::json j = to_json(*c, true);
  EXPECT_EQ(j["tls"], false);
  EXPECT_FALSE(j.contains("ca_file"));
  EXPECT_FALSE(j.contains("insecure"));
}

using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

key_ptr new_key() { return key_ptr(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

enum class key_format { plain, pkcs8_encrypted, traditional_encrypted };

// `key` written to `path` as PEM, encrypted with `passphrase` unless plain.
void write_key(const std::string& path, EVP_PKEY* key, key_format f, const std::string& passphrase = "") {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "w"), &BIO_free);
  ASSERT_TRUE(bio);
  auto* pass = reinterpret_cast<const unsigned char*>(passphrase.data());
  int len = static_cast<int>(passphrase.size());
  int ok = 0;
  switch (f) {
    case key_format::plain:
      ok = PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case key_format::pkcs8_encrypted:
      ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), passphrase.data(), len, nullptr,
                                         nullptr);
      break;
    case key_format::traditional_encrypted:
      ok = PEM_write_bio_PrivateKey_traditional(bio.get(), key, EVP_aes_128_cbc(), pass, len, nullptr,
                                                nullptr);
      break;
  }
  ASSERT_EQ(ok, 1);
}

// An empty CRL for issuer CN=`issuer`, signed by `key`, current for a day.
void write_crl(const std::string& path, EVP_PKEY* key, const char* issuer) {
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), &X509_CRL_free);
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(X509_NAME_new(), &X509_NAME_free);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(issuer),
                             -1, -1, 0);
  ASSERT_EQ(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), 1);
  ASSERT_EQ(X509_CRL_set_issuer_name(crl.get(), name.get()), 1);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(X509_gmtime_adj(nullptr, 0), &ASN1_TIME_free);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(X509_gmtime_adj(nullptr, 86400),
                                                             &ASN1_TIME_free);
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  ASSERT_GT(X509_CRL_sign(crl.get(), key, EVP_sha256()), 0);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "w"), &BIO_free);
  ASSERT_EQ(PEM_write_bio_X509_CRL(bio.get(), crl.get()), 1);
}

// An entry with "tls" and readable CA, certificate and key files (the key a
// real one, since parsing loads it; the certificates are not read).
class BridgeTlsConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"/ca.pem", "/client.crt"}) std::ofstream(dir_.path() + f) << "PEM\n";
    key_ = new_key();
    ASSERT_TRUE(key_);
    write_key(file("client.key"), key_.get(), key_format::plain);
  }
  std::string file(const char* name) const { return dir_.path() + "/" + name; }
  nlohmann::json entry() const {
    nlohmann::json j = valid();
    j["tls"] = true;
    j["ca_file"] = file("ca.pem");
    j["cert_file"] = file("client.crt");
    j["key_file"] = file("client.key");
    return j;
  }

  storage::testing::temp_dir dir_;
  key_ptr key_{nullptr, &EVP_PKEY_free};
};

TEST_F(BridgeTlsConfig, ParsesAndRoundTrips) {
  nlohmann::json j = entry();
  j["ca_path"] = dir_.path();
  j["insecure"] = true;
  j["tls_version"] = "tlsv1.3";
  auto c = parse_bridge_config(j);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->ca_file, file("ca.pem"));
  EXPECT_EQ(c->ca_path, dir_.path());
  EXPECT_EQ(c->cert_file, file("client.crt"));
  EXPECT_EQ(c->key_file, file("client.key"));
  EXPECT_TRUE(c->insecure);
  EXPECT_EQ(c->tls_version, "tlsv1.3");
  // Paths are not secrets: GET shows them, and what it shows posts back.
  nlohmann::json shown = to_json(*c, false);
  EXPECT_EQ(shown["key_file"], file("client.key"));
  auto again = parse_bridge_config(shown);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(to_json(*again, false), shown);
}

TEST_F(BridgeTlsConfig, DefaultsAndAClientCertificateIsOptional) {
  nlohmann::json j = entry();
  j.erase("cert_file");
  j.erase("key_file");
  auto c = parse_bridge_config(j);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->insecure);
  EXPECT_EQ(c->tls_version, "tlsv1.2");
  EXPECT_TRUE(c->cert_file.empty());
  // A CA folder instead of a CA file.
  j.erase("ca_file");
  j["ca_path"] = dir_.path();
  EXPECT_EQ(error_of(j), "");
}

TEST_F(BridgeTlsConfig, ErrorsNameTheBridgeAndTheKey) {
  std::string missing = file("missing.pem");
  expect_errors(
      entry(),
      {
          {"tls", "yes", "bridge site-b: \"tls\" must be true or false"},
          {"insecure", 1, "\"insecure\" must be true or false"},
          {"ca_file", 5, "\"ca_file\" must be a string"},
          {"ca_file", nullptr, "\"ca_file\" is required with \"tls\": true (or \"ca_path\")"},
          {"ca_file", "", "\"ca_file\" is required with \"tls\": true"},
          {"cert_file", nullptr, "\"cert_file\" is required with \"key_file\""},
          {"key_file", nullptr, "\"key_file\" is required with \"cert_file\""},
          {"tls_version", "tlsv1.1", "\"tls_version\" must be \"tlsv1.2\" or \"tlsv1.3\""},
          {"tls_version", "TLS1.2", "\"tls_version\" must be"},
          {"ca_file", missing, "bridge site-b: \"ca_file\" cannot be read: " + missing + ": No such file"},
          {"cert_file", missing, "\"cert_file\" cannot be read: " + missing},
          {"key_file", missing, "\"key_file\" cannot be read: " + missing},
          {"ca_path", missing, "\"ca_path\" cannot be read: " + missing},
          {"ca_path", file("ca.pem"), "\"ca_path\" must be a folder: " + file("ca.pem")},
          {"ca_file", dir_.path(), "\"ca_file\" must be a file: " + dir_.path()},
      });
}

TEST_F(BridgeTlsConfig, TlsKeysNeedTls) {
  for (const char* key : {"ca_file", "ca_path", "cert_file", "key_file", "insecure", "tls_version",
                          "key_password_file", "crl_file", "psk", "psk_identity"}) {
    nlohmann::json j = valid();
    j[key] = std::string(key) == "insecure" ? nlohmann::json(true) : nlohmann::json(file("ca.pem"));
    EXPECT_NE(error_of(j).find("\"" + std::string(key) + "\" needs \"tls\": true"), std::string::npos)
        << key << ": " << error_of(j);
    j["tls"] = false;
    EXPECT_NE(error_of(j).find("needs \"tls\": true"), std::string::npos) << key << ": " << error_of(j);
  }
}

// bridges.json at start: a file that went away does not make the entry
// invalid (the bridge reports it when it connects).
TEST_F(BridgeTlsConfig, FilesAreNotOpenedWhenLoadingSavedEntries) {
  nlohmann::json j = entry();
  j["ca_file"] = file("gone.pem");
  auto c = parse_bridge_config(j, file_check::skip);
  ASSERT_TRUE(c.ok()) << c.error().message();
  status s = check_tls_files(*c);
  EXPECT_NE(s.message().find("\"ca_file\" cannot be read: " + file("gone.pem")), std::string::npos)
      << s.message();
  // Syntax is still checked.
  j["tls_version"] = "sslv3";
  EXPECT_FALSE(parse_bridge_config(j, file_check::skip).ok());
}

// The passphrase of an encrypted key comes from a file; the entry names the
// file, never the passphrase.
TEST_F(BridgeTlsConfig, EncryptedKeyLoadsWithThePassphraseFromItsFile) {
  const std::string passphrase = "correct horse battery";
  for (auto format : {key_format::pkcs8_encrypted, key_format::traditional_encrypted}) {
    write_key(file("enc.key"), key_.get(), format, passphrase);
    // The first line, as `openssl -passin file:` reads it (\n or \r\n).
    for (const char* end : {"", "\n", "\r\n", "\nsecond line\n"}) {
      std::ofstream(file("key.pass")) << passphrase << end;
      nlohmann::json j = entry();
      j["key_file"] = file("enc.key");
      j["key_password_file"] = file("key.pass");
      auto c = parse_bridge_config(j);
      ASSERT_TRUE(c.ok()) << c.error().message();
      EXPECT_EQ(c->key_password_file, file("key.pass"));
      auto p = read_key_password(*c);
      ASSERT_TRUE(p.ok()) << p.error().message();
      EXPECT_EQ(*p, passphrase);
      // GET shows the path (not a secret) and nothing of the passphrase.
      nlohmann::json shown = to_json(*c, false);
      EXPECT_EQ(shown["key_password_file"], file("key.pass"));
      EXPECT_EQ(shown.dump().find("horse"), std::string::npos);
      EXPECT_EQ(to_json(*c, true).dump().find("horse"), std::string::npos);
    }
  }
}

TEST_F(BridgeTlsConfig, KeyAndPassphraseErrorsNameTheKeyButNotThePassphrase) {
  write_key(file("enc.key"), key_.get(), key_format::pkcs8_encrypted, "right-passphrase");
  std::ofstream(file("wrong.pass")) << "wrong-passphrase\n";
  std::ofstream(file("empty.pass")) << "\n";
  std::ofstream(file("garbage.key")) << "not a key\n";
  std::ofstream(file("garbage.crl")) << "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";
  nlohmann::json enc = entry();
  enc["key_file"] = file("enc.key");
  std::string missing = file("missing.pass");
  expect_errors(enc,
                {
                    {"key_password_file", nullptr,
                     "bridge site-b: \"key_file\" is encrypted: " + file("enc.key") +
                         " (give its passphrase in a file named by \"key_password_file\")"},
                    {"key_password_file", file("wrong.pass"),
                     "bridge site-b: \"key_password_file\" does not decrypt \"key_file\" " + file("enc.key")},
                    {"key_password_file", missing,
                     "\"key_password_file\" cannot be read: " + missing + ": No such file"},
                    {"key_password_file", file("empty.pass"), "\"key_password_file\" is empty"},
                    {"key_password_file", dir_.path(), "\"key_password_file\" must be a file"},
                    {"key_file", file("garbage.key"),
                     "\"key_file\" holds no private key OpenSSL can read (PEM): " + file("garbage.key")},
                });
  expect_errors(entry(),
                {
                    {"crl_file", file("garbage.crl"),
                     "\"crl_file\" holds no certificate revocation list (PEM): " + file("garbage.crl")},
                    {"crl_file", file("client.key"), "\"crl_file\" holds no certificate revocation list"},
                    {"crl_file", file("gone.crl"), "\"crl_file\" cannot be read: " + file("gone.crl")},
                });
  nlohmann::json wrong = enc;
  wrong["key_password_file"] = file("wrong.pass");
  EXPECT_EQ(error_of(wrong).find("wrong-passphrase"), std::string::npos) << error_of(wrong);
  // A passphrase file needs the key it opens.
  nlohmann::json no_key = entry();
  no_key.erase("cert_file");
  no_key.erase("key_file");
  no_key["key_password_file"] = file("wrong.pass");
  EXPECT_NE(error_of(no_key).find("\"key_password_file\" needs \"key_file\""), std::string::npos)
      << error_of(no_key);
}

// A saved bridge whose passphrase file changed: it loads at start, and the
// check the bridge runs before each attempt names the problem.
TEST_F(BridgeTlsConfig, APassphraseThatNoLongerFitsIsReportedWhenConnecting) {
  write_key(file("enc.key"), key_.get(), key_format::pkcs8_encrypted, "before");
  std::ofstream(file("key.pass")) << "before\n";
  nlohmann::json j = entry();
  j["key_file"] = file("enc.key");
  j["key_password_file"] = file("key.pass");
  ASSERT_EQ(error_of(j), "");
  std::ofstream(file("key.pass")) << "after\n";
  auto c = parse_bridge_config(j, file_check::skip);
  ASSERT_TRUE(c.ok()) << c.error().message();
  status s = check_tls_files(*c);
  EXPECT_NE(s.message().find("\"key_password_file\" does not decrypt"), std::string::npos) << s.message();
}

TEST_F(BridgeTlsConfig, CrlFileParsesAndShows) {
  write_crl(file("ca.crl"), key_.get(), "Test CA");
  // Several CRLs in one file (one per issuing CA).
  std::ofstream(file("both.crl")) << std::ifstream(file("ca.crl")).rdbuf();
  write_crl(file("other.crl"), key_.get(), "Other CA");
  std::ofstream(file("both.crl"), std::ios::app) << std::ifstream(file("other.crl")).rdbuf();
  for (const char* f : {"ca.crl", "both.crl"}) {
    nlohmann::json j = entry();
    j["crl_file"] = file(f);
    auto c = parse_bridge_config(j);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->crl_file, file(f));
    EXPECT_EQ(to_json(*c, false)["crl_file"], file(f));
  }
}

// A pre-shared key instead of certificates: no CA needed, the key masked.
TEST_F(BridgeTlsConfig, PskParsesIsMaskedAndRoundTrips) {
  nlohmann::json j = valid();
  j["tls"] = true;
  j["psk"] = "00112233445566778899aabbccddEEFF";
  j["psk_identity"] = "liandu-site-a";
  auto c = parse_bridge_config(j);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->psk, "00112233445566778899aabbccddEEFF");
  EXPECT_EQ(c->psk_identity, "liandu-site-a");
  nlohmann::json shown = to_json(*c, false);
  EXPECT_EQ(shown["psk"], password_mask);
  EXPECT_EQ(shown["psk_identity"], "liandu-site-a");
  EXPECT_EQ(shown.dump().find("aabbcc"), std::string::npos);
  EXPECT_EQ(to_json(*c, true)["psk"], "00112233445566778899aabbccddEEFF");
  // What GET shows posts back (bridge_manager swaps the stored key in).
  auto again = parse_bridge_config(shown);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->psk, password_mask);
  // Without a psk, none is shown.
  auto certs = parse_bridge_config(entry());
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(to_json(*certs, false)["psk"], "");
}

TEST_F(BridgeTlsConfig, PskErrorsNameTheKeyButNotTheKeyItself) {
  nlohmann::json psk = valid();
  psk["tls"] = true;
  psk["psk"] = "c0ffee";
  psk["psk_identity"] = "site-a";
  ASSERT_EQ(error_of(psk), "");
  const std::string both = ": a bridge authenticates with certificates or with a pre-shared key, not both";
  expect_errors(
      psk,
      {
          {"psk_identity", nullptr, "bridge site-b: \"psk_identity\" is required with \"psk\""},
          {"psk", nullptr, "bridge site-b: \"psk\" is required with \"psk_identity\""},
          {"psk", "s3cr3tzz", "\"psk\" must be the key in hexadecimal"},
          {"psk", "abc", "\"psk\" must be the key in hexadecimal"},
          {"psk", "0x00ff", "\"psk\" must be the key in hexadecimal"},
          {"psk", std::string(max_psk_hex_digits + 2, 'a'), "\"psk\" must be the key in hexadecimal"},
          {"psk", 1234, "\"psk\" must be a string"},
          {"psk_identity", std::string(max_psk_identity + 1, 'i'), "\"psk_identity\" is longer than 128"},
          {"ca_file", file("ca.pem"), "\"psk\" cannot be used with \"ca_file\"" + both},
          {"ca_path", dir_.path(), "\"psk\" cannot be used with \"ca_path\""},
          {"cert_file", file("client.crt"), "\"psk\" cannot be used with \"cert_file\""},
          {"key_file", file("client.key"), "\"psk\" cannot be used with \"key_file\""},
          {"crl_file", file("ca.pem"), "\"psk\" cannot be used with \"crl_file\""},
          {"insecure", true, "\"insecure\" has no meaning with \"psk\""},
          {"tls", false, "\"psk\" needs \"tls\": true"},
      });
  nlohmann::json bad = psk;
  bad["psk"] = "s3cr3tzz";
  EXPECT_EQ(error_of(bad).find("s3cr3tzz"), std::string::npos) << error_of(bad);
  // Without certificates, "ca_file" is still required unless there is a psk.
  psk.erase("psk");
  psk.erase("psk_identity");
  EXPECT_NE(error_of(psk).find("\"ca_file\" is required"), std::string::npos) << error_of(psk);
}

}  // namespace
}  // namespace liandu::connect::bridge
