#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connect/mqtt/codec/packet.h"

namespace liandu::connect::mqtt {

// What a session asked for with one filter.
struct subscription_entry {
  subscription options;          // filter (as given, "$share/..." included), QoS, v5 options
  uint32_t subscription_id = 0;  // 0: none
};

// Subscribers of one shared subscription "$share/group/filter": each message
// goes to one of them, chosen round-robin by the broker.
struct shared_group {
  std::map<std::string, subscription_entry> members;  // by client id
  size_t next = 0;
};

// The subscription tree: one node per topic level of the filters, so a
// PUBLISH costs a walk over the levels of its topic, not a scan of every
// subscription. Levels "+" and "#" are ordinary children matched specially.
// Not thread-safe: the broker lock guards it.
class subscription_tree {
 public:
  struct match_result {
    std::vector<std::pair<const std::string*, const subscription_entry*>> direct;  // client id, entry
    std::vector<shared_group*> shared;
  };

  // Adds or replaces the subscription of client_id on entry.options.filter.
  // Returns true when it is new (not a replacement).
  bool insert(const std::string& client_id, const subscription_entry& entry);
  // Returns true when a subscription existed.
  bool erase(const std::string& client_id, std::string_view filter);
  // Every subscription whose filter matches topic (a valid topic name).
  void match(std::string_view topic, match_result* out);
  size_t size() const { return count_; }

 private:
  struct node {
    std::map<std::string, std::unique_ptr<node>, std::less<>> children;
    std::map<std::string, subscription_entry> subscribers;
    std::map<std::string, shared_group> shared;  // by group name
    bool empty() const { return children.empty() && subscribers.empty() && shared.empty(); }
  };
  static void collect(node* n, match_result* out);
  void match_levels(node* n, const std::vector<std::string_view>& levels, size_t i, match_result* out);
  bool erase_in(node* n, const std::vector<std::string_view>& levels, size_t i, const std::string& client_id,
                std::string_view group, bool* erased);

  node root_;
  size_t count_ = 0;
};

std::vector<std::string_view> split_levels(std::string_view s);

}  // namespace liandu::connect::mqtt
