#include "connect/mqtt/broker/subscription_tree.h"

#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::mqtt {

std::vector<std::string_view> split_levels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

bool subscription_tree::insert(const std::string& client_id, const subscription_entry& entry) {
  std::string_view group, inner;
  std::string_view filter = entry.options.filter;
  bool is_shared = split_shared_filter(filter, &group, &inner);
  if (is_shared) filter = inner;
  node* n = &root_;
  for (std::string_view level : split_levels(filter)) {
    auto it = n->children.find(level);
    if (it == n->children.end()) it = n->children.emplace(std::string(level), std::make_unique<node>()).first;
    n = it->second.get();
  }
  bool fresh;
  if (is_shared) {
    auto& members = n->shared[std::string(group)].members;
    fresh = members.insert_or_assign(client_id, entry).second;
  } else {
    fresh = n->subscribers.insert_or_assign(client_id, entry).second;
  }
  if (fresh) ++count_;
  return fresh;
}

bool subscription_tree::erase_in(node* n, const std::vector<std::string_view>& levels, size_t i,
                                 const std::string& client_id, std::string_view group, bool* erased) {
  if (i == levels.size()) {
    if (group.empty()) {
      *erased = n->subscribers.erase(client_id) > 0;
    } else {
      auto g = n->shared.find(std::string(group));
      if (g != n->shared.end()) {
        *erased = g->second.members.erase(client_id) > 0;
        if (g->second.members.empty()) n->shared.erase(g);
      }
    }
    return n->empty();
  }
  auto it = n->children.find(levels[i]);
  if (it == n->children.end()) return false;
  if (erase_in(it->second.get(), levels, i + 1, client_id, group, erased)) n->children.erase(it);
  return n->empty();
}

bool subscription_tree::erase(const std::string& client_id, std::string_view filter) {
  std::string_view group, inner;
  if (split_shared_filter(filter, &group, &inner)) filter = inner;
  bool erased = false;
  erase_in(&root_, split_levels(filter), 0, client_id, group, &erased);
  if (erased) --count_;
  return erased;
}

void subscription_tree::collect(node* n, match_result* out) {
  for (auto& [client, entry] : n->subscribers) out->direct.emplace_back(&client, &entry);
  for (auto& [name, group] : n->shared) out->shared.push_back(&group);
}

void subscription_tree::match_levels(node* n, const std::vector<std::string_view>& levels, size_t i,
                                     match_result* out) {
  // Filters that start with a wildcard do not match "$..." topics.
  bool wildcards_allowed = !(i == 0 && !levels[0].empty() && levels[0][0] == '$');
  if (wildcards_allowed) {
    auto hash = n->children.find(std::string_view("#"));
    if (hash != n->children.end()) collect(hash->second.get(), out);
  }
  if (i == levels.size()) {
    collect(n, out);
    return;
  }
  if (wildcards_allowed) {
    auto plus = n->children.find(std::string_view("+"));
    if (plus != n->children.end()) match_levels(plus->second.get(), levels, i + 1, out);
  }
  if (levels[i] != "+" && levels[i] != "#") {
    auto exact = n->children.find(levels[i]);
    if (exact != n->children.end()) match_levels(exact->second.get(), levels, i + 1, out);
  }
}

void subscription_tree::match(std::string_view topic, match_result* out) {
  match_levels(&root_, split_levels(topic), 0, out);
}

}  // namespace liandu::connect::mqtt
