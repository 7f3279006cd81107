#pragma once

#include <string>
#include <utility>

namespace liandu {

// Error codes shared by every module. A module may add detail in the message;
// callers branch on the code, people read the message.
enum class errc {
  ok = 0,
  invalid_argument,
  parse_error,
  corruption,
  io_error,
  not_found,
  already_exists,
  conflict,        // e.g. a field written with a type other than the one stored
  limit_exceeded,  // a configured limit (size, cardinality, memory) was hit
  unauthorized,
  forbidden,
  unsupported,
  internal,
};

const char* errc_name(errc code);

// status is the result of an operation that returns no value: ok, or a code
// with a message that names what and where. Cheap to move; no exceptions.
class status {
 public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  static status ok_status() { return status(); }

  bool ok() const { return code_ == errc::ok; }
  errc code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  errc code_ = errc::ok;
  std::string message_;
};

inline status error(errc code, std::string message) { return status(code, std::move(message)); }

}  // namespace liandu
