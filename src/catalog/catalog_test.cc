#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace liandu::catalog {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<catalog> open_memory() {
  auto c = catalog::open(":memory:", options{.for_test = true});
  EXPECT_TRUE(c.ok()) << c.error().to_string();
  return std::move(c).value();
}

// A fresh directory per test, removed at the end.
class temp_dir {
 public:
  temp_dir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("liandu_catalog_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_all_files(const fs::path& dir) {
  std::string all;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST(catalog, open_creates_default_tenant) {
  auto c = open_memory();
  auto id = c->tenant_id("default");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, c->default_tenant_id());
  auto tenants = c->list_tenants();
  ASSERT_TRUE(tenants.ok());
  ASSERT_EQ(tenants->size(), 1u);
  EXPECT_EQ((*tenants)[0].name, "default");
}

TEST(catalog, bootstrap_admin_is_idempotent) {
  auto c = open_memory();
  auto first = c->bootstrap_admin(std::nullopt);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  ASSERT_EQ(first->rfind("ld_", 0), 0u);
  EXPECT_EQ(first->size(), 3u + 43u);
  auto who = c->authenticate_token(*first);
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->admin);
  EXPECT_EQ(who->tenant_id, c->default_tenant_id());
  EXPECT_EQ(who->tenant, "default");

  auto second = c->bootstrap_admin(std::nullopt);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "");
  auto third = c->bootstrap_admin(std::string("some-other-token-value"));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, "");
  EXPECT_FALSE(c->authenticate_token("some-other-token-value").ok());
}

TEST(catalog, bootstrap_admin_uses_given_token_and_survives_reopen) {
  temp_dir dir;
  std::string path = (dir.path() / "catalog.db").string();
  {
    auto c = catalog::open(path, options{.for_test = true});
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    auto t = (*c)->bootstrap_admin(std::string("env-admin-token-0123456789"));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, "env-admin-token-0123456789");
  }
  auto c = catalog::open(path, options{.for_test = true});
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  auto again = (*c)->bootstrap_admin(std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "");
  auto who = (*c)->authenticate_token("env-admin-token-0123456789");
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->admin);
}

TEST(catalog, bootstrap_admin_rejects_empty_token) {
  auto c = open_memory();
  auto t = c->bootstrap_admin(std::string());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), errc::invalid_argument);
}

TEST(catalog, secrets_are_never_stored_in_plain_text) {
  temp_dir dir;
  std::string path = (dir.path() / "catalog.db").string();
  std::string admin_secret, token_secret;
  const std::string password = "Sup3r-Secret-Passw0rd-xyz";
  {
    auto c = catalog::open(path, options{.for_test = true});
    ASSERT_TRUE(c.ok());
    auto a = (*c)->bootstrap_admin(std::nullopt);
    ASSERT_TRUE(a.ok());
    admin_secret = *a;
    auto t =
        (*c)->create_token((*c)->default_tenant_id(), "plant-1 telegraf", false, {{"plant1", {true, true}}});
    ASSERT_TRUE(t.ok());
    token_secret = t->secret;
    ASSERT_TRUE((*c)->create_user((*c)->default_tenant_id(), "alice", password, false).ok());
    // While open (the WAL file holds recent pages) ...
    std::string bytes = read_all_files(dir.path());
    ASSERT_NE(bytes.find("plant-1 telegraf"), std::string::npos);  // the file is readable plain SQLite
    EXPECT_EQ(bytes.find(admin_secret), std::string::npos);
    EXPECT_EQ(bytes.find(admin_secret.substr(3)), std::string::npos);
    EXPECT_EQ(bytes.find(token_secret.substr(3)), std::string::npos);
    EXPECT_EQ(bytes.find(password), std::string::npos);
  }
  // ... and after close (checkpointed into the main file).
  std::string bytes = read_all_files(dir.path());
  EXPECT_EQ(bytes.find(admin_secret.substr(3)), std::string::npos);
  EXPECT_EQ(bytes.find(token_secret.substr(3)), std::string::npos);
  EXPECT_EQ(bytes.find(password), std::string::npos);
  EXPECT_NE(bytes.find("$argon2id$"), std::string::npos);

  auto c = catalog::open(path, options{.for_test = true});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->authenticate_token(token_secret).ok());
  EXPECT_TRUE((*c)->authenticate_user("alice", password).ok());
}

TEST(catalog, revoked_token_is_rejected) {
  auto c = open_memory();
  auto t = c->create_token(c->default_tenant_id(), "ci", false, {{"db", {true, false}}});
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(c->authenticate_token(t->secret).ok());
  ASSERT_TRUE(c->revoke_token(c->default_tenant_id(), t->id).ok());
  auto who = c->authenticate_token(t->secret);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.error().code(), errc::unauthorized);
  auto list = c->list_tokens(c->default_tenant_id());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].revoked);
  EXPECT_EQ((*list)[0].description, "ci");
  EXPECT_EQ(c->revoke_token(c->default_tenant_id(), 999).code(), errc::not_found);
}

