// Strict parsing of QUIRE_* settings; see config.hpp and docs/configuration.md.
#include "actors/config.hpp"

#include "notify/signature.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

namespace quire::actors {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Parses a non-negative integer within [lo, hi]; false on junk, sign or overflow.
bool parse_uint(const std::string& text, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
  std::string t = trim(text);
  if (t.empty() || t.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

void add_keys(const std::string& text, char sep, std::vector<std::string>& keys) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) {
    item = trim(item);
    if (!item.empty() && item[0] != '#') keys.push_back(item);
  }
}

}  // namespace

convert::acceleration_policy service_config::default_acceleration() const {
  if (acceleration_policy) return *acceleration_policy;
  return profile == "prod" ? convert::acceleration_policy::gpu_required : convert::acceleration_policy::cpu_only;
}

api::spec_limits job_spec_limits(const service_config& cfg) {
  api::spec_limits l;
  l.max_timeout_seconds = static_cast<int>(cfg.document_timeout.count());
  l.default_policy = cfg.default_acceleration();
  l.ocr_languages = &cfg.ocr_languages;
  l.webhooks = &cfg.webhook_destinations;
  return l;
}

api::work_budget work_budget_of(const service_config& cfg) {
  api::work_budget b;
  b.max_pages = cfg.max_pages;
  b.limits = {static_cast<double>(cfg.page_timeout.count()), cfg.page_content_bytes, cfg.document_content_bytes,
              cfg.page_operators};
  b.timeout_seconds = 0;  // the converter stops the worker at the job's document_timeout_seconds
  return b;
}

std::optional<std::vector<int>> service_config::gpu_allowlist() const {
  if (gpus.empty() || gpus == "all") return std::nullopt;
  std::vector<int> out;
  if (gpus == "none") return out;
  std::stringstream ss(gpus);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::uint64_t v = 0;
    if (parse_uint(item, 0, 1023, v)) out.push_back(static_cast<int>(v));
  }
  return out;
}

