#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::mqtt {

bool valid_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > 65535) return false;
  return topic.find_first_of("+#") == std::string_view::npos;
}

static bool valid_plain_filter(std::string_view f) {
  if (f.empty() || f.size() > 65535) return false;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c != '+' && c != '#') continue;
    bool starts_level = i == 0 || f[i - 1] == '/';
    bool ends_level = i + 1 == f.size() || f[i + 1] == '/';
    if (!starts_level || !ends_level) return false;
    if (c == '#' && i + 1 != f.size()) return false;
  }
  return true;
}

bool split_shared_filter(std::string_view filter, std::string_view* group, std::string_view* inner) {
  constexpr std::string_view prefix = "$share/";
  if (filter.substr(0, prefix.size()) != prefix) return false;
  std::string_view rest = filter.substr(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    *group = rest;
    *inner = std::string_view();
  } else {
    *group = rest.substr(0, slash);
    *inner = rest.substr(slash + 1);
  }
  return true;
}

bool valid_topic_filter(std::string_view filter) {
  std::string_view group, inner;
  if (split_shared_filter(filter, &group, &inner)) {
    if (group.empty() || group.find_first_of("+#/") != std::string_view::npos) return false;
    return valid_plain_filter(inner);
  }
  return valid_plain_filter(filter);
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t fi = 0, ti = 0;
  while (true) {
    size_t fe = filter.find('/', fi);
    std::string_view flevel =
        filter.substr(fi, fe == std::string_view::npos ? std::string_view::npos : fe - fi);
    if (flevel == "#") return true;
    size_t te = topic.find('/', ti);
    std::string_view tlevel =
        topic.substr(ti, te == std::string_view::npos ? std::string_view::npos : te - ti);
    if (flevel != "+" && flevel != tlevel) return false;
    bool f_last = fe == std::string_view::npos;
    bool t_last = te == std::string_view::npos;
    if (f_last && t_last) return true;
    if (t_last) {
      // "a/#" matches "a": the remaining filter must be exactly "/#".
      return filter.substr(fe) == "/#";
    }
    if (f_last) return false;
    fi = fe + 1;
    ti = te + 1;
  }
}

}  // namespace liandu::connect::mqtt
