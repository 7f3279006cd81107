#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "base/status.h"

namespace liandu {

// result<T> holds a value or a non-ok status (Redpanda's result<T>). Used on
// hot paths instead of exceptions.
template <typename T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(status s) : v_(std::move(s)) { assert(!std::get<status>(v_).ok()); }  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const status& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, status> v_;
};

}  // namespace liandu

// Returns the status from the enclosing function when expr is not ok.
#define LIANDU_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::liandu::status liandu_s_ = (expr);      \
    if (!liandu_s_.ok()) return liandu_s_;    \
  } while (0)
