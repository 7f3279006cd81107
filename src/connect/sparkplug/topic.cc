#include "connect/sparkplug/topic.h"

#include <array>
#include <vector>

namespace liandu::connect::sparkplug {

namespace {

struct type_name {
  message_type type;
  const char* name;
  bool device;
};

constexpr std::array<type_name, 8> edge_types{{
    {message_type::nbirth, "NBIRTH", false},
    {message_type::ndeath, "NDEATH", false},
    {message_type::ndata, "NDATA", false},
    {message_type::ncmd, "NCMD", false},
    {message_type::dbirth, "DBIRTH", true},
    {message_type::ddeath, "DDEATH", true},
    {message_type::ddata, "DDATA", true},
    {message_type::dcmd, "DCMD", true},
}};

bool valid_id(std::string_view id) {
  return !id.empty() && id.find_first_of("/+#") == std::string_view::npos;
}

}  // namespace

const char* message_type_name(message_type t) {
  if (t == message_type::state) return "STATE";
  for (const auto& e : edge_types) {
    if (e.type == t) return e.name;
  }
  return "?";
}

bool is_sparkplug_topic(std::string_view t) {
  return t.size() > topic_namespace.size() && t.substr(0, topic_namespace.size()) == topic_namespace &&
         t[topic_namespace.size()] == '/';
}

result<topic> parse_topic(std::string_view t) {
  if (!is_sparkplug_topic(t))
    return error(errc::invalid_argument, "topic " + std::string(t) + ": not in the spBv1.0 namespace");
  std::vector<std::string_view> levels;
  size_t start = 0;
  while (true) {
    size_t slash = t.find('/', start);
    levels.push_back(
        t.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  auto bad = [&](const std::string& what) {
    return error(errc::invalid_argument, "Sparkplug topic " + std::string(t) + ": " + what);
  };
  topic out;
  if (levels[1] == "STATE") {
    if (levels.size() != 3 || !valid_id(levels[2])) return bad("expected spBv1.0/STATE/<host_id>");
    out.type = message_type::state;
    out.edge_node = std::string(levels[2]);
    return out;
  }
  if (levels.size() < 4) return bad("expected spBv1.0/<group>/<message type>/<edge node>[/<device>]");
  if (!valid_id(levels[1])) return bad("bad group id \"" + std::string(levels[1]) + "\"");
  const type_name* found = nullptr;
  for (const auto& e : edge_types) {
    if (levels[2] == e.name) found = &e;
  }
  if (found == nullptr) return bad("unknown message type \"" + std::string(levels[2]) + "\"");
  if (!valid_id(levels[3])) return bad("bad edge node id \"" + std::string(levels[3]) + "\"");
  if (found->device) {
    if (levels.size() != 5) return bad(std::string(found->name) + " needs a device id level");
    if (!valid_id(levels[4])) return bad("bad device id \"" + std::string(levels[4]) + "\"");
    out.device = std::string(levels[4]);
  } else if (levels.size() != 4) {
    return bad(std::string(found->name) + " has no device id level");
  }
  out.type = found->type;
  out.group = std::string(levels[1]);
  out.edge_node = std::string(levels[3]);
  return out;
}

std::string node_command_topic(std::string_view group, std::string_view edge_node) {
  std::string out(topic_namespace);
  out += '/';
  out += group;
  out += "/NCMD/";
  out += edge_node;
  return out;
}

std::string host_state_topic(std::string_view host_id) {
  std::string out(topic_namespace);
  out += "/STATE/";
  out += host_id;
  return out;
}

std::string host_state_payload(bool online, int64_t timestamp_ms) {
  return std::string("{\"online\":") + (online ? "true" : "false") +
         ",\"timestamp\":" + std::to_string(timestamp_ms) + "}";
}

bool valid_host_id(std::string_view host_id) {
  return !host_id.empty() && host_id.find_first_of("/+#") == std::string_view::npos;
}

}  // namespace liandu::connect::sparkplug
