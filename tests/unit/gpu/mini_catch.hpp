// A minimal stand-in for the part of Catch2 the gpu/ tests use (TEST_CASE, REQUIRE, CHECK, their
// _FALSE forms, REQUIRE_THROWS_AS, INFO), for standalone builds on hosts without Catch2.
#pragma once
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace mini_catch {
struct failure {};  // thrown by a failed REQUIRE to end the test case
struct test_case {
  std::string name;
  std::function<void()> fn;
};
std::vector<test_case>& registry();
int& failures();
std::vector<std::string>& info();
void fail(const char* file, int line, const char* expr, bool fatal);
struct registrar {
  registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};
struct info_scope {
  explicit info_scope(std::string s) { info().push_back(std::move(s)); }
  ~info_scope() { info().pop_back(); }
};
}  // namespace mini_catch

#define MC_CAT2(a, b) a##b
#define MC_CAT(a, b) MC_CAT2(a, b)
#define TEST_CASE(name, ...)                                                                   \
  static void MC_CAT(mc_test_, __LINE__)();                                                    \
  static mini_catch::registrar MC_CAT(mc_reg_, __LINE__)(name, &MC_CAT(mc_test_, __LINE__));   \
  static void MC_CAT(mc_test_, __LINE__)()
#define MC_CHECK(ok, text, fatal) \
  do { if (!(ok)) mini_catch::fail(__FILE__, __LINE__, text, fatal); } while (0)
// Variadic so that braces with commas (pixel_box{1, 2, 3, 4}) pass through as in Catch2.
#define REQUIRE(...) MC_CHECK((__VA_ARGS__), #__VA_ARGS__, true)
#define CHECK(...) MC_CHECK((__VA_ARGS__), #__VA_ARGS__, false)
#define REQUIRE_FALSE(...) MC_CHECK(!(__VA_ARGS__), "!(" #__VA_ARGS__ ")", true)
#define CHECK_FALSE(...) MC_CHECK(!(__VA_ARGS__), "!(" #__VA_ARGS__ ")", false)
#define REQUIRE_THROWS_AS(expr, type)                                   \
  do {                                                                  \
    bool mc_threw_ = false;                                             \
    try { (void)(expr); } catch (const type&) { mc_threw_ = true; }     \
    MC_CHECK(mc_threw_, #expr " throws " #type, true);                  \
  } while (0)
#define INFO(msg) \
  mini_catch::info_scope MC_CAT(mc_info_, __LINE__)([&] { std::ostringstream mc_s_; mc_s_ << msg; return mc_s_.str(); }())