TEST(catalog, unknown_and_malformed_tokens_are_unauthorized) {
  auto c = open_memory();
  EXPECT_EQ(c->authenticate_token("").error().code(), errc::unauthorized);
  EXPECT_EQ(c->authenticate_token("ld_nope").error().code(), errc::unauthorized);
  EXPECT_EQ(c->authenticate_token(std::string(10000, 'x')).error().code(), errc::unauthorized);
}

TEST(catalog, token_permissions) {
  auto c = open_memory();
  int64_t t0 = c->default_tenant_id();
  ASSERT_TRUE(c->register_database(t0, "plant1").ok());
  ASSERT_TRUE(c->register_database(t0, "plant2").ok());
  ASSERT_TRUE(c->register_database(t0, "plant3").ok());
  auto tok = c->create_token(t0, "reader", false,
                             {{"plant1", *parse_permission("read")}, {"plant2", *parse_permission("write")}});
  ASSERT_TRUE(tok.ok());
  auto who = c->authenticate_token(tok->secret);
  ASSERT_TRUE(who.ok());
  EXPECT_FALSE(who->admin);
  EXPECT_TRUE(who->can_read("plant1"));
  EXPECT_FALSE(who->can_write("plant1"));
  EXPECT_FALSE(who->can_read("plant2"));
  EXPECT_TRUE(who->can_write("plant2"));
  EXPECT_FALSE(who->can_read("plant3"));
  EXPECT_TRUE(c->authorize(*who, "plant1", access::read).ok());
  EXPECT_EQ(c->authorize(*who, "plant1", access::write).code(), errc::forbidden);
  EXPECT_EQ(c->authorize(*who, "plant3", access::read).code(), errc::forbidden);
  EXPECT_EQ(c->authorize(*who, "missing", access::read).code(), errc::not_found);

  auto admin = c->create_token(t0, "admin", true, {});
  ASSERT_TRUE(admin.ok());
  auto a = c->authenticate_token(admin->secret);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(c->authorize(*a, "plant3", access::write).ok());
  EXPECT_TRUE(a->can_write("anything"));
}

TEST(catalog, unknown_tenant_is_not_found) {
  auto c = open_memory();
  EXPECT_EQ(c->create_token(4242, "x", false, {}).error().code(), errc::not_found);
  EXPECT_EQ(c->register_database(4242, "db").code(), errc::not_found);
  EXPECT_EQ(c->create_user(4242, "u", "pw", false).code(), errc::not_found);
  EXPECT_EQ(c->tenant_id("nope").error().code(), errc::not_found);
}

TEST(catalog, parse_permission) {
  EXPECT_EQ(*parse_permission("READ"), (permission{true, false}));
  EXPECT_EQ(*parse_permission("write"), (permission{false, true}));
  EXPECT_EQ(*parse_permission("All"), (permission{true, true}));
  EXPECT_EQ(parse_permission("root").error().code(), errc::invalid_argument);
}

TEST(catalog, tenant_scoping) {
  auto c = open_memory();
  int64_t a = c->default_tenant_id();
  auto b = c->create_tenant("acme");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(c->create_tenant("acme").error().code(), errc::already_exists);

  ASSERT_TRUE(c->register_database(a, "line1").ok());
  ASSERT_TRUE(c->register_database(*b, "line2").ok());
  EXPECT_EQ(c->register_database(*b, "line1").code(), errc::already_exists);
  EXPECT_EQ(*c->database_tenant("line1"), a);
  EXPECT_EQ(*c->database_tenant("line2"), *b);
  EXPECT_EQ(c->database_tenant("nope").error().code(), errc::not_found);
  EXPECT_EQ(*c->list_databases(a), std::vector<std::string>{"line1"});
  EXPECT_EQ(*c->list_databases(*b), std::vector<std::string>{"line2"});

  auto b_admin = c->create_token(*b, "acme admin", true, {});
  ASSERT_TRUE(b_admin.ok());
  auto who = c->authenticate_token(b_admin->secret);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->tenant, "acme");
  // An admin of B is admin only within B: A's database looks like it does not exist.
  EXPECT_EQ(c->authorize(*who, "line1", access::read).code(), errc::not_found);
  EXPECT_TRUE(c->authorize(*who, "line2", access::write).ok());
  // Even a grant naming A's database does not cross tenants.
  auto sneaky = c->create_token(*b, "sneaky", false, {{"line1", {true, true}}});
  ASSERT_TRUE(sneaky.ok());
  auto s = c->authenticate_token(sneaky->secret);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(c->authorize(*s, "line1", access::read).code(), errc::not_found);

  // Tokens are listed and revoked per tenant.
  auto a_tok = c->create_token(a, "a token", false, {});
  ASSERT_TRUE(a_tok.ok());
  EXPECT_EQ(c->list_tokens(*b)->size(), 2u);
  EXPECT_EQ(c->list_tokens(a)->size(), 1u);
  EXPECT_EQ(c->revoke_token(*b, a_tok->id).code(), errc::not_found);
  EXPECT_TRUE(c->authenticate_token(a_tok->secret).ok());

  // Dropping is per tenant too.
  EXPECT_EQ(c->unregister_database(*b, "line1").code(), errc::not_found);
  EXPECT_TRUE(c->unregister_database(a, "line1").ok());
  EXPECT_EQ(c->database_tenant("line1").error().code(), errc::not_found);
}

