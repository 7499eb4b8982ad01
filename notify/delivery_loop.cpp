// The webhook delivery loop; see delivery_loop.hpp.
#include "notify/delivery_loop.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "log/log.hpp"
#include "notify/sender.hpp"
#include "notify/signature.hpp"

namespace quire::notify {
namespace {

double jitter() {
  thread_local std::mt19937 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.8, 1.2)(gen);
}

}  // namespace

std::string event_body(const storage::webhook_delivery& d, const nlohmann::json& job_document) {
  return nlohmann::json{{"type", d.event}, {"timestamp", log::iso_time(d.created_at)}, {"data", job_document}}.dump();
}

std::chrono::milliseconds retry_delay(const delivery_settings& s, int attempt) {
  const double base = static_cast<double>(s.backoff.count());
  const double d = base * std::pow(2.0, std::max(0, attempt - 1));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(d, static_cast<double>(s.backoff_max.count()))));
}

quire::expected<std::unique_ptr<delivery_loop>> delivery_loop::start(delivery_settings s, renderer render,
                                                                     delivery_observer obs) {
  auto key = decode_secret(s.secret);
  if (!key)
    return quire::error{errc::invalid_settings, "the webhook secret must be whsec_ followed by the base64 of 24 to 64 bytes"};
  std::map<std::string, std::string> keys;
  for (const auto& [id, secret] : s.key_secrets) {
    auto k = decode_secret(secret);
    if (!k)
      return quire::error{errc::invalid_settings,
                          "the webhook secret of API key " + id + " is not whsec_<base64 of 24 to 64 bytes>"};
    keys[id] = std::move(*k);
  }
  global_init();
  std::unique_ptr<delivery_loop> loop(
      new delivery_loop(std::move(s), std::move(*key), std::move(keys), std::move(render), std::move(obs)));
  loop->thread_ = std::thread([p = loop.get()] { p->run(); });
  return loop;
}

delivery_loop::delivery_loop(delivery_settings s, std::string key, std::map<std::string, std::string> key_by_api_key,
                             renderer render, delivery_observer obs)
    : s_(std::move(s)),
      key_(std::move(key)),
      key_by_api_key_(std::move(key_by_api_key)),
      render_(std::move(render)),
      obs_(std::move(obs)) {}

delivery_loop::~delivery_loop() { stop(); }

void delivery_loop::stop() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void delivery_loop::wake() {
  {
    std::lock_guard l(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void delivery_loop::run() {
  std::unique_ptr<storage::job_store> store;
  auto last_prune = std::chrono::steady_clock::time_point{};
  for (;;) {
    {
      std::lock_guard l(mu_);
      if (stop_) return;
    }
    bool busy = false;
    if (!store) {
      auto opened = storage::job_store::open(s_.store);
      if (opened) store = std::move(*opened);
      else log::warn("webhook.store_unavailable", {{"error", opened.err().message}});
    }
    if (store) {
      // Drain what is due, one at a time, checking for stop between deliveries.
      for (int i = 0; i < 100; ++i) {
        {
          std::lock_guard l(mu_);
          if (stop_) return;
        }
        if (!deliver_one(*store)) break;
        busy = true;
      }
      if (auto b = store->webhook_backlog(); b && obs_.backlog) obs_.backlog(b->first, b->second);
      if (std::chrono::steady_clock::now() - last_prune > std::chrono::minutes(10)) {
        last_prune = std::chrono::steady_clock::now();
        if (auto n = store->prune_webhooks(s_.keep_finished); n && *n > 0)
          log::info("webhook.pruned", {{"rows", *n}});
      }
    }
    std::unique_lock l(mu_);
    if (!busy) cv_.wait_for(l, s_.poll, [this] { return stop_ || woken_; });
    woken_ = false;
  }
}

const std::string& delivery_loop::signing_key(const std::string& api_key_id) const {
  auto it = key_by_api_key_.find(api_key_id);
  return it != key_by_api_key_.end() ? it->second : key_;
}

bool delivery_loop::deliver_one(storage::job_store& store) {
  // The hold outlasts the attempt (bounded by the timeout) and the report of its outcome.
  auto claimed = store.claim_webhooks(1, s_.timeout + std::chrono::seconds(30));
  if (!claimed) {
    log::warn("webhook.claim_failed", {{"error", claimed.err().message}});
    return false;
  }
  if (claimed->empty()) return false;
  const auto& d = claimed->front();
  const auto started = std::chrono::steady_clock::now();
  post_outcome out;
  auto to = resolve_destination(s_.destinations, d.url);
  if (to) {
    post_request req;
    req.url = d.url;
    req.to = std::move(*to);
    req.body = event_body(d, render_(d.job));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    req.headers = {{"webhook-id", d.id},
                   {"webhook-timestamp", std::to_string(now)},
                   {"webhook-signature", sign(signing_key(d.api_key_id), d.id, now, req.body)}};
    req.timeout = s_.timeout;
    req.max_response_bytes = s_.max_response_bytes;
    out = post(req);
    if (!out.delivered() && out.error.empty()) out.error = "HTTP " + std::to_string(out.http_status);
  } else {
    out.error = "destination refused: " + to.err().message;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log::fields f{{"webhook_id", d.id}, {"job_id", d.job.id}, {"event", d.event}, {"attempt", d.attempt},
                {"http_status", out.http_status}, {"seconds", seconds}};
  if (out.delivered()) {
    auto r = store.webhook_delivered(d, out.http_status);
    if (!r) f["store_error"] = r.err().message;
    log::info("webhook.delivered", f);
    if (obs_.attempted) obs_.attempted("delivered", seconds);
    return true;
  }
  const auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(retry_delay(s_, d.attempt).count()) * jitter()));
  auto r = store.webhook_failed(d, out.http_status, out.error, delay, s_.retry_period);
  f["error"] = out.error;
  const bool gave_up = r && *r == storage::webhook_state::failed;
  if (gave_up) log::warn("webhook.gave_up", f);
  else {
    f["retry_in_seconds"] = static_cast<double>(delay.count()) / 1000.0;
    log::info("webhook.retry", f);
  }
  if (obs_.attempted) obs_.attempted(gave_up ? "gave_up" : "retry", seconds);
  return true;
}

}  // namespace quire::notify
