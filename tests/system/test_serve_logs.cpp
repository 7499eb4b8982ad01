// The service log as an operator reads it (issue 18): one event per line on stderr, JSON when
// stderr is not a terminal (here: a file), text on request; an access line per answer, job
// transitions with id and attempt, readiness changes with reasons; QUIRE_LOG_LEVEL filters.
#include <catch2/catch.hpp>

#include <signal.h>

#include <sstream>
#include <vector>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Every line of the log, parsed; a line that is not a JSON object with ts, level and event fails.
std::vector<json> json_lines(const std::string& log) {
  std::vector<json> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    INFO("log line: " << line);
    auto j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["ts"].is_string());
    CHECK(j["level"].is_string());
    CHECK(j["event"].is_string());
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<json> events(const std::vector<json>& lines, const std::string& name) {
  std::vector<json> out;
  for (const auto& j : lines)
    if (j.value("event", "") == name) out.push_back(j);
  return out;
}

}  // namespace

TEST_CASE("JSON log lines: access with the correlation id, job transitions, readiness") {
  lane l("logs", {{"QUIRE_CPU_CONVERTERS", "1"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  auto r = submit(l.svc.port(), sample_pdf(), {}, {{"X-Correlation-ID", "logs-test-42"}});
  REQUIRE(r.status == 202);
  const auto id = job_id_of(r);
  REQUIRE(l.svc.wait_job(id, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  // A client-chosen path with characters that need escaping lands in the line, escaped.
  CHECK(http(l.svc.port(), "GET", "/v1/no%22such%0Aroute", {{"X-Correlation-ID", "logs-test-43"}}).status == 404);
  l.svc.signal(SIGTERM);  // the drain writes out every queued line before exit
  REQUIRE(l.svc.wait_exit(30s) == 0);

  const auto lines = json_lines(l.svc.log());
  INFO(l.svc.log());

  // The access line of the submit, found by the correlation id the client sent.
  std::vector<json> submit_access;
  for (const auto& a : events(lines, "http.access"))
    if (a.value("correlation_id", "") == "logs-test-42") submit_access.push_back(a);
  REQUIRE(submit_access.size() == 1);
  const auto& a = submit_access[0];
  CHECK(a["level"] == "info");
  CHECK(a["method"] == "POST");
  CHECK(a["route"] == "/v1/convert/jobs");
  CHECK(a["path"] == "/v1/convert/jobs");
  CHECK(a["status"] == 202);
  CHECK(a["bytes"].get<long>() == static_cast<long>(r.body.size()));
  CHECK(a["duration_ms"].is_number());
  CHECK(a["duration_ms"].get<double>() >= 0);
  CHECK(a["peer"] == "127.0.0.1");

  bool saw_unmatched = false;
  for (const auto& x : events(lines, "http.access"))
    if (x.value("correlation_id", "") == "logs-test-43") {
      saw_unmatched = true;
      CHECK(x["route"] == "unmatched");
      CHECK(x["status"] == 404);
      CHECK(x["path"].get<std::string>().find("/v1/no") == 0);
    }
  CHECK(saw_unmatched);

  // queued → running → succeeded, with the job id and the attempt, in that order.
  std::vector<json> transitions;
  for (const auto& t : events(lines, "job.transition"))
    if (t.value("job_id", "") == id) transitions.push_back(t);
  REQUIRE(transitions.size() == 3);
  CHECK(transitions[0]["from"].is_null());
  CHECK(transitions[0]["to"] == "queued");
  CHECK(transitions[0]["correlation_id"] == "logs-test-42");
  CHECK(transitions[1]["from"] == "queued");
  CHECK(transitions[1]["to"] == "running");
  CHECK(transitions[1]["attempt"] == 1);
  CHECK(transitions[1]["converter"].is_number());
  CHECK(transitions[2]["from"] == "running");
  CHECK(transitions[2]["to"] == "succeeded");
  CHECK(transitions[2]["attempt"] == 1);
  CHECK(transitions[2]["pages"].get<int>() >= 1);

  // Readiness: a line when the lane became ready (no reasons), and the drain's change with its
  // reason; not one per check (the interval is 1 s here).
  auto readiness = events(lines, "readiness.changed");
  REQUIRE(readiness.size() >= 2);
  CHECK(readiness.size() <= 4);
  bool saw_ready = false, saw_draining = false;
  for (const auto& x : readiness) {
    if (x["ready"] == true) saw_ready = saw_ready || (x["reasons"].empty() && x["level"] == "info");
    if (x["ready"] == false && x["added"] == json::array({"draining"}))
      for (const auto& reason : x["reasons"]) saw_draining = saw_draining || reason["code"] == "draining";
  }
  CHECK(saw_ready);
  CHECK(saw_draining);

  // Probes are debug: at the default level (info) wait_ready's /readyz polls left no line.
  for (const auto& x : events(lines, "http.access")) CHECK(x["route"] != "/readyz");
  CHECK(events(lines, "serve.started").size() == 1);
  CHECK(events(lines, "serve.stopped").size() == 1);
}

TEST_CASE("QUIRE_LOG_FORMAT=text and QUIRE_LOG_LEVEL filter and shape the lines") {
  SECTION("text at debug: readable lines, probes included") {
    lane l("logs_text", {{"QUIRE_CPU_CONVERTERS", "1"}, {"QUIRE_LOG_FORMAT", "text"}, {"QUIRE_LOG_LEVEL", "debug"}});
    l.svc.start();
    REQUIRE(l.svc.wait_ready(30s));
    CHECK(http(l.svc.port(), "GET", "/v1/info", {{"X-Correlation-ID", "text-1"}}).status == 200);
    l.svc.signal(SIGTERM);
    REQUIRE(l.svc.wait_exit(30s) == 0);
    const auto log = l.svc.log();
    INFO(log);
    CHECK(log.find(" INFO  http.access correlation_id=text-1 method=GET route=/v1/info path=/v1/info status=200 ") !=
          std::string::npos);
    CHECK(log.find(" DEBUG http.access ") != std::string::npos);  // the /readyz polls
    CHECK(log.find("route=/readyz") != std::string::npos);
    CHECK(log.find("{\"ts\"") == std::string::npos);  // no JSON
  }
  SECTION("warn: nothing below it") {
    lane l("logs_warn", {{"QUIRE_CPU_CONVERTERS", "1"}, {"QUIRE_LOG_LEVEL", "warn"}});
    l.svc.start();
    REQUIRE(l.svc.wait_ready(30s));
    CHECK(http(l.svc.port(), "GET", "/v1/info").status == 200);
    l.svc.signal(SIGTERM);
    REQUIRE(l.svc.wait_exit(30s) == 0);
    const auto lines = json_lines(l.svc.log());
    for (const auto& j : lines) CHECK((j["level"] == "warn" || j["level"] == "error" || j["level"] == "critical"));
    CHECK(events(lines, "http.access").empty());
    CHECK(events(lines, "serve.started").empty());
  }
}

TEST_CASE("a bad log setting is refused like any other setting, as a log line") {
  int rc = 0;
  auto out = run_capture("env -i QUIRE_LOG_LEVEL=loud QUIRE_LOG_FORMAT=json QUIRE_DATA_ROOT=/nonexistent " + quire_bin() +
                             " serve",
                         &rc);
  CHECK(rc == 2);
  INFO(out);
  const auto lines = json_lines(out);
  auto bad = events(lines, "config.invalid");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0]["variable"] == "QUIRE_LOG_LEVEL");
  CHECK(bad[0]["level"] == "error");
}
