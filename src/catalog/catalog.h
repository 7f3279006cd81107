#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/status.h"

struct sqlite3;

namespace liandu::catalog {

// The catalog is the small SQLite file that says who may do what: tenants,
// users, API tokens, per-database permissions, which tenant owns each
// database, and each tenant's webhook receivers. Everything a request touches is scoped to one tenant: a
// principal of tenant A never sees, reads or writes a database of tenant B.
//
// Secrets are never stored in plain text:
//  - passwords are hashed with libsodium's crypto_pwhash_str (Argon2id,
//    INTERACTIVE limits; MIN limits only with options::for_test);
//  - tokens are 32 random bytes shown once as "ld_" + base64url (43 chars);
//    being high-entropy, they are stored as their BLAKE2b-256 hash and looked
//    up by that hash.
//
// Names: database names and user names are global (InfluxDB 1.x clients name
// a database or a user without a tenant), each owned by exactly one tenant.
//
// Thread safety: every method may be called from any thread; one mutex guards
// the SQLite handle. Password verification (slow by design) runs outside the
// mutex so one login does not stall token lookups on other requests.

// Access to one database. "all" in the API is read + write.
struct permission {
  bool read = false;
  bool write = false;
  bool operator==(const permission&) const = default;
};

// Parses "read", "write" or "all" (case-insensitive).
result<permission> parse_permission(std::string_view text);

using permission_map = std::map<std::string, permission, std::less<>>;  // database -> access

enum class access { read, write };

// Who a request acts as, after authentication.
struct principal {
  int64_t tenant_id = 0;
  std::string tenant;   // tenant name
  std::string subject;  // user name, or "token:<id>"
  bool admin = false;   // may do everything within its tenant
  permission_map permissions;

  // Permission check only; whether db belongs to this tenant is
  // catalog::authorize's job (it needs the catalog).
  bool can_read(std::string_view db) const;
  bool can_write(std::string_view db) const;
};

struct token_info {
  int64_t id = 0;
  int64_t tenant_id = 0;
  std::string description;
  bool admin = false;
  permission_map permissions;
  int64_t created_ns = 0;
  bool revoked = false;
};

// Returned once by create_token; the secret cannot be recovered later.
struct new_token {
  int64_t id = 0;
  std::string secret;  // "ld_..."
};

struct user_info {
  int64_t id = 0;
  int64_t tenant_id = 0;
  std::string name;
  bool admin = false;
  permission_map permissions;
};

struct tenant_info {
  int64_t id = 0;
  std::string name;
};

// Where a tenant's rule actions may POST. Rules name a receiver; only a
// tenant admin sets its URL, so whoever may write rules cannot make the
// server call arbitrary addresses. The secret is the HMAC-SHA256 key of the
// X-Liandu-Signature header; unlike passwords and tokens it must be usable,
// so it is stored as given (the catalog file is 0600), and never listed.
struct webhook_receiver {
  std::string name;    // A-Z a-z 0-9 _ - . :, at most 128
  std::string url;     // http[s]://host[:port][/path]
  std::string secret;  // "" = deliveries are not signed
  int64_t created_ns = 0;
};

struct options {
  // Cheapest Argon2id limits so tests run fast. Never in production.
  bool for_test = false;
};

inline constexpr std::string_view default_tenant_name = "default";
inline constexpr std::string_view token_prefix = "ld_";

class catalog {
 public:
  // Opens (creating when missing) the catalog at path; ":memory:" for tests.
  // Creates the schema and the "default" tenant on first open.
  static result<std::unique_ptr<catalog>> open(const std::string& path, options opts = {});
  ~catalog();
  catalog(const catalog&) = delete;
  catalog& operator=(const catalog&) = delete;

  // Tenants.
  result<int64_t> create_tenant(std::string_view name);
  result<int64_t> tenant_id(std::string_view name);
  result<std::vector<tenant_info>> list_tenants();
  int64_t default_tenant_id() const { return default_tenant_id_; }

