#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <fstream>
#include <map>

#include "actors/config.hpp"

using namespace quire::actors;

namespace {
env_lookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST_CASE("defaults apply when nothing is set") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({}), errors);
  CHECK(errors.empty());
  CHECK(c.profile == "eval");
  CHECK(c.listen_port == 8080);
  CHECK(c.max_upload_bytes == 50ull * 1024 * 1024);
  CHECK(c.cpu_converters == 1);
  CHECK(c.effective_acceleration_policy() == "cpu_only");
  CHECK(c.grouped_sync);
  CHECK(c.worker_nice == 10);
}

TEST_CASE("QUIRE_WORKER_NICE: 0 to 19") {
  std::vector<config_error> errors;
  CHECK(load_config(env_of({{"QUIRE_WORKER_NICE", "0"}}), errors).worker_nice == 0);
  CHECK(load_config(env_of({{"QUIRE_WORKER_NICE", "19"}}), errors).worker_nice == 19);
  CHECK(errors.empty());
  for (const char* bad : {"-5", "20", "high"}) {
    errors.clear();
    load_config(env_of({{"QUIRE_WORKER_NICE", bad}}), errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].variable == "QUIRE_WORKER_NICE");
  }
}

TEST_CASE("QUIRE_DOCLING_PREFIX is a literal path; QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS a bounded number") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({}), errors);
  CHECK(c.docling_prefix.empty());
  CHECK(c.docling_max_sync_wait == std::chrono::seconds(120));
  CHECK(load_config(env_of({{"QUIRE_DOCLING_PREFIX", "/docling/"}}), errors).docling_prefix == "/docling");
  CHECK(load_config(env_of({{"QUIRE_DOCLING_PREFIX", "/"}}), errors).docling_prefix.empty());
  CHECK(load_config(env_of({{"QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS", "5"}}), errors).docling_max_sync_wait ==
        std::chrono::seconds(5));
  CHECK(errors.empty());
  for (const char* bad : {"docling", "/a//b", "/{x}", "/a b"}) {
    errors.clear();
    load_config(env_of({{"QUIRE_DOCLING_PREFIX", bad}}), errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].variable == "QUIRE_DOCLING_PREFIX");
  }
  errors.clear();
  load_config(env_of({{"QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS", "0"}}), errors);
  CHECK(errors.size() == 1);
}

TEST_CASE("QUIRE_DATA_SYNC chooses grouped or per-file durability for data-root writes") {
  std::vector<config_error> errors;
  CHECK_FALSE(load_config(env_of({{"QUIRE_DATA_SYNC", "per_file"}}), errors).grouped_sync);
  CHECK(load_config(env_of({{"QUIRE_DATA_SYNC", " grouped "}}), errors).grouped_sync);
  CHECK(errors.empty());
  load_config(env_of({{"QUIRE_DATA_SYNC", "none"}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_DATA_SYNC");
}

TEST_CASE("prod defaults to gpu_required unless overridden") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_PROFILE", "prod"}}), errors);
  CHECK(c.effective_acceleration_policy() == "gpu_required");
  c = load_config(env_of({{"QUIRE_PROFILE", "prod"}, {"QUIRE_ACCELERATION_POLICY", "gpu_prefer"}}), errors);
  CHECK(errors.empty());
  CHECK(c.effective_acceleration_policy() == "gpu_prefer");
}

TEST_CASE("values are parsed strictly and each bad variable is named") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_LISTEN", "127.0.0.1:9123"},
                               {"QUIRE_API_KEYS", " a1 , b2,,"},
                               {"QUIRE_MAX_UPLOAD_BYTES", "1000"},
                               {"QUIRE_CPU_CONVERTERS", "3"}}),
                       errors);
  CHECK(errors.empty());
  CHECK(c.listen_host == "127.0.0.1");
  CHECK(c.listen_port == 9123);
  CHECK(c.api_keys == std::vector<std::string>{"a1", "b2"});
  CHECK(c.max_upload_bytes == 1000);
  CHECK(c.cpu_converters == 3);

  errors.clear();
  load_config(env_of({{"QUIRE_LISTEN", "nonsense"},
                      {"QUIRE_CPU_CONVERTERS", "-1"},
                      {"QUIRE_PROFILE", "staging"},
                      {"QUIRE_LEASE_SECONDS", "5"},
                      {"QUIRE_HEARTBEAT_SECONDS", "9"},
                      {"QUIRE_MAX_UPLOAD_BYTES", "12abc"}}),
              errors);
  std::vector<std::string> vars;
  for (auto& e : errors) vars.push_back(e.variable);
  CHECK(vars == std::vector<std::string>{"QUIRE_PROFILE", "QUIRE_LISTEN", "QUIRE_MAX_UPLOAD_BYTES",
                                         "QUIRE_CPU_CONVERTERS", "QUIRE_HEARTBEAT_SECONDS"});
}

