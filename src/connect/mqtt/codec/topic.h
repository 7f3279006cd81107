#pragma once

#include <string_view>

namespace liandu::connect::mqtt {

// Topic rules (MQTT 3.1.1 4.7, 5.0 4.7). Levels are separated by '/'; a level
// may be empty ("a//b", "/a"). In a filter '+' is one whole level and '#' is
// the whole last level:
//   "sport/+/player1"  matches "sport/tennis/player1", not "sport/tennis/x/player1"
//   "sport/#"          matches "sport", "sport/", "sport/tennis/player1"
//   "+/+"              matches "/finance" (two levels, the first empty)
// A filter whose first character is a wildcard does not match topics that
// start with '$' ("#" does not match "$SYS/uptime"; "$SYS/#" does).
// Shared subscriptions: "$share/<group>/<filter>"; the group is non-empty and
// holds no '/', '+' or '#'.

// A topic name in PUBLISH: non-empty, no wildcards, at most 65535 bytes. UTF-8
// validity is checked where the string is decoded.
bool valid_topic_name(std::string_view topic);

// A topic filter in SUBSCRIBE/UNSUBSCRIBE (a shared one included).
bool valid_topic_filter(std::string_view filter);

// Splits "$share/group/filter". Returns false when filter is not a shared
// subscription; group and inner are then untouched.
bool split_shared_filter(std::string_view filter, std::string_view* group, std::string_view* inner);

// True when a (non-shared) valid filter matches a valid topic name.
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace liandu::connect::mqtt
