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
    "schemas": {
      "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
      "Permissions": {"type": "object", "additionalProperties": {"type": "string", "enum": ["read", "write", "all"]}},
      "TokenRequest": {"type": "object", "properties": {"description": {"type": "string"}, "admin": {"type": "boolean"}, "permissions": {"$ref": "#/components/schemas/Permissions"}}},
      "Token": {"type": "object", "properties": {"id": {"type": "integer"}, "token": {"type": "string", "description": "the secret, returned once"}, "description": {"type": "string"}, "admin": {"type": "boolean"}, "permissions": {"$ref": "#/components/schemas/Permissions"}}}
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
    "/api/v1/users": {"get": {"summary": "List users (admin)", "responses": {"200": {"description": "{users: [...]}"}}},
                      "post": {"summary": "Create a user (admin)", "responses": {"201": {"description": "created"}}}}
  }
})JSON";
}  // namespace

response openapi(api&, const request&) {
  response r;
  r.set_header("Content-Type", "application/json");
  r.body = openapi_json;
  return r;
}

}  // namespace liandu::http::handlers
