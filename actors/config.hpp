// quire::actors — service configuration, read once from QUIRE_* environment variables.
//
// Every variable, its default and its meaning is listed in docs/configuration.md; keep the two in
// sync. Parsing is strict: a malformed value is an error naming the variable (the service refuses to
// start rather than guess), while a missing value takes its documented default.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/job_spec.hpp"
#include "convert/acceleration.hpp"
#include "log/log.hpp"
#include "notify/destination.hpp"

namespace quire::actors {

struct service_config {
  static constexpr convert::options::work_limits recommended_limits = convert::options::work_limits::recommended();
  std::string profile = "eval";              // QUIRE_PROFILE: prod | eval
  std::string data_root;                     // QUIRE_DATA_ROOT (required for serve)
  std::string prod_data_root;                // QUIRE_PROD_DATA_ROOT (collision check)
  std::string eval_data_root;                // QUIRE_EVAL_DATA_ROOT (collision check)
  std::string database_url;                  // QUIRE_DATABASE_URL
  std::string expected_revision;             // QUIRE_EXPECTED_REVISION ("" = not pinned)
  std::string listen_host = "0.0.0.0";       // QUIRE_LISTEN host part
  std::uint16_t listen_port = 8080;          // QUIRE_LISTEN port part
  std::vector<std::string> api_keys;         // QUIRE_API_KEYS (comma list) + QUIRE_API_KEYS_FILE
  std::uint64_t max_upload_bytes = 50ull << 20;  // QUIRE_MAX_UPLOAD_BYTES
  // QUIRE_MAX_BUNDLE_BYTES: the most a result bundle (GET …/result/bundle) may hold, counted as the
  // recorded sizes of its files; it is built in memory, so this bounds what one request takes.
  std::uint64_t max_bundle_bytes = 128ull << 20;
  // QUIRE_CPU_CONVERTERS. Unset: 0 where the lane's policy is gpu_required (prod's default: a prod
  // lane converts on GPUs only unless an operator asks for CPU converters), else 1.
  int cpu_converters = 1;
  bool cpu_converters_set = false;           // QUIRE_CPU_CONVERTERS was given explicitly
  std::string gpus = "all";                  // QUIRE_GPUS: "all" (every working device), "none", or "0,1"
  // QUIRE_ACCELERATION_POLICY: a job spec's policy when it names none; unset: per profile
  // (default_acceleration()).
  std::optional<convert::acceleration_policy> acceleration_policy;
  int http_threads = 16;                     // QUIRE_HTTP_THREADS
  int max_concurrent_uploads = 32;           // QUIRE_MAX_CONCURRENT_UPLOADS
  int max_connections = 1024;                // QUIRE_MAX_CONNECTIONS (open HTTP connections)
  int max_connections_per_peer = 256;        // QUIRE_MAX_CONNECTIONS_PER_PEER (per IPv4 address / IPv6 /64)
  // QUIRE_PROBE_LISTEN: a second listener serving only the probes and /metrics, so a flood of
  // connections on QUIRE_LISTEN cannot fail a healthcheck. Default 127.0.0.1:<QUIRE_LISTEN port + 1>;
  // "off" disables it (probe_port 0).
  std::string probe_host = "127.0.0.1";
  std::uint16_t probe_port = 0;
  // QUIRE_DATA_SYNC: "grouped" (uploads and results are made durable by syncfs of the data root,
  // one shared by many writes) or "per_file" (fsync each file and its directories); see
  // docs/configuration.md.
  bool grouped_sync = true;
  int max_queue_depth = 1000;                // QUIRE_MAX_QUEUE_DEPTH (queued jobs before 503)
  int max_attempts = 3;                      // QUIRE_MAX_ATTEMPTS
  int max_pages = 2000;                      // QUIRE_MAX_PAGES per document
  // Work budgets of one conversion (convert::options::limits); past one a job fails at once with
  // work_limit_exceeded, never retried. 0 = no limit. By default the engine's recommended ones,
  // which `quire convert` applies too.
  std::chrono::seconds page_timeout{static_cast<long>(recommended_limits.page_seconds)};  // QUIRE_PAGE_TIMEOUT_SECONDS
  std::uint64_t page_content_bytes = recommended_limits.page_content_bytes;          // QUIRE_PAGE_CONTENT_BYTES
  std::uint64_t document_content_bytes = recommended_limits.document_content_bytes;  // QUIRE_DOCUMENT_CONTENT_BYTES
  std::uint64_t page_operators = recommended_limits.page_operators;                  // QUIRE_PAGE_OPERATORS
  // QUIRE_MAX_JOBS_PER_KEY: queued + running jobs one API key may have (429 key_quota_exceeded
  // past it), so one client cannot fill the lane's converters and queue; 0 = no cap. Only with keys.
  int max_jobs_per_key = 100;
  std::uint64_t worker_memory_bytes = 4ull << 30;  // QUIRE_WORKER_MEMORY_BYTES (RLIMIT_AS)
  int worker_nice = 10;                            // QUIRE_WORKER_NICE (0-19)
  std::chrono::seconds document_timeout{api::default_document_timeout_seconds};  // QUIRE_DOCUMENT_TIMEOUT_SECONDS (default/max)
  std::chrono::seconds request_timeout{30};        // QUIRE_REQUEST_TIMEOUT_SECONDS
  // The docling-serve compatible routes (http/docling_routes.cpp): the path prefix they sit under
  // ("" = /v1/convert/file… beside quire's own) and how long a synchronous convert waits for its
  // job before answering 504 (docling-serve's DOCLING_SERVE_MAX_SYNC_WAIT).
  std::string docling_prefix;                          // QUIRE_DOCLING_PREFIX
  std::chrono::seconds docling_max_sync_wait{120};     // QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS
  std::chrono::seconds idle_timeout{60};           // QUIRE_IDLE_TIMEOUT_SECONDS
  std::chrono::seconds lease{60};                  // QUIRE_LEASE_SECONDS
  std::chrono::seconds heartbeat{10};              // QUIRE_HEARTBEAT_SECONDS
  std::chrono::seconds readiness_interval{5};      // QUIRE_READINESS_INTERVAL_SECONDS
  std::chrono::seconds poll_interval{2};           // QUIRE_POLL_INTERVAL_SECONDS (claim fallback)
  std::chrono::seconds shutdown_grace{25};         // QUIRE_SHUTDOWN_GRACE_SECONDS
  std::chrono::seconds retry_backoff{5};           // QUIRE_RETRY_BACKOFF_SECONDS (first retry)
  std::chrono::seconds sweep_interval{300};        // QUIRE_SWEEP_INTERVAL_SECONDS
  std::chrono::hours input_retention{24};          // QUIRE_INPUT_RETENTION_HOURS
  std::chrono::hours result_retention{24 * 7};     // QUIRE_RESULT_RETENTION_HOURS
  std::chrono::hours tombstone_retention{24 * 30}; // QUIRE_TOMBSTONE_RETENTION_HOURS
  // Webhooks (a job's notify.url; docs/api.md "Webhooks"). No allowed host: notify.url is refused.
  notify::destination_policy webhook_destinations;  // QUIRE_WEBHOOK_ALLOWED_HOSTS, QUIRE_WEBHOOK_ALLOW_NETWORKS
  std::string webhook_secret;                       // QUIRE_WEBHOOK_SECRET: whsec_<base64>, the lane's
  std::map<std::string, std::string> webhook_key_secrets;  // QUIRE_WEBHOOK_KEY_SECRETS: api key id → whsec_
  std::chrono::seconds webhook_retry_period{24 * 3600};    // QUIRE_WEBHOOK_RETRY_PERIOD_SECONDS
  std::chrono::seconds webhook_retry_backoff{5};           // QUIRE_WEBHOOK_RETRY_BACKOFF_SECONDS
  std::chrono::seconds webhook_retry_backoff_max{3600};    // QUIRE_WEBHOOK_RETRY_BACKOFF_MAX_SECONDS
  std::chrono::seconds webhook_timeout{10};                // QUIRE_WEBHOOK_TIMEOUT_SECONDS
  std::string worker_binary;                 // QUIRE_WORKER_BINARY ("" = this executable)
  // AGPL-3.0 section 13: the Corresponding Source offered to every user of the service.
  std::string source_archive;                // QUIRE_SOURCE_ARCHIVE: tarball served at GET /v1/source
  std::string source_url;                    // QUIRE_SOURCE_URL: another place it can be had
  // Not an environment variable: the Tesseract languages installed on this machine, filled by
  // `quire serve` at start (convert::installed_ocr_languages). /v1/info lists them; a job naming
  // another is refused at submit (422 ocr_language_unavailable).
  std::vector<std::string> ocr_languages;
  // Test hook, read only when QUIRE_WORKER_TEST_HOOKS=1 (the system tests): QUIRE_TEST_FAIL_DEVICE=N
  // makes converter N's device report as failed on its first job (the died-while-running path on a
  // machine without a GPU). -1 = off; never set in production.
  int test_fail_device_converter = -1;
  log::settings log;                         // QUIRE_LOG_LEVEL, QUIRE_LOG_FORMAT

