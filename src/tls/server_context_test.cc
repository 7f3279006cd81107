#include "tls/server_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <filesystem>

#include "tls/testing/self_signed.h"

namespace liandu::tls {
namespace {

class server_context_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("liandu_tls_context_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(testing::write_self_signed(path("cert.pem"), path("key.pem")));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

TEST_F(server_context_test, good_pair_makes_a_tls_1_2_and_up_context) {
  auto ctx = make_server_context(path("cert.pem"), path("key.pem"));
  ASSERT_TRUE(ctx.ok()) << ctx.error().to_string();
  ASSERT_NE(*ctx, nullptr);
  SSL_CTX* native = (*ctx)->native_handle();
  EXPECT_EQ(SSL_CTX_check_private_key(native), 1);
  EXPECT_NE(SSL_CTX_get0_certificate(native), nullptr);
  uint64_t refused = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
  EXPECT_EQ(SSL_CTX_get_options(native) & refused, refused);
}

TEST_F(server_context_test, missing_certificate_names_the_file) {
  auto ctx = make_server_context(path("absent-cert.pem"), path("key.pem"));
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().code(), errc::io_error);
  EXPECT_EQ(ctx.error().message(), "certificate " + path("absent-cert.pem") + ": No such file or directory");
}

TEST_F(server_context_test, missing_key_names_the_file) {
  auto ctx = make_server_context(path("cert.pem"), path("absent-key.pem"));
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().code(), errc::io_error);
  EXPECT_EQ(ctx.error().message(), "private key " + path("absent-key.pem") + ": No such file or directory");
}

TEST_F(server_context_test, key_of_another_certificate_names_the_key_file) {
  ASSERT_TRUE(testing::write_self_signed(path("other-cert.pem"), path("other-key.pem")));
  auto ctx = make_server_context(path("cert.pem"), path("other-key.pem"));
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error().code(), errc::io_error);
  EXPECT_EQ(ctx.error().message(), "private key " + path("other-key.pem") + ": key values mismatch");
}

}  // namespace
}  // namespace liandu::tls
