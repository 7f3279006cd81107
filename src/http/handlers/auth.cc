#include "http/auth.h"

#include "http/handlers/api.h"

namespace liandu::http::handlers {

result<catalog::principal> authenticate(api& a, const request& req) {
  if (!a.options.auth_enabled) {
    catalog::principal p;
    p.tenant_id = a.catalog.default_tenant_id();
    p.tenant = std::string(catalog::default_tenant_name);
    p.subject = "anonymous";
    p.admin = true;
    return p;
  }
  std::optional<std::string_view> header = req.header("Authorization");
  result<catalog::principal> who = error(errc::unauthorized, "unable to parse authentication credentials");
  auto try_password = [&](std::string_view user, std::string_view password) -> result<catalog::principal> {
    // Any user name with a token as the password, as InfluxDB 2's 1.x API does.
    auto t = a.catalog.authenticate_token(password);
    if (t.ok()) return t;
    if (user.empty()) return error(errc::unauthorized, "authorization failed");
    return a.catalog.authenticate_user(user, password);
  };
  if (header) {
    if (auto token = auth_parameter(*header, "token")) {
      // InfluxDB 1.8 also accepts "Token user:password".
      auto colon = token->find(':');
      if (colon != std::string_view::npos && token->substr(0, 3) != catalog::token_prefix) {
        who = try_password(token->substr(0, colon), token->substr(colon + 1));
      } else {
        who = a.catalog.authenticate_token(*token);
      }
    } else if (auto bearer = auth_parameter(*header, "bearer")) {
      who = a.catalog.authenticate_token(*bearer);
    } else if (auto basic = parse_basic_auth(*header)) {
      who = try_password(basic->user, basic->password);
    }
  } else if (auto p = req.param("p")) {
    who = try_password(req.param_or("u", ""), *p);
  }
  if (!who.ok()) {
    a.metrics.auth_failures++;
    if (who.error().message() != "unable to parse authentication credentials") {
      return error(errc::unauthorized, "authorization failed");
    }
  }
  return who;
}

response auth_error(const status& s) {
  switch (s.code()) {
    case errc::unauthorized: {
      response r = json_error(401, s.message());
      r.set_header("WWW-Authenticate", "Basic realm=\"liandu\"");
      return r;
    }
    case errc::forbidden: return json_error(403, s.message());
    case errc::not_found: return json_error(404, s.message());
    default: return json_error(500, s.message());
  }
}

}  // namespace liandu::http::handlers
