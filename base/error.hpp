// quire::error — the one error type of every module: a code (domain + stable name) and a message.
//
// Modeled on CAF's `caf::error` (a code plus its category) and LevelDB's `Status`. Each module keeps
// its own code enum (`convert::errc`, `storage::errc`, `gpu::errc`) and registers it once:
//
//   QUIRE_ERROR_DOMAIN(convert, "convert")  // at global scope, after convert::errc and its to_string
//
// after which a `convert::errc` converts implicitly to an `error_code`, compares with one
// (`e.code == storage::errc::job_not_found`), and `to_string(e.code)` gives its stable name
// ("job_not_found"). The names are what clients see (job failure codes, CLI messages, log lines):
// they never change. Domains keep equal names in different modules apart (`convert`'s and
// `storage`'s `invalid_argument` are different codes). Boundaries map once: docs/architecture.md,
// "Errors", lists where.
//
// Header-only, C++17 standard library only: gpu/ builds standalone with it.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace quire {

// Specialised by each module for its code enum: `name` (the domain) and `to_string` (the stable name
// of each code, a string literal: error_code keeps the view). Two modules never share a domain name.
template <class E>
struct error_domain;

namespace detail {
template <class E, class = void>
struct is_error_enum : std::false_type {};
template <class E>
struct is_error_enum<E, std::void_t<decltype(error_domain<E>::name)>> : std::is_enum<E> {};
}  // namespace detail

// Registers quire::<module>::errc, printed by quire::<module>::to_string(errc), as the error domain
// `domain_name`. At global scope, once per module, in the header that declares the enum.
#define QUIRE_ERROR_DOMAIN(module, domain_name)                                          \
  namespace quire {                                                                      \
  template <>                                                                            \
  struct error_domain<module::errc> {                                                    \
    static constexpr std::string_view name = domain_name;                                \
    static std::string_view to_string(module::errc c) { return module::to_string(c); }   \
  };                                                                                     \
  }

// True for the enums registered through error_domain.
template <class E>
inline constexpr bool is_error_enum_v = detail::is_error_enum<E>::value;

// A code of some module's enum, with its domain and stable name. Cheap to copy (two views and an int).
class error_code {
 public:
  // An unset code: empty domain, value 0, name "unset". Only placeholders are made like this.
  constexpr error_code() noexcept = default;

  template <class E, std::enable_if_t<is_error_enum_v<E>, int> = 0>
  error_code(E e) noexcept  // NOLINT(google-explicit-constructor): `error{errc::x, "..."}` at every call site
      : domain_(error_domain<E>::name), value_(static_cast<int>(e)), name_(error_domain<E>::to_string(e)) {}

  std::string_view domain() const noexcept { return domain_; }  // "convert", "storage", "gpu"
  int value() const noexcept { return value_; }                  // the enum's numeric value
  std::string_view name() const noexcept { return name_; }      // its stable name: "pdf_unreadable"

  // True when the code belongs to E's domain.
  template <class E>
  bool is() const noexcept {
    static_assert(is_error_enum_v<E>, "E is not a registered error enum (error_domain<E>)");
    return domain_ == error_domain<E>::name;
  }
  // The code as E when it belongs to E's domain (for a switch over one module's codes).
  template <class E>
  std::optional<E> as() const noexcept {
    if (!is<E>()) return std::nullopt;
    return static_cast<E>(value_);
  }

  friend bool operator==(const error_code& a, const error_code& b) noexcept {
    return a.value_ == b.value_ && a.domain_ == b.domain_;
  }
  friend bool operator!=(const error_code& a, const error_code& b) noexcept { return !(a == b); }
  // With a registered enum directly: `e.code == storage::errc::job_not_found`.
  template <class E, std::enable_if_t<is_error_enum_v<E>, int> = 0>
  friend bool operator==(const error_code& a, E b) noexcept { return a == error_code(b); }
  template <class E, std::enable_if_t<is_error_enum_v<E>, int> = 0>
  friend bool operator==(E a, const error_code& b) noexcept { return error_code(a) == b; }
  template <class E, std::enable_if_t<is_error_enum_v<E>, int> = 0>
  friend bool operator!=(const error_code& a, E b) noexcept { return !(a == b); }
  template <class E, std::enable_if_t<is_error_enum_v<E>, int> = 0>
  friend bool operator!=(E a, const error_code& b) noexcept { return !(a == b); }

 private:
  std::string_view domain_;
  int value_ = 0;
  std::string_view name_ = "unset";
};

// The stable name: what clients match on.
inline std::string_view to_string(const error_code& c) noexcept { return c.name(); }

// "storage/job_not_found": test failure messages and debugging.
inline std::ostream& operator<<(std::ostream& os, const error_code& c) {
  return os << c.domain() << '/' << c.name();
}

// A failed call: what went wrong (the code) and, for a person, why (the message).
//
// Two fields beyond code and message, which storage needs and other modules may use; they are
// plain data here so this header depends on no module (storage's typed accessor for `state` is
// storage::current_status()):
//   state            the state of the object that refused the operation, by its stable name, when
//                    known (storage: the job's status when a transition was refused, "succeeded").
//   outcome_unknown  the call was cut off after it may have taken effect (a database COMMIT whose
//                    answer was lost): callers must not undo what a committed write refers to.
struct error {
  error_code code;
  std::string message;
  std::string state = {};
  bool outcome_unknown = false;
};

}  // namespace quire