  // true when this lane's jobs may run on the CPU although the profile expects GPUs: a prod lane
  // whose QUIRE_ACCELERATION_POLICY overrides gpu_required (local testing, compose.prod-cpu.yaml).
  bool cpu_override() const {
    return profile == "prod" && default_acceleration() != convert::acceleration_policy::gpu_required;
  }
  // Device indices QUIRE_GPUS allows: nullopt = all, empty = none.
  std::optional<std::vector<int>> gpu_allowlist() const;

  // The effective policy: the explicit setting, else gpu_required for prod and cpu_only for eval.
  convert::acceleration_policy default_acceleration() const;
  std::string effective_acceleration_policy() const { return std::string(convert::to_string(default_acceleration())); }
};

// One bad setting. The settings readers below (load_config, load_log_settings, secret_setting) add
// every one they find to the caller's list instead of stopping at the first, so one start reports
// all of them (docs/architecture.md, "Errors": an accumulator, not an error out-parameter).
struct config_error {
  std::string variable;  // e.g. "QUIRE_LISTEN"
  std::string message;
};

// The lane's settings a submitted job spec is parsed and admitted under (its default policy and
// timeout, the timeout's ceiling, the installed OCR languages, the webhook destinations); they
// refer into `cfg`, which must outlive them.
api::spec_limits job_spec_limits(const service_config& cfg);
// The lane's work budgets for one conversion (QUIRE_MAX_PAGES, QUIRE_PAGE_*, QUIRE_DOCUMENT_CONTENT_BYTES).
api::work_budget work_budget_of(const service_config& cfg);

// Reads one variable; returns nullopt when unset. Tests pass a map-backed lookup.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;
env_lookup process_env();

// A setting that carries a secret: NAME's value, or the contents of the file NAME_FILE names (one
// trailing newline trimmed), so the secret can come from a Compose secret (/run/secrets/…) and never
// appear in the container's environment (`docker inspect`). nullopt when neither is set; both set,
// or an unreadable or empty file, is an error naming NAME_FILE.
std::optional<std::string> secret_setting(const env_lookup& env, const std::string& name, std::vector<config_error>& errors);

// Parses every QUIRE_* setting. On error, `errors` lists each bad variable and the result is
// meaningless. Never throws.
service_config load_config(const env_lookup& env, std::vector<config_error>& errors);

// One documented setting: its variable, its default as docs/configuration.md gives it ("" = unset)
// and a one-line meaning, for `quire serve --help` (which also accepts each as a flag: QUIRE_LISTEN
// is --listen).
struct setting_doc {
  const char* variable;  // "QUIRE_LISTEN"
  const char* fallback;  // "0.0.0.0:8080"
  const char* meaning;
};
// Every setting load_config reads, test hooks excepted, in the order of docs/configuration.md.
const std::vector<setting_doc>& documented_settings();

// QUIRE_LOG_LEVEL and QUIRE_LOG_FORMAT alone (load_config reads them too): `quire worker` takes
// its log settings from the environment `quire serve` passes on.
log::settings load_log_settings(const env_lookup& env, std::vector<config_error>& errors);

// QUIRE_LISTEN's and QUIRE_PROBE_LISTEN's form.
struct listen_address {
  std::string host;  // an IPv6 literal without brackets; "0.0.0.0" for ":port"
  std::uint16_t port = 0;
};
// "host:port" → parts; accepts "[v6]:port" and ":port" (all interfaces). nullopt when it is not
// that form or the port is outside 1-65535 (the caller's settings error says what was expected).
std::optional<listen_address> parse_listen(const std::string& text);

}  // namespace quire::actors
