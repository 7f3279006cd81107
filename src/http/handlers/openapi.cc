#include <nlohmann/json.hpp>

#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"

namespace liandu::http::handlers {

namespace {
// The OpenAPI 3.0 description of the native REST API and the InfluxDB
// compatible endpoints. Kept beside the handlers it describes.
constexpr const char* openapi_json = R"JSON({
  "openapi": "3.0.3",
  "info": {"title": "Liandu API", "version": ")JSON" LIANDU_VERSION R"JSON(",
           "description": "InfluxDB 1.8 compatible write/query endpoints and the native REST API. Authenticate with 'Authorization: Token <token>', HTTP Basic, or u/p parameters."},
  "components": {
    "securitySchemes": {
      "token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <secret>"},
      "basic": {"type": "http", "scheme": "basic"}
    },
    "parameters": {
      "db": {"name": "db", "in": "query", "required": true, "schema": {"type": "string"}},
      "name": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}
    },
    "schemas": {
      "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
      "Permissions": {"type": "object", "additionalProperties": {"type": "string", "enum": ["read", "write", "all"]}},
      "TokenRequest": {"type": "object", "properties": {"description": {"type": "string"}, "admin": {"type": "boolean"}, "permissions": {"$ref": "#/components/schemas/Permissions"}}},
      "Token": {"type": "object", "properties": {"id": {"type": "integer"}, "token": {"type": "string", "description": "the secret, returned once"}, "description": {"type": "string"}, "admin": {"type": "boolean"}, "permissions": {"$ref": "#/components/schemas/Permissions"}}},
      "WebhookReceiver": {"type": "object", "properties": {"name": {"type": "string"}, "url": {"type": "string"}, "signed": {"type": "boolean", "description": "deliveries carry X-Liandu-Signature"}, "created_ns": {"type": "integer"}, "delivery": {"$ref": "#/components/schemas/WebhookDelivery"}}},
      "WebhookDelivery": {"type": "object", "description": "Deliveries to this receiver since the server started, over the rules of all the tenant's databases (not persisted; absent when rules are disabled)", "properties": {"attempts": {"type": "integer", "description": "POSTs tried, retries included"}, "delivered": {"type": "integer", "description": "deliveries the receiver accepted (2xx)"}, "failed": {"type": "integer", "description": "deliveries given up after the last retry"}, "rejected": {"type": "integer", "description": "deliveries dropped because the receiver's queue (1,000) or all receivers' queue (10,000) was full"}, "queued": {"type": "integer", "description": "deliveries not yet delivered nor given up: waiting for their first attempt or a retry, or being attempted (a receiver's deliveries are made one at a time, in order)"}, "last_error": {"type": "string", "nullable": true, "description": "why the most recent failed attempt failed (e.g. 'HTTP 500 from http://host:80', 'POST http://host:80: timed out after 10000 ms'); null when none failed"}, "last_error_time": {"type": "string", "format": "date-time", "nullable": true, "description": "RFC3339 time of that attempt; null when none failed"}}}
    }
  },
  "security": [{"token": []}, {"basic": []}],
  "paths": {
    "/ping": {"get": {"summary": "Liveness; 204 with X-Influxdb-Version", "security": [], "responses": {"204": {"description": "up"}}}},
    "/health": {"get": {"summary": "Health", "security": [], "responses": {"200": {"description": "pass"}}}},
    "/write": {"post": {"summary": "Write line protocol (InfluxDB 1.x)",
      "parameters": [{"name": "db", "in": "query", "required": true, "schema": {"type": "string"}},
                     {"name": "rp", "in": "query", "schema": {"type": "string"}},
                     {"name": "precision", "in": "query", "schema": {"type": "string", "enum": ["n", "ns", "u", "us", "ms", "s", "m", "h"]}}],
      "requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}},
      "responses": {"204": {"description": "durable"}, "400": {"description": "bad lines (partial write)"}, "401": {"description": "unauthorized"}, "403": {"description": "forbidden"}, "404": {"description": "database not found"}, "413": {"description": "body too large"}, "503": {"description": "over memory budget; Retry-After"}}}},
    "/api/v2/write": {"post": {"summary": "Write line protocol (InfluxDB 2.x)",
      "parameters": [{"name": "bucket", "in": "query", "required": true, "schema": {"type": "string"}, "description": "db or db/rp"},
                     {"name": "org", "in": "query", "schema": {"type": "string"}},
                     {"name": "precision", "in": "query", "schema": {"type": "string"}}],
      "responses": {"204": {"description": "durable"}}}},
    "/query": {"get": {"summary": "InfluxQL query", "parameters": [{"name": "q", "in": "query", "required": true, "schema": {"type": "string"}}, {"name": "db", "in": "query", "schema": {"type": "string"}}, {"name": "epoch", "in": "query", "schema": {"type": "string"}}, {"name": "pretty", "in": "query", "schema": {"type": "boolean"}}, {"name": "chunked", "in": "query", "schema": {"type": "boolean"}}], "responses": {"200": {"description": "results"}}},
               "post": {"summary": "InfluxQL query (form body)", "responses": {"200": {"description": "results"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text format 0.0.4"}}}},
    "/api/v1/databases": {"get": {"summary": "List databases", "responses": {"200": {"description": "{databases: [...]}"}}},
                          "post": {"summary": "Create a database (admin)", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}}, "responses": {"201": {"description": "created"}}}},
    "/api/v1/databases/{name}": {"delete": {"summary": "Drop a database (admin)", "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"204": {"description": "dropped"}}}},
    "/api/v1/tokens": {"get": {"summary": "List tokens (admin)", "responses": {"200": {"description": "{tokens: [...]}"}}},
                       "post": {"summary": "Create a token (admin)", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}}}, "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}}}}}},
    "/api/v1/tokens/{id}": {"delete": {"summary": "Revoke a token (admin)", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}], "responses": {"204": {"description": "revoked"}}}},
    "/api/v1/webhooks": {"get": {"summary": "List the tenant's webhook receivers, without secrets, with their delivery state (admin)", "responses": {"200": {"description": "{webhooks: [{name, url, signed, created_ns, delivery: {attempts, delivered, failed, rejected, queued, last_error, last_error_time}}]}", "content": {"application/json": {"schema": {"type": "object", "properties": {"webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookReceiver"}}}}}}}}},
                         "post": {"summary": "Create or replace a webhook receiver (admin); rules name it in {\"type\": \"webhook\", \"receiver\": name}; deliveries carry X-Liandu-Signature: sha256=<hex HMAC-SHA256 of the body> unless secret is \"\"", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["name", "url"], "properties": {"name": {"type": "string"}, "url": {"type": "string", "description": "http://host[:port][/path][?query] or https://host[:port][/path][?query]; the port defaults to 80 (http) or 443 (https); an https receiver's certificate must name its host and chain to the system CA store or to liandu serve --webhook-ca-file"}, "secret": {"type": "string", "description": "HMAC key; generated when absent"}}}}}}, "responses": {"201": {"description": "{name, url, secret}: the secret is shown once"}, "400": {"description": "invalid name or url"}},
                                  "callbacks": {"alertDelivery": {"{$request.body#/url}": {"post": {"summary": "An alert transition (firing, acknowledged, resolved) delivered to the receiver; a receiver's deliveries come one at a time, in order, at least once", "parameters": [{"name": "X-Liandu-Signature", "in": "header", "required": false, "schema": {"type": "string"}, "description": "sha256=<hex HMAC-SHA256 of the body under the receiver's secret>; absent when the secret is \"\""}, {"name": "X-Liandu-Delivery-Id", "in": "header", "required": true, "schema": {"type": "string", "format": "uuid"}, "description": "random version 4 UUID of this delivery, the same on every attempt of it, also after a restart or kill -9 of Liandu: a receiver drops a repeat by it"}], "requestBody": {"content": {"application/json": {"schema": {"type": "object", "description": "the alert event: rule id, name and version, severity, group tags, alert id, state and previous state, value, message, time and start time, user and comment of an acknowledgement"}}}}, "responses": {"2XX": {"description": "delivered; anything else (or no answer within --webhook-timeout-ms) is retried with backoff"}}}}}}}},
    "/api/v1/webhooks/{name}": {"delete": {"summary": "Remove a webhook receiver (admin)", "parameters": [{"$ref": "#/components/parameters/name"}], "responses": {"204": {"description": "removed"}, "404": {"description": "no such receiver"}}}},
    "/api/v1/users": {"get": {"summary": "List users (admin)", "responses": {"200": {"description": "{users: [...]}"}}},
                      "post": {"summary": "Create a user (admin)", "responses": {"201": {"description": "created"}}}},
    "/api/v1/rules": {"get": {"summary": "List the rules of a database", "parameters": [{"$ref": "#/components/parameters/db"}], "responses": {"200": {"description": "{rules: [...]}"}}},
                      "post": {"summary": "Add or replace a rule (threshold, windowed aggregate, rate of change, absence, state duration, anomaly; hysteresis, minimum duration; webhook and mqtt actions)", "parameters": [{"$ref": "#/components/parameters/db"}], "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}, "responses": {"201": {"description": "stored"}, "400": {"description": "invalid rule, naming the field"}}}},
    "/api/v1/rules/{name}": {"delete": {"summary": "Remove a rule", "parameters": [{"$ref": "#/components/parameters/db"}, {"$ref": "#/components/parameters/name"}], "responses": {"204": {"description": "removed"}, "404": {"description": "no such rule"}}}},
    "/api/v1/alerts": {"get": {"summary": "Open alerts of a database", "parameters": [{"$ref": "#/components/parameters/db"}], "responses": {"200": {"description": "{alerts: [...]}"}}}},
    "/api/v1/alerts/ack": {"post": {"summary": "Acknowledge an alert", "parameters": [{"$ref": "#/components/parameters/db"}], "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"rule": {"type": "string"}, "series": {"type": "string"}}}}}}, "responses": {"200": {"description": "acknowledged"}}}},
    "/api/v1/twins": {"get": {"summary": "Device twins: desired, reported, pending, drift", "parameters": [{"$ref": "#/components/parameters/db"}], "responses": {"200": {"description": "{twins: [...]}"}}},
                      "put": {"summary": "Add or replace a twin", "parameters": [{"$ref": "#/components/parameters/db"}], "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"device": {"type": "string"}, "desired": {"type": "object"}, "tolerance": {"type": "number"}, "measurement": {"type": "string"}, "tag": {"type": "string"}}}}}}, "responses": {"200": {"description": "stored"}}},
                      "post": {"summary": "Add or replace a twin (as PUT)", "parameters": [{"$ref": "#/components/parameters/db"}], "responses": {"200": {"description": "stored"}}}},
    "/api/v1/twins/{device}": {"get": {"summary": "One twin", "parameters": [{"$ref": "#/components/parameters/db"}, {"name": "device", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "the twin"}, "404": {"description": "no such twin"}}},
                               "delete": {"summary": "Remove a twin", "parameters": [{"$ref": "#/components/parameters/db"}, {"name": "device", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"204": {"description": "removed"}}}},
    "/api/v1/live": {"get": {"summary": "WebSocket: new points of a database as JSON once durable (upgrade request)", "parameters": [{"$ref": "#/components/parameters/db"}, {"name": "measurement", "in": "query", "schema": {"type": "string"}}, {"name": "token", "in": "query", "schema": {"type": "string"}, "description": "for browsers, which cannot set headers on a WebSocket"}], "responses": {"101": {"description": "switching protocols"}}}}
  }
})JSON";

// A configuration collection (MQTT mappings, Sparkplug groups, bridges,
// Modbus devices): the same three operations for each (collections.cc).
void add_collection(nlohmann::json& paths, const std::string& key) {
  std::string base = "/api/v1/" + key;
  nlohmann::json entry = {
      {"type", "object"},
      {"required", {"name", "database"}},
      {"properties", {{"name", {{"type", "string"}}}, {"database", {{"type", "string"}}}}}};
  paths[base] = {{"get",
                  {{"summary", "List " + key + " entries the caller may read"},
                   {"responses", {{"200", {{"description", "a JSON array of the entries"}}}}}}},
                 {"post",
                  {{"summary", "Add or replace a " + key + " entry (write access to its database)"},
                   {"requestBody", {{"content", {{"application/json", {{"schema", entry}}}}}}},
                   {"responses",
                    {{"201", {{"description", "the stored entry, secrets masked"}}},
                     {"400", {{"description", "invalid entry, naming the field"}}}}}}}};
  paths[base + "/{name}"] = {
      {"delete",
       {{"summary", "Remove a " + key + " entry"},
        {"parameters", {{{"$ref", "#/components/parameters/name"}}}},
        {"responses",
         {{"204", {{"description", "removed"}}}, {"404", {{"description", "no such entry"}}}}}}}};
}
}  // namespace

response openapi(api& a, const request&) {
  static const nlohmann::json fixed = nlohmann::json::parse(openapi_json);
  nlohmann::json doc = fixed;
  for (const auto& [key, c] : a.options.collections) add_collection(doc["paths"], key);
  response r;
  r.set_header("Content-Type", "application/json");
  r.body = doc.dump();
  return r;
}

}  // namespace liandu::http::handlers
