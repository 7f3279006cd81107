#include "http/router.h"

namespace liandu::http {

void router::add(verb method, std::string path, handler h) { exact_[std::move(path)][method] = std::move(h); }

void router::add_prefix(verb method, std::string prefix, handler h) {
  prefix_[std::move(prefix)][method] = std::move(h);
}

const handler* router::find(verb method, const std::string& path, std::vector<verb>* allowed) const {
  const std::map<verb, handler>* routes = nullptr;
  if (auto it = exact_.find(path); it != exact_.end()) {
    routes = &it->second;
  } else {
    // Longest matching prefix; a linear scan, as a server has a handful of them.
    size_t best = 0;
    for (const auto& [prefix, r] : prefix_) {
      if (prefix.size() >= best && path.compare(0, prefix.size(), prefix) == 0) {
        best = prefix.size();
        routes = &r;
      }
    }
  }
  if (!routes) return nullptr;
  if (auto h = routes->find(method); h != routes->end()) return &h->second;
  if (method == verb::head) {
    if (auto h = routes->find(verb::get); h != routes->end()) return &h->second;
  }
  for (const auto& [m, h] : *routes) allowed->push_back(m);
  return nullptr;
}

response router::dispatch(const request& req) const {
  std::vector<verb> allowed;
  if (const handler* h = find(req.method, req.path, &allowed)) return (*h)(req);
  if (allowed.empty()) return json_error(404, "not found");
  response r = json_error(405, "method not allowed");
  std::string allow;
  for (verb m : allowed) {
    if (!allow.empty()) allow += ", ";
    allow += std::string(boost::beast::http::to_string(m));
  }
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

void router::add_websocket(std::string path, websocket_handler h) { websockets_[std::move(path)] = std::move(h); }

const websocket_handler* router::find_websocket(const std::string& path) const {
  auto it = websockets_.find(path);
  return it == websockets_.end() ? nullptr : &it->second;
}

}  // namespace liandu::http
