// Prometheus text exposition for metrics_registry; see metrics.hpp.
#include "actors/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace quire::actors {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string labels_text(const label_set& labels, const std::string& extra_k = {}, const std::string& extra_v = {}) {
  if (labels.empty() && extra_k.empty()) return {};
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s += ",";
    s += k + "=\"" + escape(v) + "\"";
    first = false;
  }
  if (!extra_k.empty()) {
    if (!first) s += ",";
    s += extra_k + "=\"" + extra_v + "\"";
  }
  return s + "}";
}

}  // namespace

void metrics_registry::declare(const std::string& name, kind k, const std::string& help, std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.k = k;
  f.help = help;
  f.buckets = std::move(buckets);
}

metrics_registry::family* metrics_registry::find(const std::string& name, kind k) {
  auto it = families_.find(name);
  if (it == families_.end() || it->second.k != k) return nullptr;  // undeclared: a bug, but never crash
  return &it->second;
}

void metrics_registry::add(const std::string& name, const label_set& labels, double v) {
  std::lock_guard lock(mu_);
  if (auto* f = find(name, kind::counter)) f->samples[labels].value += v;
}

void metrics_registry::set(const std::string& name, const label_set& labels, double v) {
  std::lock_guard lock(mu_);
  if (auto* f = find(name, kind::gauge)) f->samples[labels].value = v;
}

void metrics_registry::clear(const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto it = families_.find(name); it != families_.end()) it->second.samples.clear();
}

void metrics_registry::observe(const std::string& name, const label_set& labels, double v) {
  std::lock_guard lock(mu_);
  auto* f = find(name, kind::histogram);
  if (!f) return;
  auto& s = f->samples[labels];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(f->buckets.size(), 0);
  for (std::size_t i = 0; i < f->buckets.size(); ++i)
    if (v <= f->buckets[i]) { s.bucket_counts[i] += 1; break; }
  s.sum += v;
  s.count += 1;
}

double metrics_registry::value(const std::string& name, const label_set& labels) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.samples.find(labels);
  return s == it->second.samples.end() ? 0 : s->second.value;
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.k == kind::counter ? "counter" : f.k == kind::gauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, s] : f.samples) {
      if (f.k != kind::histogram) {
        out += name + labels_text(labels) + " " + number(s.value) + "\n";
        continue;
      }
      double cumulative = 0;
      for (std::size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += s.bucket_counts[i];
        out += name + "_bucket" + labels_text(labels, "le", number(f.buckets[i])) + " " + number(cumulative) + "\n";
      }
      out += name + "_bucket" + labels_text(labels, "le", "+Inf") + " " + number(s.count) + "\n";
      out += name + "_sum" + labels_text(labels) + " " + number(s.sum) + "\n";
      out += name + "_count" + labels_text(labels) + " " + number(s.count) + "\n";
    }
  }
  return out;
}

metrics_registry& service_metrics() {
  static metrics_registry* r = [] {
    auto* m = new metrics_registry;  // never destroyed: actors may record during static teardown
    using k = metrics_registry::kind;
    // Finer from 5 to 25 ms: the submit latency objective (p99 < 25 ms) is judged there.
    const std::vector<double> latency{0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025,
                                      0.05,  0.1,    0.25,  0.5,    1,    2.5,   5,    10};
    m->declare("quire_http_requests_total", k::counter, "HTTP requests by route template, method and status.");
    m->declare("quire_http_request_duration_seconds", k::histogram,
               "HTTP request latency by route template, from when the request was read to its answer.", latency);
    m->declare("quire_jobs", k::gauge, "Jobs in the store by state.");
    m->declare("quire_queue_depth", k::gauge, "Jobs queued and not yet claimed.");
    m->declare("quire_queue_oldest_age_seconds", k::gauge,
               "Age of the oldest queued job (0 when none): how long work waits for a converter.");
    m->declare("quire_leases_expired", k::gauge,
               "Running jobs whose lease has run out and that no replica has rescued yet.");
    m->declare("quire_jobs_submitted_total", k::counter, "Jobs accepted by this process.");
    m->declare("quire_conversions_total", k::counter, "Conversions finished by this process, by outcome.");
    m->declare("quire_pages_converted_total", k::counter, "Pages converted by this process.");
    m->declare("quire_conversion_duration_seconds", k::histogram, "Wall time of one conversion attempt.",
               {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600});
    m->declare("quire_worker_crashes_total", k::counter, "Worker processes that died, by cause.");
    m->declare("quire_lease_rescues_total", k::counter, "Expired leases handed back to the queue.");
    m->declare("quire_converters_live", k::gauge, "Converters with a running worker process.");
    m->declare("quire_worker_sandbox", k::gauge, "Confinement of the last worker started, per layer (seccomp, landlock, no_new_privs): 1 in force, 0 missing.");
    m->declare("quire_ready", k::gauge, "1 when the lane is ready, else 0.");
    m->declare("quire_readiness_failing", k::gauge, "1 per failing readiness reason.");
    m->declare("quire_submit_batch_size", k::histogram, "Submits committed together in one transaction.",
               {1, 2, 4, 8, 16, 32, 64, 128});
    m->declare("quire_data_sync_seconds", k::histogram,
               "Wait for the grouped data-root sync that makes uploads (for=submit, per batch) or a "
               "conversion's result files (for=result) durable.",
               {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
    m->declare("quire_webhook_attempts_total", k::counter,
               "Webhook delivery attempts by this process, by outcome: delivered, retry or gave_up.");
    m->declare("quire_webhook_attempt_duration_seconds", k::histogram,
               "Wall time of one webhook delivery attempt (resolve, connect, send, answer).",
               {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
    m->declare("quire_webhooks_pending", k::gauge, "Webhook deliveries of this lane not yet delivered or given up.");
    m->declare("quire_webhook_oldest_pending_age_seconds", k::gauge,
               "Age of the oldest pending webhook delivery's event (0 when none).");
    m->declare("quire_log_lines_dropped_total", k::counter,
               "Log lines dropped because stderr did not keep up (the log queue was full).");
    return m;
  }();
  return *r;
}

}  // namespace quire::actors
