#include "http/message.h"

#include <cctype>
#include <cstdio>

#include "base/json_string.h"

namespace liandu::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view request::header_or(std::string_view name, std::string_view fallback) const {
  auto h = header(name);
  return h ? *h : fallback;
}

std::optional<std::string_view> request::param(std::string_view name) const {
  auto it = query.lower_bound(std::string(name));
  if (it == query.end() || it->first != name) return std::nullopt;
  return std::string_view(it->second);
}

std::string_view request::param_or(std::string_view name, std::string_view fallback) const {
  auto p = param(name);
  return p ? *p : fallback;
}

response& response::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (iequals(k, name)) {
      v = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

response json_error(unsigned status, std::string_view message) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  // InfluxDB caps the header at 1024 bytes; header values must not hold CR/LF.
  std::string h(message.substr(0, 1024));
  for (char& c : h) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  r.headers.emplace_back("X-Influxdb-Error", std::move(h));
  r.body = "{\"error\":";
  append_json_string(r.body, message);  // as Go's encoding/json: always valid JSON
  r.body += "}\n";
  return r;
}

status merge_form_body(request& req) {
  auto ct = req.header("Content-Type");
  if (!ct) return {};
  std::string_view type = ct->substr(0, ct->find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (!iequals(type, "application/x-www-form-urlencoded")) return {};
  auto form = parse_query(req.body);
  if (!form) return form.error();
  for (auto& kv : req.query) form->insert(std::move(kv));
  req.query = std::move(*form);
  return {};
}

}  // namespace liandu::http
