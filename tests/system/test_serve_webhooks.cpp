// Webhooks end to end (issue 15): a Standard Webhooks receiver on loopback (webhook_receiver.py,
// which checks signatures with its own HMAC code) gets exactly the terminal events of the jobs
// that named notify.url, although it was down when the jobs ended and the service was killed
// with SIGKILL before it could deliver; duplicates, if any, only under the same webhook-id.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;

namespace {

// 32 bytes, base64: the secret both sides know.
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4uWGc+Gy3Ws=";

class receiver {
 public:
  receiver(int port, std::string log) : port_(port), log_(std::move(log)) {}
  ~receiver() { stop(); }
  void start() {
    const std::string script = std::string(QUIRE_SOURCE_DIR) + "/tests/system/webhook_receiver.py";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execlp("python3", "python3", script.c_str(), std::to_string(port_).c_str(), kSecret.c_str(), log_.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Listening once a TCP connection is accepted.
    for (int i = 0; i < 100; ++i) {
      raw_connection c(port_);
      if (c.connected()) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("the webhook receiver did not start");
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Every request received so far, one JSON object each.
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream f(log_);
    for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  int port_;
  std::string log_;
  pid_t pid_ = -1;
};

std::string notify_spec(int port) {
  return R"({"notify":{"url":"http://127.0.0.1:)" + std::to_string(port) + R"(/hooks/quire"}})";
}

}  // namespace

TEST_CASE("webhooks reach a receiver that was down, across a SIGKILL of the service, signed and exactly per event") {
  const int hook_port = free_port();
  const std::string dir = temp_dir("webhooks-receiver");
  lane l("webhooks", {{"QUIRE_CPU_CONVERTERS", "1"},
                      {"QUIRE_MAX_ATTEMPTS", "1"},
                      {"QUIRE_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1:" + std::to_string(hook_port)},
                      {"QUIRE_WEBHOOK_ALLOW_NETWORKS", "loopback"},
                      {"QUIRE_WEBHOOK_SECRET", kSecret},
                      {"QUIRE_WEBHOOK_RETRY_BACKOFF_SECONDS", "1"},
                      // Bounded so that an event failed many times while the receiver was down
                      // (slow machines) is retried within the wait below, not 30+ s later.
                      {"QUIRE_WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", "2"},
                      {"QUIRE_WEBHOOK_TIMEOUT_SECONDS", "2"}});
  receiver hooks(hook_port, dir + "/requests.jsonl");
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();

  // Refused at submit: a host off the allow-list, and a malformed URL.
  auto off_list = submit(port, sample_pdf(), R"({"notify":{"url":"http://127.0.0.1:1/x"}})");
  CHECK(off_list.status == 422);
  CHECK(off_list.json()["error"]["code"] == "notify_url_not_allowed");
  auto malformed = submit(port, sample_pdf(), R"({"notify":{"url":"ftp://127.0.0.1/x"}})");
  CHECK(malformed.status == 422);
  CHECK(malformed.json()["error"]["code"] == "validation_error");

  // The receiver is down while the jobs end: canceled, succeeded, failed, and one without notify.
  const auto canceled = job_id_of(submit(port, sample_pdf("QUIRE_TEST_SLOW"), notify_spec(hook_port)));
  REQUIRE(http(port, "POST", "/v1/convert/jobs/" + canceled + "/cancel").status == 200);
  const auto succeeded = job_id_of(submit(port, sample_pdf(), notify_spec(hook_port)));
  const auto failed = job_id_of(submit(port, sample_pdf("QUIRE_TEST_SEGFAULT"), notify_spec(hook_port)));
  const auto silent = job_id_of(submit(port, sample_pdf()));
  CHECK(l.svc.wait_job(succeeded, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  CHECK(l.svc.wait_job(failed, {"succeeded", "failed"}, 60s).value("status", "") == "failed");
  CHECK(l.svc.wait_job(silent, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");

  // Attempts fail (connection refused) and the job shows it.
  nlohmann::json shown;
  for (int i = 0; i < 50; ++i) {
    shown = http(port, "GET", "/v1/convert/jobs/" + succeeded).json()["job"];
    if (shown["webhooks"].size() == 1 && shown["webhooks"][0].value("attempts", 0) >= 2) break;
    std::this_thread::sleep_for(200ms);
  }
  INFO(shown.dump());
  REQUIRE(shown["webhooks"].size() == 1);
  CHECK(shown["webhooks"][0]["webhook_id"] == "msg_" + succeeded + "_succeeded");
  CHECK(shown["webhooks"][0]["event"] == "job.succeeded");
  CHECK(shown["webhooks"][0]["state"] == "pending");
  CHECK(shown["webhooks"][0]["attempts"] >= 2);
  CHECK(!shown["webhooks"][0]["last_error"].get<std::string>().empty());
  CHECK(shown["job_spec"]["notify"]["url"] == "http://127.0.0.1:" + std::to_string(hook_port) + "/hooks/quire");
  CHECK(http(port, "GET", "/v1/convert/jobs/" + silent).json()["job"].count("webhooks") == 0);
  CHECK(metric(port, "quire_webhooks_pending") == 3);
  CHECK(hooks.requests().empty());

  // The service dies with the deliveries pending; the receiver comes up; the service restarts.
  l.svc.kill9();
  hooks.start();
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));

  const std::map<std::string, std::pair<std::string, std::string>> want = {
      {"msg_" + canceled + "_canceled", {canceled, "canceled"}},
      {"msg_" + succeeded + "_succeeded", {succeeded, "succeeded"}},
      {"msg_" + failed + "_failed", {failed, "failed"}}};
  std::set<std::string> ids;
  for (int i = 0; i < 150 && ids.size() < want.size(); ++i) {
    ids.clear();
    for (const auto& r : hooks.requests()) ids.insert(r.value("id", ""));
    std::this_thread::sleep_for(200ms);
  }
  std::this_thread::sleep_for(1500ms);  // anything that would come twice has time to
  const auto got = hooks.requests();
  ids.clear();
  for (const auto& r : got) {
    INFO(r.dump());
    CHECK(r["valid"] == true);
    CHECK(r["content_type"] == "application/json");
    const auto id = r.value("id", "");
    ids.insert(id);
    REQUIRE(want.count(id) == 1);
    CHECK(r["job_id"] == want.at(id).first);
    CHECK(r["status"] == want.at(id).second);
    CHECK(r["type"] == "job." + want.at(id).second);
  }
  CHECK(ids.size() == want.size());
  CHECK(got.size() >= want.size());

  // Delivered: visible on the job and in the metrics.
  for (int i = 0; i < 50; ++i) {
    shown = http(port, "GET", "/v1/convert/jobs/" + succeeded).json()["job"];
    if (shown["webhooks"][0]["state"] == "delivered") break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(shown["webhooks"][0]["state"] == "delivered");
  CHECK(shown["webhooks"][0]["last_status"] == 204);
  CHECK(metric(port, "quire_webhooks_pending") == 0);
  CHECK(http(port, "GET", "/metrics").body.find("quire_webhook_attempts_total{outcome=\"delivered\"}") != std::string::npos);
}