const std::vector<setting_doc>& documented_settings() {
  static const std::vector<setting_doc> table = {
      {"QUIRE_PROFILE", "eval", "Lane profile: prod or eval (checked against the data root and the database)"},
      {"QUIRE_DATA_ROOT", "", "This lane's data root directory (required)"},
      {"QUIRE_PROD_DATA_ROOT", "", "Where the prod lane's root lives (collision and profile checks)"},
      {"QUIRE_EVAL_DATA_ROOT", "", "Where the eval lane's root lives (collision and profile checks)"},
      {"QUIRE_DATABASE_URL", "", "libpq URL of this lane's database (required; it holds the password: prefer the file)"},
      {"QUIRE_DATABASE_URL_FILE", "", "A file holding QUIRE_DATABASE_URL (a Compose secret), instead of the variable"},
      {"QUIRE_EXPECTED_REVISION", "", "The git revision this lane must run (unset: not pinned)"},
      {"QUIRE_ACCELERATION_POLICY", "gpu_required for prod, cpu_only for eval",
       "Lane default for jobs: gpu_required, gpu_prefer or cpu_only"},
      {"QUIRE_GPUS", "all", "CUDA devices that get a converter: all, none, or indices like 0,1"},
      {"QUIRE_READINESS_INTERVAL_SECONDS", "5", "How often the readiness checks re-run"},
      {"QUIRE_LISTEN", "0.0.0.0:8080", "host:port to listen on ([v6]:port and :port too)"},
      {"QUIRE_PROBE_LISTEN", "127.0.0.1:<QUIRE_LISTEN port + 1>",
       "host:port of a listener serving only /livez, /healthz, /readyz and /metrics (quire healthcheck asks it), or off"},
      {"QUIRE_API_KEYS", "", "Comma-separated API keys for the job routes (unset: routes are open; as a flag they show in ps, prefer the variable or the file)"},
      {"QUIRE_API_KEYS_FILE", "", "A file with one API key per line, added to QUIRE_API_KEYS"},
      {"QUIRE_HTTP_THREADS", "16", "Request-handler threads (and database connections) for the job routes"},
      {"QUIRE_MAX_UPLOAD_BYTES", "52428800", "Largest PDF accepted (413 payload_too_large)"},
      {"QUIRE_MAX_BUNDLE_BYTES", "134217728",
       "Most a result bundle (zip) may hold, built in memory; a larger result is 422 bundle_too_large"},
      {"QUIRE_MAX_CONNECTIONS", "1024", "Open HTTP connections at once"},
      {"QUIRE_MAX_CONNECTIONS_PER_PEER", "256", "Open HTTP connections from one client address (IPv4, IPv6 /64)"},
      {"QUIRE_DATA_SYNC", "grouped", "How uploads and results are made durable: grouped (syncfs) or per_file (fsync)"},
      {"QUIRE_MAX_CONCURRENT_UPLOADS", "32", "Uploads in flight before 503 overloaded"},
      {"QUIRE_MAX_QUEUE_DEPTH", "1000", "Queued jobs before 503 queue_full"},
      {"QUIRE_REQUEST_TIMEOUT_SECONDS", "30", "Time to write a response (and the longest wait for a handler thread)"},
      {"QUIRE_IDLE_TIMEOUT_SECONDS", "60", "Time to read one whole request, headers and body"},
      {"QUIRE_DOCLING_PREFIX", "", "Path prefix of the docling-serve compatible routes, e.g. /docling (empty: /v1/convert/file… beside quire's own)"},
      {"QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS", "120", "Longest wait of a synchronous docling convert for its job before 504 (the job goes on; poll its task_id)"},
      {"QUIRE_CPU_CONVERTERS", "0 when the policy is gpu_required, else 1",
       "CPU converters, each supervising one worker process"},
      {"QUIRE_WORKER_BINARY", "", "Program run as `<binary> worker` (unset: this executable)"},
      {"QUIRE_SOURCE_ARCHIVE", "", "Tarball of the running revision's source, served at GET /v1/source (AGPL-3.0 section 13)"},
      {"QUIRE_SOURCE_URL", "", "Another place the source can be had, shown in /v1/info"},
      {"QUIRE_WORKER_NICE", "10", "Niceness (0-19) of workers, converter and sweeper threads"},
      {"QUIRE_WORKER_MEMORY_BYTES", "4294967296", "Address-space limit of each worker process"},
      {"QUIRE_DOCUMENT_TIMEOUT_SECONDS", "600", "Default and maximum document timeout of a job"},
      {"QUIRE_MAX_PAGES", "2000", "Documents with more pages fail with too_many_pages"},
      {"QUIRE_PAGE_TIMEOUT_SECONDS", "60", "Time one page may take (0: none); past it the job fails with work_limit_exceeded"},
      {"QUIRE_PAGE_CONTENT_BYTES", "134217728", "Inflated content-stream bytes of one page (0: none); past it work_limit_exceeded"},
      {"QUIRE_DOCUMENT_CONTENT_BYTES", "2147483648", "Inflated content-stream bytes of all pages together (0: none); past it work_limit_exceeded"},
      {"QUIRE_PAGE_OPERATORS", "2000000", "Drawing operations of one page (0: none); past it work_limit_exceeded"},
      {"QUIRE_MAX_JOBS_PER_KEY", "100", "Queued plus running jobs one API key may have (429 key_quota_exceeded); 0: no cap"},
      {"QUIRE_MAX_ATTEMPTS", "3", "Attempts per job for retryable failures"},
      {"QUIRE_RETRY_BACKOFF_SECONDS", "5", "First retry delay (doubles per attempt)"},
      {"QUIRE_LEASE_SECONDS", "60", "Lease of a running job (a dead replica's jobs are rescued after it)"},
      {"QUIRE_HEARTBEAT_SECONDS", "10", "How often a running job's lease is renewed (shorter than the lease)"},
      {"QUIRE_POLL_INTERVAL_SECONDS", "2", "Claim and lease-rescue tick"},
      {"QUIRE_SHUTDOWN_GRACE_SECONDS", "25", "After SIGTERM, how long running jobs may take before they are handed back"},
      {"QUIRE_SWEEP_INTERVAL_SECONDS", "300", "How often retention and data-root reconciliation run"},
      {"QUIRE_INPUT_RETENTION_HOURS", "24", "Raw input kept this long after a job finished"},
      {"QUIRE_RESULT_RETENTION_HOURS", "168", "Result kept this long after a job finished (then expired)"},
      {"QUIRE_TOMBSTONE_RETENTION_HOURS", "720", "Expired jobs' tombstones kept this long"},
      {"QUIRE_WEBHOOK_ALLOWED_HOSTS", "", "Hosts a job's notify.url may name: host, host:port or *.domain, comma-separated (unset: webhooks refused)"},
      {"QUIRE_WEBHOOK_ALLOW_NETWORKS", "", "Address classes webhooks may reach besides public ones: loopback, private, link_local"},
      {"QUIRE_WEBHOOK_SECRET", "", "Standard Webhooks signing secret (whsec_<base64>) of this lane; required with allowed hosts"},
      {"QUIRE_WEBHOOK_KEY_SECRETS", "", "Per API key signing secrets, key-id=whsec_..., comma-separated (override the lane's)"},
      {"QUIRE_WEBHOOK_RETRY_PERIOD_SECONDS", "86400", "How long an undelivered webhook is retried before it is given up"},
      {"QUIRE_WEBHOOK_RETRY_BACKOFF_SECONDS", "5", "First webhook retry delay (doubles per attempt up to the maximum)"},
      {"QUIRE_WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", "3600", "Longest delay between two webhook attempts"},
      {"QUIRE_WEBHOOK_TIMEOUT_SECONDS", "10", "Time bound of one webhook attempt (connect, send, answer)"},
      {"QUIRE_LOG_LEVEL", "info", "Lowest log level written: trace, debug, info, warn, error, critical or off"},
      {"QUIRE_LOG_FORMAT", "auto", "Log lines as json, text, or auto (text on a terminal, else JSON)"},
  };
  return table;
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::optional<listen_address> parse_listen(const std::string& text) {
  std::string t = trim(text);
  auto colon = t.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string h = t.substr(0, colon);
  std::uint64_t p = 0;
  if (!parse_uint(t.substr(colon + 1), 1, 65535, p)) return std::nullopt;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return listen_address{h.empty() ? "0.0.0.0" : h, static_cast<std::uint16_t>(p)};
}

std::optional<std::string> secret_setting(const env_lookup& env, const std::string& name,
                                          std::vector<config_error>& errors) {
  const std::string file_var = name + "_FILE";
  auto direct = env(name);
  auto file = env(file_var);
  if (!file || trim(*file).empty()) return direct;
  if (direct && !trim(*direct).empty()) {
    errors.push_back({file_var, "both " + name + " and " + file_var + " are set; set one"});
    return std::nullopt;
  }
  std::ifstream f(trim(*file), std::ios::binary);
  std::stringstream ss;
  if (f) ss << f.rdbuf();
  if (!f) {
    errors.push_back({file_var, "cannot read '" + trim(*file) + "'"});
    return std::nullopt;
  }
  std::string value = ss.str();
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  if (trim(value).empty()) {
    errors.push_back({file_var, "'" + trim(*file) + "' is empty"});
    return std::nullopt;
  }
  return value;
}

log::settings load_log_settings(const env_lookup& env, std::vector<config_error>& errors) {
  log::settings s;
  if (auto v = env("QUIRE_LOG_LEVEL"); v && !trim(*v).empty()) {
    if (auto l = log::parse_level(*v)) s.min_level = *l;
    else errors.push_back({"QUIRE_LOG_LEVEL", "expected trace, debug, info, warn, error, critical or off, got '" + *v + "'"});
  }
  if (auto v = env("QUIRE_LOG_FORMAT"); v && !trim(*v).empty()) {
    if (auto f = log::parse_format(*v)) s.output = *f;
    else errors.push_back({"QUIRE_LOG_FORMAT", "expected auto, json or text, got '" + *v + "'"});
  }
  return s;
}

namespace {
// QUIRE_WEBHOOK_*: the destination policy, the signing secrets and the retry bounds.
void load_webhook_settings(const env_lookup& env, service_config& c, std::vector<config_error>& errors) {
  if (auto v = env("QUIRE_WEBHOOK_ALLOWED_HOSTS")) {
    if (auto hosts = notify::parse_allowed_hosts(*v)) c.webhook_destinations.allowed_hosts = std::move(*hosts);
    else errors.push_back({"QUIRE_WEBHOOK_ALLOWED_HOSTS", hosts.err().message});
  }
  if (auto v = env("QUIRE_WEBHOOK_ALLOW_NETWORKS")) {
    if (auto networks = notify::parse_allowed_networks(*v)) c.webhook_destinations.networks = *networks;
    else errors.push_back({"QUIRE_WEBHOOK_ALLOW_NETWORKS", networks.err().message});
  }
  if (auto v = env("QUIRE_WEBHOOK_SECRET")) c.webhook_secret = trim(*v);
  if (!c.webhook_secret.empty() && !notify::decode_secret(c.webhook_secret))
    errors.push_back({"QUIRE_WEBHOOK_SECRET", "expected whsec_ followed by the base64 of 24 to 64 random bytes"});
  if (auto v = env("QUIRE_WEBHOOK_KEY_SECRETS")) {
    std::stringstream ss(*v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item = trim(item);
      if (item.empty()) continue;
      const auto eq = item.find('=');
      const std::string id = eq == std::string::npos ? "" : trim(item.substr(0, eq));
      const std::string secret = eq == std::string::npos ? "" : trim(item.substr(eq + 1));
      if (id.empty() || !notify::decode_secret(secret)) {
        errors.push_back({"QUIRE_WEBHOOK_KEY_SECRETS", "expected key-id=whsec_<base64>, comma-separated"});
        break;
      }
      c.webhook_key_secrets[id] = secret;
    }
  }
  if (!c.webhook_destinations.allowed_hosts.empty() && c.webhook_secret.empty())
    errors.push_back({"QUIRE_WEBHOOK_SECRET", "is required when QUIRE_WEBHOOK_ALLOWED_HOSTS allows destinations"});
  auto secs = [&](const char* name, std::uint64_t lo, std::uint64_t hi, std::chrono::seconds& out) {
    auto v = env(name);
    if (!v || trim(*v).empty()) return;
    std::uint64_t parsed = 0;
    if (!parse_uint(*v, lo, hi, parsed))
      errors.push_back({name, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + *v + "'"});
    else
      out = std::chrono::seconds(static_cast<std::int64_t>(parsed));
  };
  secs("QUIRE_WEBHOOK_RETRY_PERIOD_SECONDS", 0, 30 * 86400, c.webhook_retry_period);
  secs("QUIRE_WEBHOOK_RETRY_BACKOFF_SECONDS", 1, 3600, c.webhook_retry_backoff);
  secs("QUIRE_WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", 1, 86400, c.webhook_retry_backoff_max);
  if (c.webhook_retry_backoff_max < c.webhook_retry_backoff)
    errors.push_back({"QUIRE_WEBHOOK_RETRY_BACKOFF_MAX_SECONDS", "must be at least QUIRE_WEBHOOK_RETRY_BACKOFF_SECONDS"});
  secs("QUIRE_WEBHOOK_TIMEOUT_SECONDS", 1, 300, c.webhook_timeout);
}
}  // namespace

service_config load_config(const env_lookup& env, std::vector<config_error>& errors) {
  service_config c;
  c.log = load_log_settings(env, errors);
  auto str = [&](const char* name, std::string& out) {
    if (auto v = env(name)) out = trim(*v);
  };
  auto num = [&](const char* name, std::uint64_t lo, std::uint64_t hi, auto& out) {
    auto v = env(name);
    if (!v || trim(*v).empty()) return;
    std::uint64_t parsed = 0;
    if (!parse_uint(*v, lo, hi, parsed)) {
      errors.push_back({name, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  "], got '" + *v + "'"});
      return;
    }
    using T = std::decay_t<decltype(out)>;
    if constexpr (std::is_integral_v<T>)
      out = static_cast<T>(parsed);
    else
      out = T(static_cast<typename T::rep>(parsed));
  };

  str("QUIRE_PROFILE", c.profile);
  if (c.profile != "prod" && c.profile != "eval")
    errors.push_back({"QUIRE_PROFILE", "expected 'prod' or 'eval', got '" + c.profile + "'"});
  str("QUIRE_DATA_ROOT", c.data_root);
  str("QUIRE_PROD_DATA_ROOT", c.prod_data_root);
  str("QUIRE_EVAL_DATA_ROOT", c.eval_data_root);
  if (auto url = secret_setting(env, "QUIRE_DATABASE_URL", errors)) c.database_url = trim(*url);
  str("QUIRE_EXPECTED_REVISION", c.expected_revision);
  if (auto v = env("QUIRE_LISTEN"); v && !trim(*v).empty()) {
    if (auto a = parse_listen(*v)) {
      c.listen_host = a->host;
      c.listen_port = a->port;
    } else {
      errors.push_back({"QUIRE_LISTEN", "expected host:port, got '" + *v + "'"});
    }
  }
  if (auto v = env("QUIRE_API_KEYS")) add_keys(*v, ',', c.api_keys);
  if (auto v = env("QUIRE_API_KEYS_FILE"); v && !trim(*v).empty()) {
    std::ifstream f(trim(*v));
    if (!f) {
      errors.push_back({"QUIRE_API_KEYS_FILE", "cannot read '" + *v + "'"});
    } else {
      std::stringstream ss;
      ss << f.rdbuf();
      add_keys(ss.str(), '\n', c.api_keys);
    }
  }
  num("QUIRE_MAX_UPLOAD_BYTES", 1, std::uint64_t{1} << 40, c.max_upload_bytes);
  num("QUIRE_MAX_BUNDLE_BYTES", 1, std::uint64_t{1} << 40, c.max_bundle_bytes);
  num("QUIRE_CPU_CONVERTERS", 0, 256, c.cpu_converters);
  c.cpu_converters_set = env("QUIRE_CPU_CONVERTERS").has_value() && !trim(*env("QUIRE_CPU_CONVERTERS")).empty();
  if (auto v = env("QUIRE_GPUS"); v && !trim(*v).empty()) {
    c.gpus = trim(*v);
    bool ok = c.gpus == "all" || c.gpus == "none";
    if (!ok) {
      std::stringstream ss(c.gpus);
      std::string item;
      std::uint64_t d = 0;
      ok = true;
      while (std::getline(ss, item, ',')) ok = ok && parse_uint(item, 0, 1023, d);
    }
    if (!ok) errors.push_back({"QUIRE_GPUS", "expected 'all', 'none' or device indices like '0,1', got '" + *v + "'"});
  }
  std::string policy;
  str("QUIRE_ACCELERATION_POLICY", policy);
  if (!policy.empty()) {
    if (auto p = convert::parse_acceleration_policy(policy)) c.acceleration_policy = *p;
    else errors.push_back({"QUIRE_ACCELERATION_POLICY", "expected gpu_required, gpu_prefer or cpu_only, got '" + policy + "'"});
  }
  num("QUIRE_HTTP_THREADS", 1, 256, c.http_threads);
  num("QUIRE_MAX_CONCURRENT_UPLOADS", 1, 100000, c.max_concurrent_uploads);
  num("QUIRE_MAX_CONNECTIONS", 2, 1000000, c.max_connections);
  num("QUIRE_MAX_CONNECTIONS_PER_PEER", 1, 1000000, c.max_connections_per_peer);
  if (auto v = env("QUIRE_PROBE_LISTEN"); v && !trim(*v).empty()) {
    if (trim(*v) != "off") {
      if (auto a = parse_listen(*v)) {
        c.probe_host = a->host;
        c.probe_port = a->port;
      } else {
        errors.push_back({"QUIRE_PROBE_LISTEN", "expected host:port or 'off', got '" + *v + "'"});
      }
    }
  } else if (c.listen_port < 65535) {
    c.probe_port = static_cast<std::uint16_t>(c.listen_port + 1);
  } else {
    errors.push_back({"QUIRE_PROBE_LISTEN", "QUIRE_LISTEN's port is 65535, so there is no default; set host:port or 'off'"});
  }
  if (auto v = env("QUIRE_DATA_SYNC"); v && !trim(*v).empty()) {
    const auto mode = trim(*v);
    if (mode == "grouped" || mode == "per_file") c.grouped_sync = mode == "grouped";
    else errors.push_back({"QUIRE_DATA_SYNC", "expected 'grouped' or 'per_file', got '" + *v + "'"});
  }
  num("QUIRE_MAX_QUEUE_DEPTH", 1, 100000000, c.max_queue_depth);
  num("QUIRE_MAX_ATTEMPTS", 1, 100, c.max_attempts);
  num("QUIRE_MAX_PAGES", 1, 1000000, c.max_pages);
  num("QUIRE_PAGE_TIMEOUT_SECONDS", 0, 86400, c.page_timeout);
  num("QUIRE_PAGE_CONTENT_BYTES", 0, std::uint64_t{1} << 44, c.page_content_bytes);
  num("QUIRE_DOCUMENT_CONTENT_BYTES", 0, std::uint64_t{1} << 48, c.document_content_bytes);
  num("QUIRE_PAGE_OPERATORS", 0, std::uint64_t{1} << 40, c.page_operators);
  num("QUIRE_MAX_JOBS_PER_KEY", 0, 100000000, c.max_jobs_per_key);
  num("QUIRE_WORKER_MEMORY_BYTES", 64ull << 20, std::uint64_t{1} << 44, c.worker_memory_bytes);
  num("QUIRE_WORKER_NICE", 0, 19, c.worker_nice);
  num("QUIRE_DOCUMENT_TIMEOUT_SECONDS", 1, 86400, c.document_timeout);
  num("QUIRE_REQUEST_TIMEOUT_SECONDS", 1, 3600, c.request_timeout);
  num("QUIRE_IDLE_TIMEOUT_SECONDS", 1, 3600, c.idle_timeout);
  num("QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS", 1, 3600, c.docling_max_sync_wait);
  if (auto v = env("QUIRE_DOCLING_PREFIX"); v && !trim(*v).empty()) {
    auto p = trim(*v);
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    // Literal path segments only: the prefix is compared with request paths as it is.
    const bool ok = p.front() == '/' && p.find("//") == std::string::npos &&
                    p.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") ==
                        std::string::npos;
    if (!ok) errors.push_back({"QUIRE_DOCLING_PREFIX", "expected a path like /docling (letters, digits, - . _ ~ and /), got '" + *v + "'"});
    else c.docling_prefix = p == "/" ? "" : p;
  }
  num("QUIRE_LEASE_SECONDS", 2, 3600, c.lease);
  num("QUIRE_HEARTBEAT_SECONDS", 1, 3600, c.heartbeat);
  num("QUIRE_READINESS_INTERVAL_SECONDS", 1, 3600, c.readiness_interval);
  num("QUIRE_POLL_INTERVAL_SECONDS", 1, 3600, c.poll_interval);
  num("QUIRE_SHUTDOWN_GRACE_SECONDS", 0, 3600, c.shutdown_grace);
  num("QUIRE_RETRY_BACKOFF_SECONDS", 0, 3600, c.retry_backoff);
  num("QUIRE_SWEEP_INTERVAL_SECONDS", 1, 86400, c.sweep_interval);
  num("QUIRE_INPUT_RETENTION_HOURS", 0, 100000, c.input_retention);
  num("QUIRE_RESULT_RETENTION_HOURS", 0, 100000, c.result_retention);
  num("QUIRE_TOMBSTONE_RETENTION_HOURS", 0, 100000, c.tombstone_retention);
  load_webhook_settings(env, c, errors);
  str("QUIRE_WORKER_BINARY", c.worker_binary);
  str("QUIRE_SOURCE_ARCHIVE", c.source_archive);
  str("QUIRE_SOURCE_URL", c.source_url);
  if (!c.cpu_converters_set && c.default_acceleration() == convert::acceleration_policy::gpu_required) c.cpu_converters = 0;
  // The fault-injection hook exists only where the test hooks are switched on explicitly.
  if (auto hooks = env("QUIRE_WORKER_TEST_HOOKS"); hooks && trim(*hooks) == "1")
    num("QUIRE_TEST_FAIL_DEVICE", 0, 1023, c.test_fail_device_converter);
  if (c.heartbeat >= c.lease)
    errors.push_back({"QUIRE_HEARTBEAT_SECONDS", "must be shorter than QUIRE_LEASE_SECONDS"});
  return c;
}

}  // namespace quire::actors
