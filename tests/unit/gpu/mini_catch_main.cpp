// Runner for mini_catch.hpp: runs every TEST_CASE, prints failures, exits non-zero if any failed.
#include "mini_catch.hpp"

#include <cstdio>
#include <exception>

namespace mini_catch {
std::vector<test_case>& registry() { static std::vector<test_case> r; return r; }
int& failures() { static int n = 0; return n; }
std::vector<std::string>& info() { static std::vector<std::string> v; return v; }
void fail(const char* file, int line, const char* expr, bool fatal) {
  ++failures();
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, expr);
  for (const auto& s : info()) std::fprintf(stderr, "  with: %s\n", s.c_str());
  if (fatal) throw failure{};
}
}  // namespace mini_catch

int main() {
  int cases_failed = 0;
  for (const auto& c : mini_catch::registry()) {
    const int before = mini_catch::failures();
    try {
      c.fn();
    } catch (const mini_catch::failure&) {
    } catch (const std::exception& e) {
      ++mini_catch::failures();
      std::fprintf(stderr, "%s: unexpected exception: %s\n", c.name.c_str(), e.what());
    }
    const bool ok = mini_catch::failures() == before;
    cases_failed += ok ? 0 : 1;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", c.name.c_str());
  }
  std::printf("%zu test cases, %d failed\n", mini_catch::registry().size(), cases_failed);
  return cases_failed ? 1 : 0;
}