TEST(catalog, unregister_drops_grants) {
  auto c = open_memory();
  int64_t t = c->default_tenant_id();
  ASSERT_TRUE(c->register_database(t, "db1").ok());
  auto tok = c->create_token(t, "w", false, {{"db1", {true, true}}});
  ASSERT_TRUE(tok.ok());
  // Looked up once before, so that a cached principal or owner would show.
  auto before = c->authenticate_token(tok->secret);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->can_read("db1"));
  ASSERT_TRUE(c->authorize(*before, "db1", access::write).ok());
  ASSERT_TRUE(c->unregister_database(t, "db1").ok());
  EXPECT_EQ(c->database_tenant("db1").error().code(), errc::not_found);
  EXPECT_EQ(c->authorize(*before, "db1", access::read).code(), errc::not_found);
  ASSERT_TRUE(c->register_database(t, "db1").ok());
  auto who = c->authenticate_token(tok->secret);
  ASSERT_TRUE(who.ok());
  EXPECT_FALSE(who->can_read("db1"));
  // The name, dropped and taken by another tenant, belongs to that tenant.
  ASSERT_TRUE(c->unregister_database(t, "db1").ok());
  auto other = c->create_tenant("other");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(c->register_database(*other, "db1").ok());
  auto owner = c->database_tenant("db1");
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, *other);
}

TEST(catalog, users_and_wrong_password) {
  auto c = open_memory();
  int64_t t = c->default_tenant_id();
  ASSERT_TRUE(c->create_user(t, "bob", "correct horse", false).ok());
  EXPECT_EQ(c->create_user(t, "bob", "x", false).code(), errc::already_exists);
  EXPECT_EQ(c->create_user(t, "", "x", false).code(), errc::invalid_argument);
  EXPECT_EQ(c->create_user(t, "carol", "", false).code(), errc::invalid_argument);

  auto bad = c->authenticate_user("bob", "wrong horse");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), errc::unauthorized);
  auto unknown = c->authenticate_user("nobody", "correct horse");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), errc::unauthorized);
  EXPECT_EQ(unknown.error().message(), bad.error().message());

  for (int i = 0; i < 2; ++i) {  // second round goes through the login cache
    auto ok = c->authenticate_user("bob", "correct horse");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->subject, "bob");
    EXPECT_FALSE(ok->admin);
    EXPECT_FALSE(c->authenticate_user("bob", "correct horsE").ok());
  }

  ASSERT_TRUE(c->set_password("bob", "battery staple").ok());
  EXPECT_FALSE(c->authenticate_user("bob", "correct horse").ok());
  EXPECT_TRUE(c->authenticate_user("bob", "battery staple").ok());

  ASSERT_TRUE(c->set_user_permission(t, "bob", "db1", {true, false}).ok());
  auto who = c->authenticate_user("bob", "battery staple");
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->can_read("db1"));
  EXPECT_FALSE(who->can_write("db1"));
  ASSERT_TRUE(c->set_user_permission(t, "bob", "db1", {}).ok());
  EXPECT_FALSE(c->authenticate_user("bob", "battery staple")->can_read("db1"));

  auto users = c->list_users(t);
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].name, "bob");

  ASSERT_TRUE(c->delete_user(t, "bob").ok());
  EXPECT_FALSE(c->authenticate_user("bob", "battery staple").ok());
}

TEST(catalog, admin_user_counts_for_bootstrap) {
  auto c = open_memory();
  ASSERT_TRUE(c->create_user(c->default_tenant_id(), "root", "pw", true).ok());
  auto who = c->authenticate_user("root", "pw");
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->admin);
  EXPECT_EQ(*c->bootstrap_admin(std::nullopt), "");
}

