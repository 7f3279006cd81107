#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"

namespace liandu::http::handlers {

void add_routes(router& r, api& a) {
  auto bind = [&a](response (*fn)(api&, const request&)) {
    return [&a, fn](const request& req) { return fn(a, req); };
  };
  r.add(verb::get, "/ping", bind(ping));
  r.add(verb::head, "/ping", bind(ping));
  r.add(verb::get, "/health", bind(health));
  r.add(verb::post, "/write", bind(write_v1));
  r.add(verb::post, "/api/v2/write", bind(write_v2));
  r.add(verb::get, "/query", bind(query));
  r.add(verb::post, "/query", bind(query));
  r.add(verb::get, "/metrics", bind(metrics));
  r.add(verb::get, "/api/v1/openapi.json", bind(openapi));
  for (verb v : {verb::get, verb::post}) {
    r.add(v, "/api/v1/tokens", bind(tokens));
    r.add(v, "/api/v1/databases", bind(databases));
    r.add(v, "/api/v1/users", bind(users));
    r.add(v, "/api/v1/webhooks", bind(webhooks));
  }
  r.add_prefix(verb::delete_, "/api/v1/tokens/", bind(tokens));
  r.add_prefix(verb::delete_, "/api/v1/databases/", bind(databases));
  r.add_prefix(verb::delete_, "/api/v1/webhooks/", bind(webhooks));
  r.add(verb::get, "/api/v1/rules", bind(rules));
  r.add(verb::post, "/api/v1/rules", bind(rules));
  r.add_prefix(verb::delete_, "/api/v1/rules/", bind(rules));
  r.add(verb::get, "/api/v1/alerts", bind(alerts));
  r.add(verb::post, "/api/v1/alerts/ack", bind(alerts));
  for (verb v : {verb::get, verb::post, verb::put}) r.add(v, "/api/v1/twins", bind(twins));
  for (verb v : {verb::get, verb::delete_}) r.add_prefix(v, "/api/v1/twins/", bind(twins));
  for (auto& [key, c] : a.options.collections) {
    std::string base = "/api/v1/" + key;
    auto h = [&a, prefix = base + "/", c = c](const request& req) { return collection(a, req, prefix, *c); };
    r.add(verb::get, base, h);
    r.add(verb::post, base, h);
    r.add_prefix(verb::delete_, base + "/", h);
  }
  r.add_websocket("/api/v1/live", [&a](const request& req, std::shared_ptr<live_channel> ch) {
    return live(a, req, std::move(ch));
  });
}

}  // namespace liandu::http::handlers
