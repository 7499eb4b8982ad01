// The event line formats (JSON validity with hostile values, text escaping), level parsing and
// filtering, and both deliveries writing to the real stderr descriptor.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "log/log.hpp"

using namespace quire;
using nlohmann::json;

namespace {

const auto kTime = std::chrono::system_clock::time_point(std::chrono::milliseconds(1765038149123));  // 2025-12-06T16:22:29.123Z

// Runs `body` with stderr (fd 2) sent to a temporary file; returns what was written, by line.
template <class Body>
std::vector<std::string> capture_stderr(Body&& body) {
  char path[] = "/tmp/quire-log-test-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::fflush(stderr);
  int saved = ::dup(2);
  ::dup2(fd, 2);
  body();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  ::unlink(path);
  return lines;
}

}  // namespace

TEST_CASE("a JSON line: ts, level, event first, then the fields in the caller's order") {
  auto line = log::render_json(log::level::info, kTime, "job.transition",
                               {{"job_id", "abc"}, {"from", "queued"}, {"to", "running"}, {"attempt", 1}});
  CHECK(line == R"({"ts":"2025-12-06T16:22:29.123Z","level":"info","event":"job.transition","job_id":"abc",)"
                R"("from":"queued","to":"running","attempt":1})");
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("hostile values keep the JSON line valid and on one line") {
  const std::string hostile = std::string("a \"quoted\" \\ path\nwith newline\r\t\x1b[31mred\x01 ") + "\xff\xfe bad utf8 " +
                              "\xc3\xa9 ok";
  const std::string nul_inside("nul\0inside", 10);
  auto line = log::render_json(log::level::warn, kTime, "http.access\n\"evil\"",
                               {{"path", hostile}, {"k\"ey\n", nul_inside}, {"event", "shadow"}, {"nested", {{"a", hostile}}},
                                {"list", json::array({hostile, 1, nullptr, true})}});
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);  // no terminal escape reaches the log
  auto j = json::parse(line);  // throws (test fails) if invalid
  CHECK(j["event"] == "http.access\n\"evil\"");
  CHECK(j["event_"] == "shadow");  // a field cannot overwrite the line's own keys
  std::string path = j["path"];
  CHECK(path.find("a \"quoted\" \\ path\nwith newline") == 0);
  CHECK(path.find("\xef\xbf\xbd") != std::string::npos);  // invalid bytes became U+FFFD
  CHECK(path.find("\xc3\xa9 ok") != std::string::npos);    // valid UTF-8 kept as is
  CHECK(j["k\"ey\n"] == nul_inside);
  CHECK(j["nested"]["a"] == j["path"]);
  CHECK(j["list"].size() == 4);
}

TEST_CASE("a text line: readable key=value, anything ambiguous quoted and escaped") {
  auto line = log::render_text(log::level::info, kTime, "http.access",
                               {{"method", "GET"}, {"route", "/v1/convert/jobs/{job_id}"}, {"status", 200},
                                {"duration_ms", 1.25}, {"message", "two words"}, {"path", "a\nb=c"}, {"empty", ""},
                                {"reasons", json::array({"draining"})}});
  CHECK(line == "2025-12-06T16:22:29.123Z INFO  http.access method=GET route=/v1/convert/jobs/{job_id} status=200 "
                "duration_ms=1.25 message=\"two words\" path=\"a\\nb=c\" empty=\"\" reasons=[\"draining\"]");
  auto hostile = log::render_text(log::level::error, kTime, "x", {{"v", "\x1b[2J\xff"}});
  CHECK(hostile.find('\x1b') == std::string::npos);
  CHECK(hostile.find("ERROR") != std::string::npos);
}

TEST_CASE("levels and formats parse case-insensitively; junk is refused") {
  CHECK(log::parse_level("trace") == log::level::trace);
  CHECK(log::parse_level(" WARNING ") == log::level::warn);
  CHECK(log::parse_level("Off") == log::level::off);
  CHECK_FALSE(log::parse_level("verbose"));
  CHECK_FALSE(log::parse_level(""));
  CHECK(log::parse_format("auto") == log::format::automatic);
  CHECK(log::parse_format("JSON") == log::format::json);
  CHECK_FALSE(log::parse_format("yaml"));
  CHECK(log::to_string(log::level::critical) == "critical");
}

TEST_CASE("synchronous delivery filters by level and writes one line per event to stderr") {
  log::start({log::level::warn, log::format::json}, log::delivery::sync);
  CHECK_FALSE(log::enabled(log::level::info));
  CHECK(log::enabled(log::level::error));
  auto lines = capture_stderr([] {
    log::info("dropped.info", {{"n", 1}});
    log::debug("dropped.debug");
    log::warn("kept.warn", {{"n", 2}});
    log::error("kept.error", {{"text", "multi\nline"}});
  });
  REQUIRE(lines.size() == 2);
  CHECK(json::parse(lines[0])["event"] == "kept.warn");
  CHECK(json::parse(lines[0])["level"] == "warn");
  CHECK(json::parse(lines[1])["text"] == "multi\nline");

  log::start({log::level::off, log::format::json}, log::delivery::sync);
  CHECK_FALSE(log::enabled(log::level::critical));
  CHECK(capture_stderr([] { log::error("silenced"); }).empty());

  log::start({log::level::trace, log::format::text}, log::delivery::sync);
  auto text = capture_stderr([] { log::trace("as.text", {{"k", "v"}}); });
  REQUIRE(text.size() == 1);
  CHECK(text[0].find(" TRACE as.text k=v") != std::string::npos);
}

TEST_CASE("asynchronous delivery writes every queued line by stop(), in order") {
  auto lines = capture_stderr([] {
    log::start({log::level::info, log::format::json}, log::delivery::async);
    for (int i = 0; i < 500; ++i) log::info("async.line", {{"i", i}});
    log::stop();  // drains the queue, back to synchronous delivery
    log::info("after.stop");
  });
  REQUIRE(lines.size() == 501);
  for (int i = 0; i < 500; ++i) CHECK(json::parse(lines[i])["i"] == i);
  CHECK(json::parse(lines[500])["event"] == "after.stop");
  CHECK(log::dropped() == 0);
}
