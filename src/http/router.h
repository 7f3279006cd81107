#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/message.h"

namespace liandu::http {

// A handler may block (a write waits for the WAL fsync): it runs on a handler
// thread, never on an I/O thread. Exceptions it throws become a 500 JSON
// error and the connection stays usable.
using handler = std::function<response(const request&)>;

// Maps (method, path) to a handler.
//
//   add(verb::get, "/ping", h)                 exact path
//   add_prefix(verb::get, "/api/v2/assets/", h)  every path starting so; the longest prefix wins
//
// Exact routes win over prefix routes. A HEAD request with no HEAD route
// uses the GET route (the server drops the body). A path known for other
// methods answers 405 with an Allow header; an unknown path answers 404
// {"error":"not found"}. Routes are added before the server starts and are
// read-only afterwards, so dispatch needs no lock.
class router {
 public:
  void add(verb method, std::string path, handler h);
  void add_prefix(verb method, std::string prefix, handler h);

  // Finds and runs the handler. Does not catch exceptions (the server does).
  response dispatch(const request& req) const;

  // WebSocket endpoints, by exact path.
  void add_websocket(std::string path, websocket_handler h);
  const websocket_handler* find_websocket(const std::string& path) const;

 private:
  const handler* find(verb method, const std::string& path, std::vector<verb>* allowed) const;

  std::map<std::string, std::map<verb, handler>> exact_;
  std::map<std::string, std::map<verb, handler>> prefix_;
  std::map<std::string, websocket_handler> websockets_;
};

}  // namespace liandu::http
