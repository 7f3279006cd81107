#include "catalog/catalog.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "base/identifier.h"

namespace liandu::catalog {

namespace {

// Schema version 1. Bump user_version and migrate when a table changes.
constexpr int schema_version = 1;

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS tenants(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL,
  created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_permissions(
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  db TEXT NOT NULL,
  can_read INTEGER NOT NULL,
  can_write INTEGER NOT NULL,
  PRIMARY KEY(user_id, db));
CREATE TABLE IF NOT EXISTS tokens(
  id INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  hash BLOB NOT NULL UNIQUE,
  description TEXT NOT NULL,
  admin INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS token_permissions(
  token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
  db TEXT NOT NULL,
  can_read INTEGER NOT NULL,
  can_write INTEGER NOT NULL,
  PRIMARY KEY(token_id, db));
CREATE TABLE IF NOT EXISTS databases(
  name TEXT PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks(
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY(tenant_id, name));
)sql";

constexpr size_t token_bytes = 32;
constexpr size_t token_hash_bytes = 32;
constexpr size_t max_name_bytes = 255;
constexpr size_t max_secret_bytes = 4096;

using token_hash = std::array<unsigned char, token_hash_bytes>;

token_hash hash_token(std::string_view secret) {
  token_hash h;
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     nullptr, 0);
  return h;
}

std::string generate_secret() {
  unsigned char raw[token_bytes];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(token_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  return std::string(token_prefix) + b64;
}

status validate_name(std::string_view what, std::string_view name) {
  if (name.empty()) return error(errc::invalid_argument, std::string(what) + " name is empty");
  if (name.size() > max_name_bytes) {
    return error(errc::invalid_argument, std::string(what) + " name longer than 255 bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return error(errc::invalid_argument, std::string(what) + " name has a control character");
    }
  }
  return {};
}

constexpr size_t max_url_bytes = 2048;

status validate_webhook(const webhook_receiver& w) {
  if (w.name.empty() || w.name.size() > max_identifier_bytes) {
    return error(errc::invalid_argument, "webhook name must be 1 to 128 characters");
  }
  if (!is_identifier(w.name)) {
    return error(errc::invalid_argument, "webhook name may hold only A-Z a-z 0-9 _ - . :");
  }
  if (w.url.size() > max_url_bytes)
    return error(errc::invalid_argument, "webhook url longer than 2048 bytes");
  size_t host = w.url.rfind("http://", 0) == 0 ? 7 : w.url.rfind("https://", 0) == 0 ? 8 : 0;
  if (host == 0 || w.url.size() == host || w.url[host] == '/') {
    return error(errc::invalid_argument,
                 "webhook url must be http://host[:port][/path] or https://host[:port][/path]");
  }
  for (unsigned char c : w.url) {
    if (c <= 0x20 || c == 0x7f)
      return error(errc::invalid_argument, "webhook url has a space or control character");
  }
  if (w.secret.size() > max_secret_bytes) {
    return error(errc::invalid_argument, "webhook secret longer than 4096 bytes");
  }
  return {};
}

// Thin RAII wrapper over a prepared statement; columns and parameters are
// 1-based for bind and 0-based for reads, as in SQLite.
class stmt {
 public:
  stmt(sqlite3* db, const char* sql) : db_(db) {
    prepare_rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
    rc_ = prepare_rc_;
  }
  ~stmt() { sqlite3_finalize(s_); }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  bool prepared() const { return prepare_rc_ == SQLITE_OK; }
  stmt& bind(int i, int64_t v) {
    if (prepared()) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  stmt& bind(int i, std::string_view v) {
    if (prepared()) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  stmt& bind(int i, const token_hash& h) {
    if (prepared()) sqlite3_bind_blob(s_, i, h.data(), static_cast<int>(h.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    if (!prepared()) return rc_;
    rc_ = sqlite3_step(s_);
    return rc_;
  }
  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  // Converts the last step's code into a status.
  status error_status(std::string_view what) const {
    errc code = errc::io_error;
    if (rc_ == SQLITE_CONSTRAINT_FOREIGNKEY) {
      code = errc::not_found;  // e.g. a tenant id that does not exist
    } else if ((rc_ & 0xff) == SQLITE_CONSTRAINT) {
      code = errc::already_exists;
    }
    return error(code, std::string(what) + ": " + sqlite3_errmsg(db_));
  }
  // Runs a statement that returns no rows.
  status run(std::string_view what) {
    int rc = step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return error_status(what);
    return {};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int prepare_rc_;
  int rc_;
};

status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown";
    sqlite3_free(msg);
    return error(errc::io_error, "catalog: " + m);
  }
  return {};
}

// Rolls back unless commit() succeeded. Caller holds the catalog mutex.
class transaction {
 public:
  explicit transaction(sqlite3* db) : db_(db) { begun_ = exec(db, "BEGIN IMMEDIATE"); }
  ~transaction() {
    if (begun_.ok() && !done_) exec(db_, "ROLLBACK");
  }
  const status& begun() const { return begun_; }
  status commit() {
    status s = exec(db_, "COMMIT");
    if (s.ok()) done_ = true;
    return s;
  }

 private:
  sqlite3* db_;
  status begun_;
  bool done_ = false;
};

result<permission_map> load_permissions(sqlite3* db, const char* sql, int64_t owner) {
  stmt q(db, sql);
  q.bind(1, owner);
  permission_map perms;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    perms[q.text(0)] = permission{q.int64(1) != 0, q.int64(2) != 0};
  }
  if (rc != SQLITE_DONE) return q.error_status("load permissions");
  return perms;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool has_permission(const permission_map& perms, std::string_view db, access a) {
  auto it = perms.find(db);
  if (it == perms.end()) return false;
  return a == access::read ? it->second.read : it->second.write;
}

}  // namespace

result<permission> parse_permission(std::string_view text) {
  if (iequals(text, "read")) return permission{true, false};
  if (iequals(text, "write")) return permission{false, true};
  if (iequals(text, "all")) return permission{true, true};
  return error(errc::invalid_argument, "unknown permission: " + std::string(text));
}

bool principal::can_read(std::string_view db) const {
  return admin || has_permission(permissions, db, access::read);
}

bool principal::can_write(std::string_view db) const {
  return admin || has_permission(permissions, db, access::write);
}

struct catalog::cached_login {
  std::string stored_hash;  // the Argon2id string this entry was verified against
  std::array<unsigned char, crypto_generichash_KEYBYTES> salt;
  std::array<unsigned char, 32> digest;  // BLAKE2b keyed by salt over the password

  void compute(std::string_view password, unsigned char* out) const {
    crypto_generichash(out, digest.size(), reinterpret_cast<const unsigned char*>(password.data()),
                       password.size(), salt.data(), salt.size());
  }
  bool matches(std::string_view stored, std::string_view password) const {
    if (stored != stored_hash) return false;
    std::array<unsigned char, 32> d;
    compute(password, d.data());
    return sodium_memcmp(d.data(), digest.data(), d.size()) == 0;
  }
};

catalog::catalog(options opts) : opts_(opts) {}

catalog::~catalog() {
  if (db_) sqlite3_close_v2(db_);
}

result<std::unique_ptr<catalog>> catalog::open(const std::string& path, options opts) {
  if (sodium_init() < 0) return error(errc::internal, "catalog: libsodium failed to initialise");
  std::unique_ptr<catalog> c(new catalog(opts));
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (path != ":memory:") {
    // Owner only: it holds password and token hashes and webhook secrets.
    // SQLite gives its -wal and -shm files the same mode.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return error(errc::io_error, "catalog: cannot open " + path + ": " + std::strerror(errno));
    bool private_mode = ::fchmod(fd, 0600) == 0;
    ::close(fd);
    if (!private_mode)
      return error(errc::io_error, "catalog: cannot make " + path + " private: " + std::strerror(errno));
  }
  if (sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = c->db_ ? sqlite3_errmsg(c->db_) : "out of memory";
    return error(errc::io_error, "catalog: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(c->db_, 5000);
  sqlite3_extended_result_codes(c->db_, 1);
  LIANDU_RETURN_IF_ERROR(c->init_schema());
  return c;
}

status catalog::init_schema() {
  std::lock_guard lock(mu_);
  LIANDU_RETURN_IF_ERROR(exec(db_, "PRAGMA foreign_keys=ON"));
  // WAL journal for file catalogs; ignored (stays "memory") for ":memory:".
  LIANDU_RETURN_IF_ERROR(exec(db_, "PRAGMA journal_mode=WAL"));
  LIANDU_RETURN_IF_ERROR(exec(db_, "PRAGMA synchronous=FULL"));
  {
    stmt v(db_, "PRAGMA user_version");
    if (v.step() != SQLITE_ROW) return v.error_status("catalog: read schema version");
    if (v.int64(0) > schema_version) {
      return error(errc::unsupported, "catalog: schema version " + std::to_string(v.int64(0)) +
                                          " is newer than this binary supports");
    }
  }
  transaction tx(db_);
  LIANDU_RETURN_IF_ERROR(tx.begun());
  LIANDU_RETURN_IF_ERROR(exec(db_, schema_sql));
  LIANDU_RETURN_IF_ERROR(exec(db_, "PRAGMA user_version=1"));
  {
    stmt ins(db_, "INSERT OR IGNORE INTO tenants(name, created_ns) VALUES(?, ?)");
    ins.bind(1, default_tenant_name).bind(2, now_ns());
    LIANDU_RETURN_IF_ERROR(ins.run("catalog: create default tenant"));
  }
  {
    stmt q(db_, "SELECT id FROM tenants WHERE name = ?");
    q.bind(1, default_tenant_name);
    if (q.step() != SQLITE_ROW) return q.error_status("catalog: find default tenant");
    default_tenant_id_ = q.int64(0);
  }
  return tx.commit();
}

result<int64_t> catalog::create_tenant(std::string_view name) {
  LIANDU_RETURN_IF_ERROR(validate_name("tenant", name));
  std::lock_guard lock(mu_);
  stmt ins(db_, "INSERT INTO tenants(name, created_ns) VALUES(?, ?)");
  ins.bind(1, name).bind(2, now_ns());
  LIANDU_RETURN_IF_ERROR(ins.run("create tenant " + std::string(name)));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

result<int64_t> catalog::tenant_id(std::string_view name) {
  std::lock_guard lock(mu_);
  stmt q(db_, "SELECT id FROM tenants WHERE name = ?");
  q.bind(1, name);
  int rc = q.step();
  if (rc == SQLITE_ROW) return q.int64(0);
  if (rc == SQLITE_DONE) return error(errc::not_found, "tenant not found: " + std::string(name));
  return q.error_status("find tenant");
}

result<std::vector<tenant_info>> catalog::list_tenants() {
  std::lock_guard lock(mu_);
  stmt q(db_, "SELECT id, name FROM tenants ORDER BY id");
  std::vector<tenant_info> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back({q.int64(0), q.text(1)});
  if (rc != SQLITE_DONE) return q.error_status("list tenants");
  return out;
}

status catalog::insert_token(int64_t tenant, std::string_view secret, std::string_view description,
                             bool admin, const permission_map& perms, int64_t* id) {
  transaction tx(db_);
  LIANDU_RETURN_IF_ERROR(tx.begun());
  {
    stmt ins(db_,
             "INSERT INTO tokens(tenant_id, hash, description, admin, created_ns) VALUES(?, ?, ?, ?, ?)");
    ins.bind(1, tenant)
        .bind(2, hash_token(secret))
        .bind(3, description)
        .bind(4, int64_t{admin})
        .bind(5, now_ns());
    LIANDU_RETURN_IF_ERROR(ins.run("create token"));
  }
  *id = sqlite3_last_insert_rowid(db_);
  for (const auto& [db, p] : perms) {
    if (!p.read && !p.write) continue;
    stmt ins(db_, "INSERT INTO token_permissions(token_id, db, can_read, can_write) VALUES(?, ?, ?, ?)");
    ins.bind(1, *id).bind(2, db).bind(3, int64_t{p.read}).bind(4, int64_t{p.write});
    LIANDU_RETURN_IF_ERROR(ins.run("create token permission"));
  }
  return tx.commit();
}

result<std::string> catalog::bootstrap_admin(std::optional<std::string> token) {
  if (token && (token->empty() || token->size() > max_secret_bytes)) {
    return error(errc::invalid_argument, "admin token must be 1 to 4096 bytes");
  }
  std::lock_guard lock(mu_);
  stmt q(db_,
         "SELECT 1 FROM tokens WHERE admin = 1 AND revoked = 0 "
         "UNION ALL SELECT 1 FROM users WHERE admin = 1 LIMIT 1");
  int rc = q.step();
  if (rc == SQLITE_ROW) return std::string();
  if (rc != SQLITE_DONE) return q.error_status("bootstrap admin");
  std::string secret = token ? std::move(*token) : generate_secret();
  int64_t id = 0;
  LIANDU_RETURN_IF_ERROR(insert_token(default_tenant_id_, secret, "bootstrap admin", true, {}, &id));
  return secret;
}

result<new_token> catalog::create_token(int64_t tenant, std::string_view description, bool admin,
                                        const permission_map& perms) {
  for (const auto& [db, p] : perms) LIANDU_RETURN_IF_ERROR(validate_name("database", db));
  new_token t;
  t.secret = generate_secret();
  std::lock_guard lock(mu_);
  LIANDU_RETURN_IF_ERROR(insert_token(tenant, t.secret, description, admin, perms, &t.id));
  return t;
}

result<std::vector<token_info>> catalog::list_tokens(int64_t tenant) {
  std::lock_guard lock(mu_);
  stmt q(db_,
         "SELECT id, tenant_id, description, admin, created_ns, revoked FROM tokens "
         "WHERE tenant_id = ? ORDER BY id");
  q.bind(1, tenant);
  std::vector<token_info> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    token_info t;
    t.id = q.int64(0);
    t.tenant_id = q.int64(1);
    t.description = q.text(2);
    t.admin = q.int64(3) != 0;
    t.created_ns = q.int64(4);
    t.revoked = q.int64(5) != 0;
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return q.error_status("list tokens");
  for (auto& t : out) {
    auto perms = load_permissions(
        db_, "SELECT db, can_read, can_write FROM token_permissions WHERE token_id = ?", t.id);
    if (!perms) return perms.error();
    t.permissions = std::move(*perms);
  }
  return out;
}

status catalog::revoke_token(int64_t tenant, int64_t id) {
  std::lock_guard lock(mu_);
  stmt u(db_, "UPDATE tokens SET revoked = 1 WHERE id = ? AND tenant_id = ?");
  u.bind(1, id).bind(2, tenant);
  LIANDU_RETURN_IF_ERROR(u.run("revoke token"));
  if (sqlite3_changes(db_) == 0) return error(errc::not_found, "token not found: " + std::to_string(id));
  token_cache_.clear();  // keyed by hash, not id; revocations are rare
  return {};
}

namespace {
// A row of SELECT name, url, secret, created_ns FROM webhooks.
webhook_receiver webhook_row(const stmt& q) { return {q.text(0), q.text(1), q.text(2), q.int64(3)}; }
}  // namespace

status catalog::put_webhook(int64_t tenant, const webhook_receiver& w) {
  LIANDU_RETURN_IF_ERROR(validate_webhook(w));
  std::lock_guard lock(mu_);
  stmt ins(db_,
           "INSERT INTO webhooks(tenant_id, name, url, secret, created_ns) VALUES(?, ?, ?, ?, ?) "
           "ON CONFLICT(tenant_id, name) DO UPDATE SET url = excluded.url, secret = excluded.secret");
  ins.bind(1, tenant).bind(2, w.name).bind(3, w.url).bind(4, w.secret).bind(5, now_ns());
  return ins.run("store webhook");
}

result<webhook_receiver> catalog::webhook(int64_t tenant, std::string_view name) {
  std::lock_guard lock(mu_);
  stmt q(db_, "SELECT name, url, secret, created_ns FROM webhooks WHERE tenant_id = ? AND name = ?");
  q.bind(1, tenant).bind(2, name);
  int rc = q.step();
  if (rc == SQLITE_ROW) return webhook_row(q);
  if (rc == SQLITE_DONE) return error(errc::not_found, "webhook receiver not found: " + std::string(name));
  return q.error_status("find webhook");
}

result<std::vector<webhook_receiver>> catalog::list_webhooks(int64_t tenant) {
  std::lock_guard lock(mu_);
  stmt q(db_, "SELECT name, url, secret, created_ns FROM webhooks WHERE tenant_id = ? ORDER BY name");
  q.bind(1, tenant);
  std::vector<webhook_receiver> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(webhook_row(q));
  if (rc != SQLITE_DONE) return q.error_status("list webhooks");
  return out;
}

status catalog::delete_webhook(int64_t tenant, std::string_view name) {
  std::lock_guard lock(mu_);
  stmt d(db_, "DELETE FROM webhooks WHERE tenant_id = ? AND name = ?");
  d.bind(1, tenant).bind(2, name);
  LIANDU_RETURN_IF_ERROR(d.run("delete webhook"));
  if (sqlite3_changes(db_) == 0)
    return error(errc::not_found, "webhook receiver not found: " + std::string(name));
  return {};
}

result<std::string> catalog::hash_password(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  unsigned long long ops = opts_.for_test ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t mem = opts_.for_test ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (crypto_pwhash_str(out, password.data(), password.size(), ops, mem) != 0) {
    return error(errc::internal, "password hashing ran out of memory");
  }
  return std::string(out);
}

status catalog::create_user(int64_t tenant, std::string_view name, std::string_view password, bool admin) {
  LIANDU_RETURN_IF_ERROR(validate_name("user", name));
  if (password.empty()) return error(errc::invalid_argument, "password is empty");
  // Hash before taking the lock: Argon2id is slow on purpose.
  auto hashed = hash_password(password);
  if (!hashed) return hashed.error();
  std::lock_guard lock(mu_);
  stmt ins(db_, "INSERT INTO users(tenant_id, name, password_hash, admin, created_ns) VALUES(?, ?, ?, ?, ?)");
  ins.bind(1, tenant).bind(2, name).bind(3, *hashed).bind(4, int64_t{admin}).bind(5, now_ns());
  status s = ins.run("create user " + std::string(name));
  if (s.code() == errc::already_exists) return error(errc::already_exists, "user already exists");
  return s;
}

status catalog::set_password(std::string_view name, std::string_view password) {
  if (password.empty()) return error(errc::invalid_argument, "password is empty");
  auto hashed = hash_password(password);
  if (!hashed) return hashed.error();
  std::lock_guard lock(mu_);
  stmt u(db_, "UPDATE users SET password_hash = ? WHERE name = ?");
  u.bind(1, *hashed).bind(2, name);
  LIANDU_RETURN_IF_ERROR(u.run("set password"));
  if (sqlite3_changes(db_) == 0) return error(errc::not_found, "user not found: " + std::string(name));
  // Cache entries carry the stored hash they were checked against, so they no
  // longer match; drop them anyway to free the memory.
  login_cache_.clear();
  return {};
}

status catalog::delete_user(int64_t tenant, std::string_view name) {
  std::lock_guard lock(mu_);
  int64_t uid = 0;
  {
    stmt q(db_, "SELECT id FROM users WHERE name = ? AND tenant_id = ?");
    q.bind(1, name).bind(2, tenant);
    int rc = q.step();
    if (rc == SQLITE_DONE) return error(errc::not_found, "user not found: " + std::string(name));
    if (rc != SQLITE_ROW) return q.error_status("delete user");
    uid = q.int64(0);
  }
  stmt d(db_, "DELETE FROM users WHERE id = ?");
  d.bind(1, uid);
  LIANDU_RETURN_IF_ERROR(d.run("delete user"));
  login_cache_.erase(uid);
  return {};
}

status catalog::set_user_permission(int64_t tenant, std::string_view name, std::string_view db,
                                    permission p) {
  LIANDU_RETURN_IF_ERROR(validate_name("database", db));
  std::lock_guard lock(mu_);
  int64_t uid = 0;
  {
    stmt q(db_, "SELECT id FROM users WHERE name = ? AND tenant_id = ?");
    q.bind(1, name).bind(2, tenant);
    int rc = q.step();
    if (rc == SQLITE_DONE) return error(errc::not_found, "user not found: " + std::string(name));
    if (rc != SQLITE_ROW) return q.error_status("set permission");
    uid = q.int64(0);
  }
  if (!p.read && !p.write) {
    stmt d(db_, "DELETE FROM user_permissions WHERE user_id = ? AND db = ?");
    d.bind(1, uid).bind(2, db);
    return d.run("revoke permission");
  }
  stmt u(
      db_,
      "INSERT INTO user_permissions(user_id, db, can_read, can_write) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(user_id, db) DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write");
  u.bind(1, uid).bind(2, db).bind(3, int64_t{p.read}).bind(4, int64_t{p.write});
  return u.run("set permission");
}

result<std::vector<user_info>> catalog::list_users(int64_t tenant) {
  std::lock_guard lock(mu_);
  stmt q(db_, "SELECT id, tenant_id, name, admin FROM users WHERE tenant_id = ? ORDER BY name");
  q.bind(1, tenant);
  std::vector<user_info> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    user_info u;
    u.id = q.int64(0);
    u.tenant_id = q.int64(1);
    u.name = q.text(2);
    u.admin = q.int64(3) != 0;
    out.push_back(std::move(u));
  }
  if (rc != SQLITE_DONE) return q.error_status("list users");
  for (auto& u : out) {
    auto perms =
        load_permissions(db_, "SELECT db, can_read, can_write FROM user_permissions WHERE user_id = ?", u.id);
    if (!perms) return perms.error();
    u.permissions = std::move(*perms);
  }
  return out;
}

result<principal> catalog::authenticate_token(std::string_view secret) {
  if (secret.empty() || secret.size() > max_secret_bytes) return error(errc::unauthorized, "invalid token");
  token_hash h = hash_token(secret);
  std::string key(reinterpret_cast<const char*>(h.data()), h.size());
  std::lock_guard lock(mu_);
  if (auto it = token_cache_.find(key); it != token_cache_.end()) return it->second;
  stmt q(db_,
         "SELECT t.id, t.tenant_id, n.name, t.admin, t.revoked FROM tokens t "
         "JOIN tenants n ON n.id = t.tenant_id WHERE t.hash = ?");
  q.bind(1, h);
  int rc = q.step();
  if (rc == SQLITE_DONE) return error(errc::unauthorized, "invalid token");
  if (rc != SQLITE_ROW) return q.error_status("authenticate token");
  if (q.int64(4) != 0) return error(errc::unauthorized, "invalid token");
  principal p;
  int64_t id = q.int64(0);
  p.tenant_id = q.int64(1);
  p.tenant = q.text(2);
  p.subject = "token:" + std::to_string(id);
  p.admin = q.int64(3) != 0;
  auto perms =
      load_permissions(db_, "SELECT db, can_read, can_write FROM token_permissions WHERE token_id = ?", id);
  if (!perms) return perms.error();
  p.permissions = std::move(*perms);
  if (token_cache_.size() >= max_cached_entries) token_cache_.clear();
  token_cache_.emplace(std::move(key), p);
  return p;
}

result<principal> catalog::load_user_principal(int64_t user_id) {
  stmt q(db_,
         "SELECT u.tenant_id, n.name, u.name, u.admin FROM users u "
         "JOIN tenants n ON n.id = u.tenant_id WHERE u.id = ?");
  q.bind(1, user_id);
  int rc = q.step();
  if (rc == SQLITE_DONE) return error(errc::unauthorized, "authorization failed");
  if (rc != SQLITE_ROW) return q.error_status("authenticate user");
  principal p;
  p.tenant_id = q.int64(0);
  p.tenant = q.text(1);
  p.subject = q.text(2);
  p.admin = q.int64(3) != 0;
  auto perms = load_permissions(db_, "SELECT db, can_read, can_write FROM user_permissions WHERE user_id = ?",
                                user_id);
  if (!perms) return perms.error();
  p.permissions = std::move(*perms);
  return p;
}

result<principal> catalog::authenticate_user(std::string_view name, std::string_view password) {
  int64_t uid = 0;
  bool found = false;
  std::string stored;
  std::shared_ptr<cached_login> cached;
  {
    std::lock_guard lock(mu_);
    stmt q(db_, "SELECT id, password_hash FROM users WHERE name = ?");
    q.bind(1, name);
    int rc = q.step();
    if (rc == SQLITE_ROW) {
      found = true;
      uid = q.int64(0);
      stored = q.text(1);
      auto it = login_cache_.find(uid);
      if (it != login_cache_.end()) cached = it->second;
    } else if (rc != SQLITE_DONE) {
      return q.error_status("authenticate user");
    }
  }
  if (!found) {
    // Spend about the time a real check costs, so response time does not tell
    // which user names exist.
    std::call_once(dummy_once_, [this] {
      auto h = hash_password("liandu-dummy-password");
      if (h) dummy_hash_ = std::move(*h);
    });
    if (!dummy_hash_.empty()) {
      int ignored = crypto_pwhash_str_verify(dummy_hash_.c_str(), password.data(), password.size());
      (void)ignored;
    }
    return error(errc::unauthorized, "authorization failed");
  }
  if (!(cached && cached->matches(stored, password))) {
    if (crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) != 0) {
      return error(errc::unauthorized, "authorization failed");
    }
    auto entry = std::make_shared<cached_login>();
    entry->stored_hash = stored;
    randombytes_buf(entry->salt.data(), entry->salt.size());
    entry->compute(password, entry->digest.data());
    std::lock_guard lock(mu_);
    login_cache_[uid] = std::move(entry);
  }
  std::lock_guard lock(mu_);
  return load_user_principal(uid);
}

status catalog::register_database(int64_t tenant, std::string_view db) {
  LIANDU_RETURN_IF_ERROR(validate_name("database", db));
  std::lock_guard lock(mu_);
  stmt ins(db_, "INSERT INTO databases(name, tenant_id, created_ns) VALUES(?, ?, ?)");
  ins.bind(1, db).bind(2, tenant).bind(3, now_ns());
  status s = ins.run("register database");
  if (s.code() == errc::already_exists) return error(errc::already_exists, "database already exists");
  return s;
}

result<int64_t> catalog::database_tenant(std::string_view db) {
  std::lock_guard lock(mu_);
  std::string key(db);
  if (auto it = owner_cache_.find(key); it != owner_cache_.end()) return it->second;
  stmt q(db_, "SELECT tenant_id FROM databases WHERE name = ?");
  q.bind(1, db);
  int rc = q.step();
  if (rc == SQLITE_ROW) {
    if (owner_cache_.size() >= max_cached_entries) owner_cache_.clear();
    owner_cache_.emplace(std::move(key), q.int64(0));
    return q.int64(0);
  }
  if (rc == SQLITE_DONE) return error(errc::not_found, "database not found: " + std::string(db));
  return q.error_status("find database");
}

result<std::vector<std::string>> catalog::list_databases(int64_t tenant) {
  std::lock_guard lock(mu_);
  stmt q(db_, "SELECT name FROM databases WHERE tenant_id = ? ORDER BY name");
  q.bind(1, tenant);
  std::vector<std::string> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.text(0));
  if (rc != SQLITE_DONE) return q.error_status("list databases");
  return out;
}

status catalog::unregister_database(int64_t tenant, std::string_view db) {
  std::lock_guard lock(mu_);
  transaction tx(db_);
  LIANDU_RETURN_IF_ERROR(tx.begun());
  {
    stmt d(db_, "DELETE FROM databases WHERE name = ? AND tenant_id = ?");
    d.bind(1, db).bind(2, tenant);
    LIANDU_RETURN_IF_ERROR(d.run("unregister database"));
    if (sqlite3_changes(db_) == 0) return error(errc::not_found, "database not found: " + std::string(db));
  }
  // Grants on the old database must not carry over to a new one of that name.
  {
    stmt d(db_,
           "DELETE FROM token_permissions WHERE db = ? AND token_id IN (SELECT id FROM tokens WHERE "
           "tenant_id = ?)");
    d.bind(1, db).bind(2, tenant);
    LIANDU_RETURN_IF_ERROR(d.run("drop token permissions"));
  }
  {
    stmt d(db_,
           "DELETE FROM user_permissions WHERE db = ? AND user_id IN (SELECT id FROM users WHERE tenant_id = "
           "?)");
    d.bind(1, db).bind(2, tenant);
    LIANDU_RETURN_IF_ERROR(d.run("drop user permissions"));
  }
  // mu_ is held until the commit, so no lookup sees the cache between the
  // clear and the commit; a failed commit only costs the next lookups a query.
  owner_cache_.erase(std::string(db));
  token_cache_.clear();
  return tx.commit();
}

status catalog::authorize(const principal& who, std::string_view db, access a) {
  auto owner = database_tenant(db);
  if (!owner) {
    if (owner.error().code() == errc::not_found) {
      return error(errc::not_found, "database not found: " + std::string(db));
    }
    return owner.error();
  }
  if (*owner != who.tenant_id) return error(errc::not_found, "database not found: " + std::string(db));
  bool ok = a == access::read ? who.can_read(db) : who.can_write(db);
  if (!ok) {
    return error(errc::forbidden, std::string(a == access::read ? "read" : "write") + " access to database " +
                                      std::string(db) + " denied for " + who.subject);
  }
  return {};
}

}  // namespace liandu::catalog
