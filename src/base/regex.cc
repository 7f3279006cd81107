#include "base/regex.h"

#include <re2/re2.h>

namespace liandu {

result<regex> regex::compile(std::string_view pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);  // errors go back to the caller, not to stderr
  // 8 MiB of compiled program per pattern (RE2's default, stated here because
  // it is the limit a request's pattern meets).
  opts.set_max_mem(8 << 20);
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!re->ok()) {
    return error(errc::invalid_argument, "error parsing regexp: " + re->error());
  }
  return regex(std::move(re));
}

regex::regex(std::unique_ptr<re2::RE2> re) : re_(std::move(re)) {}
regex::regex(regex&&) noexcept = default;
regex& regex::operator=(regex&&) noexcept = default;
regex::~regex() = default;

bool regex::search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

const std::string& regex::pattern() const { return re_->pattern(); }

}  // namespace liandu
