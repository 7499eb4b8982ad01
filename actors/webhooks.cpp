// Starts the webhook delivery loop for `quire serve`; see detail/webhooks.hpp.
#include "actors/detail/webhooks.hpp"

#include <stdexcept>

#include "actors/metrics.hpp"
#include "api/job_document.hpp"

namespace quire::actors {

std::unique_ptr<notify::delivery_loop> start_webhook_delivery(const service_config& cfg,
                                                              const storage::store_options& store) {
  if (cfg.webhook_secret.empty()) return nullptr;
  notify::delivery_settings s;
  s.store = store;
  s.destinations = cfg.webhook_destinations;
  s.secret = cfg.webhook_secret;
  s.key_secrets = cfg.webhook_key_secrets;
  s.retry_period = cfg.webhook_retry_period;
  s.backoff = cfg.webhook_retry_backoff;
  s.backoff_max = cfg.webhook_retry_backoff_max;
  s.timeout = cfg.webhook_timeout;
  s.poll = cfg.poll_interval;
  s.keep_finished = cfg.tombstone_retention;
  notify::delivery_observer obs;
  obs.attempted = [](std::string_view outcome, double seconds) {
    auto& m = service_metrics();
    m.add("quire_webhook_attempts_total", {{"outcome", std::string(outcome)}});
    m.observe("quire_webhook_attempt_duration_seconds", {}, seconds);
  };
  obs.backlog = [](std::int64_t pending, double oldest) {
    auto& m = service_metrics();
    m.set("quire_webhooks_pending", {}, static_cast<double>(pending));
    m.set("quire_webhook_oldest_pending_age_seconds", {}, oldest);
  };
  auto loop = notify::delivery_loop::start(
      std::move(s), [](const storage::job_record& j) { return api::job_document(j); }, std::move(obs));
  if (!loop) throw std::runtime_error("webhooks: " + loop.err().message);
  return std::move(*loop);
}

}  // namespace quire::actors
