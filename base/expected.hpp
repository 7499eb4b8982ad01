// quire::expected<T> — a value or an error (base/error.hpp), never both; quire::status when success
// carries nothing. Every module's public calls answer these instead of throwing or filling
// bool + string out-parameters:
//
//   quire::expected<int> pages = engine.count_pages(pdf);
//   if (!pages) return pages.err();           // the error goes up unchanged
//   use(*pages);
//
// E is quire::error everywhere except at the HTTP API's boundary (actors::api_result), whose error
// is the API's own wire code with JSON details (actors/service.hpp says why).
// Reading value() of an error (or err() of a value) throws std::bad_variant_access: a bug.
#pragma once

#include <utility>
#include <variant>

#include "base/error.hpp"

namespace quire {

template <class T, class E = error>
class expected {
 public:
  using value_type = T;
  using error_type = E;

  expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  expected(E err) : v_(std::in_place_index<1>, std::move(err)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  // The value, or `fallback` when this holds an error (which is then dropped: callers that need
  // to say why read err() instead).
  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return ok() ? std::move(value()) : static_cast<T>(std::forward<U>(fallback));
  }

  E& err() & { return std::get<1>(v_); }
  const E& err() const& { return std::get<1>(v_); }
  E&& err() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, E> v_;
};

// The value of a status: success, nothing more.
struct ok_t {};
inline constexpr ok_t ok_v{};
using status = expected<ok_t>;

}  // namespace quire
