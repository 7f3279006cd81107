#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace re2 {
class RE2;
}

namespace liandu {

// A compiled regular expression in RE2 (Go regexp) syntax, the dialect
// InfluxQL's /re/ literals use. RE2 matches in time linear in the input and
// bounds the memory of a compiled pattern, so a pattern from a request (a
// query, a live subscription, a rule) cannot hang or overflow the stack of
// the thread that matches it, as a backtracking engine such as std::regex can.
//
// Thread safety: search() may be called from several threads at once.
class regex {
 public:
  // Fails with errc::invalid_argument and RE2's reason, which quotes the
  // offending part (bad syntax, a counted repeat over 1000, or a pattern over
  // the compiled-size limit).
  static result<regex> compile(std::string_view pattern);

  regex(regex&&) noexcept;
  regex& operator=(regex&&) noexcept;
  ~regex();

  // True when the pattern matches anywhere in text (unanchored, like
  // InfluxDB's regexp.MatchString).
  bool search(std::string_view text) const;
  const std::string& pattern() const;

 private:
  explicit regex(std::unique_ptr<re2::RE2> re);
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace liandu