TEST(catalog, webhook_receivers_are_per_tenant_and_survive_reopen) {
  temp_dir dir;
  std::string path = (dir.path() / "catalog.db").string();
  int64_t other = 0;
  {
    auto c = catalog::open(path, options{.for_test = true});
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    int64_t mine = (*c)->default_tenant_id();
    auto t = (*c)->create_tenant("other");
    ASSERT_TRUE(t.ok());
    other = *t;
    ASSERT_TRUE((*c)->put_webhook(mine, {"ops", "http://127.0.0.1:9/hook", "k1", 0}).ok());
    ASSERT_TRUE((*c)->put_webhook(other, {"ops", "http://10.0.0.1/x", "", 0}).ok());
    // put replaces.
    ASSERT_TRUE((*c)->put_webhook(mine, {"ops", "http://127.0.0.1:8/hook", "k2", 0}).ok());
    ASSERT_TRUE((*c)->put_webhook(mine, {"audit", "http://h", "", 0}).ok());
  }
  // Owner only: the file holds webhook secrets and credential hashes.
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto c = catalog::open(path, options{.for_test = true});
  ASSERT_TRUE(c.ok());
  int64_t mine = (*c)->default_tenant_id();
  auto w = (*c)->webhook(mine, "ops");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->url, "http://127.0.0.1:8/hook");
  EXPECT_EQ(w->secret, "k2");
  EXPECT_EQ((*c)->webhook(other, "ops")->url, "http://10.0.0.1/x");
  auto list = (*c)->list_webhooks(mine);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "audit");
  EXPECT_EQ((*list)[1].name, "ops");
  // Another tenant's receiver is not found, nor deletable.
  EXPECT_EQ((*c)->webhook(other, "audit").error().code(), errc::not_found);
  EXPECT_EQ((*c)->delete_webhook(other, "audit").code(), errc::not_found);
  ASSERT_TRUE((*c)->delete_webhook(mine, "audit").ok());
  EXPECT_EQ((*c)->webhook(mine, "audit").error().code(), errc::not_found);
  EXPECT_TRUE((*c)->webhook(mine, "ops").ok());
}

TEST(catalog, webhook_receiver_validation) {
  auto c = open_memory();
  int64_t t = c->default_tenant_id();
  auto bad = [&](webhook_receiver w, const std::string& says) {
    status s = c->put_webhook(t, w);
    EXPECT_EQ(s.code(), errc::invalid_argument) << w.name << " " << w.url;
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
  };
  bad({"", "http://h", "", 0}, "1 to 128");
  bad({std::string(129, 'a'), "http://h", "", 0}, "1 to 128");
  bad({"a b", "http://h", "", 0}, "only A-Z");
  bad({"ok", "ftp://h", "", 0}, "http://host");
  bad({"ok", "http://", "", 0}, "http://host");
  bad({"ok", "http:///path", "", 0}, "http://host");
  bad({"ok", "https://", "", 0}, "https://host");
  bad({"ok", "https:///path", "", 0}, "https://host");
  bad({"ok", "https//h", "", 0}, "http://host");
  bad({"ok", "https://h/a b", "", 0}, "space or control");
  bad({"ok", "http://h/a b", "", 0}, "space or control");
  bad({"ok", "http://h/" + std::string(2048, 'x'), "", 0}, "2048");
  bad({"ok", "http://h", std::string(4097, 's'), 0}, "secret");
  EXPECT_TRUE(c->put_webhook(t, {"Ops-1.a:b_c", "http://h:8080/p?q=1", "", 0}).ok());
  // https:// receivers: the server verifies their certificate at delivery.
  EXPECT_TRUE(c->put_webhook(t, {"tls", "https://hooks.example.com/p?q=1", "", 0}).ok());
  EXPECT_TRUE(c->put_webhook(t, {"tls-port", "https://127.0.0.1:8443", "k", 0}).ok());
  EXPECT_EQ(c->webhook(t, "tls")->url, "https://hooks.example.com/p?q=1");
}

TEST(catalog, concurrent_authentication) {
  auto c = open_memory();
  auto tok = c->create_token(c->default_tenant_id(), "t", true, {});
  ASSERT_TRUE(tok.ok());
  ASSERT_TRUE(c->create_user(c->default_tenant_id(), "u", "pw", false).ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 50; ++j) {
        if (!c->authenticate_token(tok->secret).ok()) ++failures;
        if (!c->authenticate_user("u", "pw").ok()) ++failures;
        if (j == 0) {
          (void)c->register_database(c->default_tenant_id(), "db" + std::to_string(i));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(c->list_databases(c->default_tenant_id())->size(), 8u);
}

}  // namespace
}  // namespace liandu::catalog