  // First-start admin: when no admin token or admin user exists yet, creates
  // an admin token in the default tenant — from `token` when given (the
  // LIANDU_ADMIN_TOKEN setting), else a generated one — and returns its
  // secret, to be shown once. Returns "" when an admin already exists.
  result<std::string> bootstrap_admin(std::optional<std::string> token);

  // Tokens. A non-admin token only has the permissions in perms.
  result<new_token> create_token(int64_t tenant, std::string_view description, bool admin,
                                 const permission_map& perms);
  result<std::vector<token_info>> list_tokens(int64_t tenant);
  // Scoped: a token of another tenant is not_found.
  status revoke_token(int64_t tenant, int64_t id);

  // Users. Names are global; passwords must be non-empty.
  status create_user(int64_t tenant, std::string_view name, std::string_view password, bool admin);
  status set_password(std::string_view name, std::string_view password);
  status delete_user(int64_t tenant, std::string_view name);
  // Sets (replaces) the user's access to db; {false,false} removes it.
  status set_user_permission(int64_t tenant, std::string_view name, std::string_view db, permission p);
  result<std::vector<user_info>> list_users(int64_t tenant);

  // Authentication. Failures are errc::unauthorized with a message that does
  // not say whether the name or the password was wrong.
  result<principal> authenticate_token(std::string_view secret);
  result<principal> authenticate_user(std::string_view name, std::string_view password);

  // Databases and their owning tenant.
  status register_database(int64_t tenant, std::string_view db);  // already_exists if taken
  result<int64_t> database_tenant(std::string_view db);           // not_found when unknown
  result<std::vector<std::string>> list_databases(int64_t tenant);
  status unregister_database(int64_t tenant, std::string_view db);  // not_found if not the tenant's

  // Webhook receivers of a tenant; put creates or replaces.
  status put_webhook(int64_t tenant, const webhook_receiver& w);
  result<webhook_receiver> webhook(int64_t tenant, std::string_view name);  // not_found
  result<std::vector<webhook_receiver>> list_webhooks(int64_t tenant);
  status delete_webhook(int64_t tenant, std::string_view name);  // not_found

  // Tenant scope + permission in one check: not_found when db is unknown or
  // owned by another tenant (existence is not revealed across tenants),
  // forbidden when the principal lacks the access.
  status authorize(const principal& who, std::string_view db, access a);

 private:
  struct cached_login;
  explicit catalog(options opts);
  status init_schema();
  result<std::string> hash_password(std::string_view password) const;
  result<principal> load_user_principal(int64_t user_id);
  status insert_token(int64_t tenant, std::string_view secret, std::string_view description, bool admin,
                      const permission_map& perms, int64_t* id);

  options opts_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;  // guarded by mu_
  int64_t default_tenant_id_ = 0;
  // user id -> a fast salted hash of the last password that passed Argon2id
  // verification against the stored hash (InfluxDB 1.x keeps a similar auth
  // cache), so HTTP Basic auth on every request does not cost a full Argon2id
  // run. In memory only. Guarded by mu_.
  std::map<int64_t, std::shared_ptr<cached_login>> login_cache_;
  // Token hash -> its principal, and database -> owning tenant, for the
  // lookups every request makes (preparing and stepping SQLite statements
  // was about a tenth of a small query's server time). Only found rows are
  // kept; revoke_token and unregister_database clear the entries they make
  // stale. Bounded: cleared when full. Guarded by mu_.
  static constexpr size_t max_cached_entries = 4096;
  std::unordered_map<std::string, principal> token_cache_;
  std::unordered_map<std::string, int64_t> owner_cache_;
  // An Argon2id hash checked against when the user name is unknown, so the
  // response time does not reveal which names exist. Set once.
  std::once_flag dummy_once_;
  std::string dummy_hash_;
};

}  // namespace liandu::catalog