TEST_CASE("the probe listener defaults to loopback on the next port, and can be moved or switched off") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_LISTEN", "0.0.0.0:9123"}}), errors);
  CHECK(errors.empty());
  CHECK(c.probe_host == "127.0.0.1");
  CHECK(c.probe_port == 9124);
  CHECK(c.max_connections_per_peer == 256);
  c = load_config(env_of({{"QUIRE_PROBE_LISTEN", "0.0.0.0:7000"}, {"QUIRE_MAX_CONNECTIONS_PER_PEER", "8"}}), errors);
  CHECK(errors.empty());
  CHECK(c.probe_host == "0.0.0.0");
  CHECK(c.probe_port == 7000);
  CHECK(c.max_connections_per_peer == 8);
  c = load_config(env_of({{"QUIRE_PROBE_LISTEN", "off"}}), errors);
  CHECK(errors.empty());
  CHECK(c.probe_port == 0);
  load_config(env_of({{"QUIRE_PROBE_LISTEN", "8081"}, {"QUIRE_MAX_CONNECTIONS_PER_PEER", "0"}}), errors);
  std::vector<std::string> vars;
  for (auto& e : errors) vars.push_back(e.variable);
  CHECK(vars == std::vector<std::string>{"QUIRE_MAX_CONNECTIONS_PER_PEER", "QUIRE_PROBE_LISTEN"});
  errors.clear();
  load_config(env_of({{"QUIRE_LISTEN", ":65535"}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_PROBE_LISTEN");
}

TEST_CASE("listen addresses") {
  auto any = parse_listen(":8081");
  REQUIRE(any);
  CHECK(any->host == "0.0.0.0");
  CHECK(any->port == 8081);
  auto v6 = parse_listen(" [::1]:80 ");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 80);
  CHECK_FALSE(parse_listen("host:0"));
  CHECK_FALSE(parse_listen("host:70000"));
  CHECK_FALSE(parse_listen("host"));
}

TEST_CASE("the webhook destination settings: parsed into the policy, or one error each with its text") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_WEBHOOK_ALLOWED_HOSTS", "Hooks.Example.com, *.corp.example:8443"},
                               {"QUIRE_WEBHOOK_ALLOW_NETWORKS", "loopback,link_local"},
                               {"QUIRE_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4uWGc+Gy3Ws="}}),
                       errors);
  CHECK(errors.empty());
  CHECK(c.webhook_destinations.allowed_hosts == std::vector<std::string>{"hooks.example.com", "*.corp.example:8443"});
  CHECK(c.webhook_destinations.networks.loopback);
  CHECK_FALSE(c.webhook_destinations.networks.private_);
  CHECK(c.webhook_destinations.networks.link_local);

  errors.clear();
  load_config(env_of({{"QUIRE_WEBHOOK_ALLOWED_HOSTS", "https://hooks.example.com"},
                      {"QUIRE_WEBHOOK_ALLOW_NETWORKS", "loopback,everything"},
                      {"QUIRE_LISTEN", "host:0"},
                      {"QUIRE_PROBE_LISTEN", "nowhere"}}),
              errors);
  std::map<std::string, std::string> by_variable;
  for (auto& e : errors) by_variable[e.variable] = e.message;
  CHECK(by_variable["QUIRE_WEBHOOK_ALLOWED_HOSTS"] ==
        "'https://hooks.example.com' is not a host, host:port or *.domain entry");
  CHECK(by_variable["QUIRE_WEBHOOK_ALLOW_NETWORKS"] ==
        "expected a comma list of loopback, private, link_local; got 'everything'");
  CHECK(by_variable["QUIRE_LISTEN"] == "expected host:port, got 'host:0'");
  CHECK(by_variable["QUIRE_PROBE_LISTEN"] == "expected host:port or 'off', got 'nowhere'");
}

