// quire::notify — the webhook delivery loop: one thread per service process that drains the
// outbox (storage::job_store::claim_webhooks) and POSTs each event, signed per Standard Webhooks.
//
//   body:     {"type": "job.succeeded", "timestamp": "<event time>", "data": <the job document>}
//   headers:  webhook-id (msg_<job>_<status>, the same on every attempt), webhook-timestamp
//             (this attempt, Unix seconds), webhook-signature (v1,<base64 HMAC-SHA256>)
// A 2xx answer delivers; anything else (refused destination, no answer, timeout, other status,
// oversized answer) is retried after backoff·2^(attempt-1) (capped at an hour, ±20 % jitter)
// until the event is older than the retry period, then given up (state failed). At least once:
// a replica that dies mid-attempt leaves the row to be claimed again once its hold runs out.
// Knows storage, not actors or HTTP: the job document comes from the `render` callback.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "notify/destination.hpp"
#include "storage/job_store.hpp"

namespace quire::notify {

struct delivery_settings {
  storage::store_options store;             // this lane's database and profile
  destination_policy destinations;
  std::string secret;                       // whsec_<base64>; the loop does not start without one
  std::map<std::string, std::string> key_secrets;  // api key id → whsec_<base64>, overrides `secret`
  std::chrono::seconds retry_period{24 * 3600};
  std::chrono::milliseconds backoff{std::chrono::seconds(5)};
  std::chrono::milliseconds backoff_max{std::chrono::hours(1)};
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::size_t max_response_bytes = 64 * 1024;
  std::chrono::milliseconds poll{std::chrono::seconds(1)};  // how often the outbox is read when idle
  std::chrono::seconds keep_finished{30 * 24 * 3600};       // delivered/given-up rows kept this long
};

struct delivery_observer {
  // outcome: "delivered", "retry" or "gave_up"; seconds: the attempt's duration.
  std::function<void(std::string_view outcome, double seconds)> attempted;
  std::function<void(std::int64_t pending, double oldest_seconds)> backlog;
};

// The request body of one event (exposed for tests).
std::string event_body(const storage::webhook_delivery& d, const nlohmann::json& job_document);

// Delay before the next attempt after `attempt` failed (no jitter).
std::chrono::milliseconds retry_delay(const delivery_settings& s, int attempt);

class delivery_loop {
 public:
  using renderer = std::function<nlohmann::json(const storage::job_record&)>;
  // Starts the thread; errc::invalid_settings when the settings cannot work (bad secret).
  static quire::expected<std::unique_ptr<delivery_loop>> start(delivery_settings s, renderer render,
                                                               delivery_observer obs);
  ~delivery_loop();  // stops and joins (an attempt in flight finishes, bounded by the timeout)
  void stop();
  void wake();       // look at the outbox now (e.g. a job just finished)

 private:
  delivery_loop(delivery_settings s, std::string key, std::map<std::string, std::string> key_by_api_key,
                renderer render, delivery_observer obs);
  void run();
  bool deliver_one(storage::job_store& store);  // false: nothing was due
  const std::string& signing_key(const std::string& api_key_id) const;

  delivery_settings s_;
  std::string key_;                               // the lane's decoded secret
  std::map<std::string, std::string> key_by_api_key_;  // decoded per-key secrets
  renderer render_;
  delivery_observer obs_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::thread thread_;
};

}  // namespace quire::notify
