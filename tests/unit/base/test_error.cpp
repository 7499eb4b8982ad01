// The one error type (base/error.hpp, base/expected.hpp): codes keep their domain and stable name,
// compare with the enums they came from, and a result holds a value or an error, never both.
#include <catch2/catch.hpp>

#include <memory>
#include <sstream>
#include <string>
#include <variant>

#include "base/expected.hpp"

namespace demo {
// Two modules that both have an `invalid_argument`: the domain keeps them apart.
enum class errc { not_found, invalid_argument };
inline std::string_view to_string(errc c) { return c == errc::not_found ? "not_found" : "invalid_argument"; }
enum class other_errc { invalid_argument = 1 };
inline std::string_view to_string(other_errc) { return "invalid_argument"; }
enum class unregistered { x };
}  // namespace demo

namespace quire {
template <>
struct error_domain<demo::errc> {
  static constexpr std::string_view name = "demo";
  static std::string_view to_string(demo::errc c) { return demo::to_string(c); }
};
template <>
struct error_domain<demo::other_errc> {
  static constexpr std::string_view name = "other";
  static std::string_view to_string(demo::other_errc c) { return demo::to_string(c); }
};
}  // namespace quire

using quire::error;
using quire::error_code;
using quire::expected;

static_assert(quire::is_error_enum_v<demo::errc>);
static_assert(!quire::is_error_enum_v<demo::unregistered>);
static_assert(!std::is_convertible_v<demo::unregistered, error_code>);
static_assert(!std::is_convertible_v<int, error_code>);

TEST_CASE("an error code keeps its domain, value and stable name", "[base][error]") {
  const error_code c = demo::errc::invalid_argument;
  CHECK(c.domain() == "demo");
  CHECK(c.value() == 1);
  CHECK(c.name() == "invalid_argument");
  CHECK(to_string(c) == "invalid_argument");
  std::ostringstream os;
  os << c;
  CHECK(os.str() == "demo/invalid_argument");

  const error_code unset;
  CHECK(unset.domain().empty());
  CHECK(unset.name() == "unset");
}

TEST_CASE("codes compare with their enum and across domains", "[base][error]") {
  const error e{demo::errc::not_found, "no such thing"};
  CHECK(e.code == demo::errc::not_found);
  CHECK(demo::errc::not_found == e.code);
  CHECK(e.code != demo::errc::invalid_argument);
  CHECK_FALSE(e.code == demo::errc::invalid_argument);
  // Same value and same name, other domain: a different code.
  const error_code mine = demo::errc::invalid_argument, theirs = demo::other_errc::invalid_argument;
  REQUIRE(mine.value() == theirs.value());
  REQUIRE(mine.name() == theirs.name());
  CHECK(mine != theirs);
  CHECK(theirs != demo::errc::invalid_argument);
  CHECK(mine == error_code(demo::errc::invalid_argument));

  CHECK(mine.is<demo::errc>());
  CHECK_FALSE(mine.is<demo::other_errc>());
  CHECK(mine.as<demo::errc>() == demo::errc::invalid_argument);
  CHECK_FALSE(theirs.as<demo::errc>().has_value());
}

TEST_CASE("an error carries its message and the two optional fields", "[base][error]") {
  error e{demo::errc::not_found, "job x"};
  CHECK(e.message == "job x");
  CHECK(e.state.empty());
  CHECK_FALSE(e.outcome_unknown);
  e.state = "succeeded";
  e.outcome_unknown = true;
  const error copy = e;
  CHECK(copy.state == "succeeded");
  CHECK(copy.outcome_unknown);
  CHECK(copy.code == demo::errc::not_found);
}

namespace {
expected<int> half(int n) {
  if (n % 2 != 0) return error{demo::errc::invalid_argument, std::to_string(n) + " is odd"};
  return n / 2;
}
expected<int> quarter(int n) {
  auto h = half(n);
  if (!h) return h.err();  // passed up unchanged
  return half(*h);
}
}  // namespace

TEST_CASE("expected holds a value or an error, never both", "[base][expected]") {
  const auto good = half(8);
  REQUIRE(good.ok());
  REQUIRE(static_cast<bool>(good));
  CHECK(good.value() == 4);
  CHECK(*good == 4);
  CHECK_THROWS_AS(good.err(), std::bad_variant_access);

  const auto bad = quarter(6);  // 6 → 3 → odd
  REQUIRE_FALSE(bad.ok());
  REQUIRE_FALSE(static_cast<bool>(bad));
  CHECK(bad.err().code == demo::errc::invalid_argument);
  CHECK(bad.err().message == "3 is odd");
  CHECK_THROWS_AS(bad.value(), std::bad_variant_access);
  CHECK(bad.value_or(-1) == -1);
  CHECK(good.value_or(-1) == 4);
}

TEST_CASE("expected moves its value out and reaches members", "[base][expected]") {
  struct thing {
    std::string name;
  };
  expected<std::unique_ptr<thing>> p = std::make_unique<thing>(thing{"a"});
  REQUIRE(p);
  CHECK((*p)->name == "a");
  std::unique_ptr<thing> taken = std::move(*p);
  CHECK(taken->name == "a");
  expected<std::unique_ptr<thing>> none = error{demo::errc::not_found, "none"};
  CHECK(std::move(none).value_or(nullptr) == nullptr);

  expected<thing> t = thing{"b"};
  CHECK(t->name == "b");
  t->name = "c";
  CHECK(t.value().name == "c");
}

TEST_CASE("status is expected<ok_t>; other error types fit the same shape", "[base][expected]") {
  quire::status fine = quire::ok_v;
  CHECK(fine.ok());
  quire::status failed = error{demo::errc::not_found, "gone"};
  CHECK_FALSE(failed.ok());
  CHECK(failed.err().code == demo::errc::not_found);

  struct wire_error {
    std::string code;
  };
  expected<int, wire_error> w = wire_error{"job_not_found"};
  REQUIRE_FALSE(w);
  CHECK(w.err().code == "job_not_found");
  expected<int, wire_error> v = 3;
  CHECK(*v == 3);
}