TEST_CASE("API keys from a file, one per line, comments skipped") {
  char path[] = "/tmp/quire-keys-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << "# operators\nk-one\n\n  k-two  \n";
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_API_KEYS", "k-env"}, {"QUIRE_API_KEYS_FILE", path}}), errors);
  CHECK(errors.empty());
  CHECK(c.api_keys == std::vector<std::string>{"k-env", "k-one", "k-two"});
  std::remove(path);
  load_config(env_of({{"QUIRE_API_KEYS_FILE", path}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_API_KEYS_FILE");
}

TEST_CASE("the database URL from a file (a Compose secret), trailing newline trimmed; errors name the _FILE") {
  char path[] = "/tmp/quire-dburl-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << "postgresql://quire_eval:s3cret@db:5432/quire_eval\n";
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_DATABASE_URL_FILE", path}}), errors);
  CHECK(errors.empty());
  CHECK(c.database_url == "postgresql://quire_eval:s3cret@db:5432/quire_eval");
  // Both the value and the file: refused, not guessed.
  load_config(env_of({{"QUIRE_DATABASE_URL", "postgresql://x@y/z"}, {"QUIRE_DATABASE_URL_FILE", path}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_DATABASE_URL_FILE");
  errors.clear();
  std::ofstream(path, std::ios::trunc) << "\n";
  load_config(env_of({{"QUIRE_DATABASE_URL_FILE", path}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("empty") != std::string::npos);
  errors.clear();
  std::remove(path);
  load_config(env_of({{"QUIRE_DATABASE_URL_FILE", path}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_DATABASE_URL_FILE");
  CHECK(errors[0].message.find("cannot read") != std::string::npos);
}

TEST_CASE("work budgets and the per-key cap: defaults, zero switches a budget off, junk is refused") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({}), errors);
  CHECK(errors.empty());
  CHECK(c.page_timeout == std::chrono::seconds(60));
  CHECK(c.page_content_bytes == 128ull << 20);
  CHECK(c.document_content_bytes == 2048ull << 20);
  CHECK(c.page_operators == 2000000);
  CHECK(c.max_jobs_per_key == 100);
  c = load_config(env_of({{"QUIRE_PAGE_TIMEOUT_SECONDS", "0"}, {"QUIRE_MAX_JOBS_PER_KEY", "0"},
                          {"QUIRE_PAGE_CONTENT_BYTES", "1048576"}}), errors);
  CHECK(errors.empty());
  CHECK(c.page_timeout.count() == 0);
  CHECK(c.max_jobs_per_key == 0);
  CHECK(c.page_content_bytes == 1048576);
  load_config(env_of({{"QUIRE_PAGE_OPERATORS", "-1"}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_PAGE_OPERATORS");
}

TEST_CASE("CPU converters default per policy: none on a gpu_required lane unless configured") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_PROFILE", "prod"}}), errors);
  CHECK(c.cpu_converters == 0);
  CHECK_FALSE(c.cpu_override());
  c = load_config(env_of({{"QUIRE_PROFILE", "prod"}, {"QUIRE_CPU_CONVERTERS", "2"}}), errors);
  CHECK(c.cpu_converters == 2);
  // The local-testing override (compose.prod-cpu.yaml) gets a CPU converter and says so.
  c = load_config(env_of({{"QUIRE_PROFILE", "prod"}, {"QUIRE_ACCELERATION_POLICY", "gpu_prefer"}}), errors);
  CHECK(c.cpu_converters == 1);
  CHECK(c.cpu_override());
  c = load_config(env_of({{"QUIRE_PROFILE", "eval"}, {"QUIRE_ACCELERATION_POLICY", "gpu_required"}}), errors);
  CHECK(c.cpu_converters == 0);
  CHECK_FALSE(c.cpu_override());
  CHECK(errors.empty());
}

TEST_CASE("QUIRE_GPUS selects devices") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({}), errors);
  CHECK_FALSE(c.gpu_allowlist().has_value());  // all
  c = load_config(env_of({{"QUIRE_GPUS", "none"}}), errors);
  REQUIRE(c.gpu_allowlist().has_value());
  CHECK(c.gpu_allowlist()->empty());
  c = load_config(env_of({{"QUIRE_GPUS", "0, 2"}}), errors);
  CHECK(c.gpu_allowlist() == std::optional<std::vector<int>>(std::vector<int>{0, 2}));
  CHECK(errors.empty());
  load_config(env_of({{"QUIRE_GPUS", "first"}}), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].variable == "QUIRE_GPUS");
}

TEST_CASE("the device-failure test hook exists only with QUIRE_WORKER_TEST_HOOKS=1") {
  std::vector<config_error> errors;
  auto c = load_config(env_of({{"QUIRE_TEST_FAIL_DEVICE", "0"}}), errors);
  CHECK(c.test_fail_device_converter == -1);
  c = load_config(env_of({{"QUIRE_TEST_FAIL_DEVICE", "0"}, {"QUIRE_WORKER_TEST_HOOKS", "0"}}), errors);
  CHECK(c.test_fail_device_converter == -1);
  c = load_config(env_of({{"QUIRE_TEST_FAIL_DEVICE", "1"}, {"QUIRE_WORKER_TEST_HOOKS", "1"}}), errors);
  CHECK(c.test_fail_device_converter == 1);
  CHECK(errors.empty());
}

// `quire serve --help` shows these defaults; given back as values they must change nothing.
TEST_CASE("documented settings: each is read by load_config, and its shown default is the real one") {
  std::vector<config_error> errors;
  const auto defaults = load_config(env_of({}), errors);
  REQUIRE(errors.empty());
  auto fingerprint = [](const service_config& c) {
    std::string f = c.profile + "|" + c.gpus + "|" + c.effective_acceleration_policy() + "|" + c.listen_host + ":" +
                    std::to_string(c.listen_port) + (c.grouped_sync ? "|grouped" : "|per_file");
    for (long long v : {static_cast<long long>(c.max_upload_bytes), static_cast<long long>(c.max_bundle_bytes),
                        static_cast<long long>(c.cpu_converters),
                        static_cast<long long>(c.http_threads), static_cast<long long>(c.max_concurrent_uploads),
                        static_cast<long long>(c.max_connections), static_cast<long long>(c.max_queue_depth),
                        static_cast<long long>(c.max_attempts), static_cast<long long>(c.max_pages),
                        static_cast<long long>(c.worker_memory_bytes), static_cast<long long>(c.worker_nice),
                        static_cast<long long>(c.document_timeout.count()),
                        static_cast<long long>(c.request_timeout.count()),
                        static_cast<long long>(c.idle_timeout.count()), static_cast<long long>(c.lease.count()),
                        static_cast<long long>(c.heartbeat.count()),
                        static_cast<long long>(c.readiness_interval.count()),
                        static_cast<long long>(c.poll_interval.count()),
                        static_cast<long long>(c.shutdown_grace.count()),
                        static_cast<long long>(c.retry_backoff.count()),
                        static_cast<long long>(c.sweep_interval.count()),
                        static_cast<long long>(c.input_retention.count()),
                        static_cast<long long>(c.result_retention.count()),
                        static_cast<long long>(c.tombstone_retention.count())})
      f += "|" + std::to_string(v);
    return f;
  };
  std::map<std::string, std::string> given;
  for (const auto& s : documented_settings()) {
    const std::string fallback = s.fallback;
    CHECK(std::string(s.variable).rfind("QUIRE_", 0) == 0);
    CHECK(std::string(s.meaning).size() > 10);
    // Defaults that depend on the profile are described in words; the others are values.
    if (!fallback.empty() && fallback.find(' ') == std::string::npos) given[s.variable] = fallback;
  }
  CHECK(given.size() >= 25);
  const auto same = load_config(env_of(given), errors);
  CHECK(errors.empty());
  CHECK(fingerprint(same) == fingerprint(defaults));

  // Every variable the table names is one load_config reads: a junk value is an error for each
  // numeric or enumerated one (the free-text ones take anything).
  int rejected = 0;
  for (const auto& s : documented_settings()) {
    std::vector<config_error> errs;
    load_config(env_of({{s.variable, "junk value"}}), errs);
    rejected += errs.empty() ? 0 : 1;
  }
  CHECK(rejected >= 25);
}

TEST_CASE("QUIRE_LOG_LEVEL and QUIRE_LOG_FORMAT: defaults, accepted values, strict errors") {
  std::vector<config_error> errors;
  auto d = load_config(env_of({}), errors);
  CHECK(d.log.min_level == quire::log::level::info);
  CHECK(d.log.output == quire::log::format::automatic);
  auto c = load_config(env_of({{"QUIRE_LOG_LEVEL", " Debug "}, {"QUIRE_LOG_FORMAT", "json"}}), errors);
  CHECK(errors.empty());
  CHECK(c.log.min_level == quire::log::level::debug);
  CHECK(c.log.output == quire::log::format::json);
  CHECK(load_log_settings(env_of({{"QUIRE_LOG_LEVEL", "off"}, {"QUIRE_LOG_FORMAT", "text"}}), errors).output ==
        quire::log::format::text);
  CHECK(errors.empty());
  load_config(env_of({{"QUIRE_LOG_LEVEL", "verbose"}, {"QUIRE_LOG_FORMAT", "xml"}}), errors);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].variable == "QUIRE_LOG_LEVEL");
  CHECK(errors[1].variable == "QUIRE_LOG_FORMAT");
}
