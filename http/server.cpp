// RESTinio adapter for api; see server.hpp. The only translation unit that includes RESTinio/asio.
#include "http/server.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <restinio/all.hpp>
#include <thread>

#include <pthread.h>

#include "actors/metrics.hpp"
#include "http/peer_limits.hpp"
#include "http/routes.hpp"

namespace quire::http {
namespace {

// A fixed set of threads running posted tasks in order, with a bounded backlog: under a flood of
// slow requests (long polls, a stalled database) the queue would otherwise grow without limit,
// every entry holding a request and its body. Drains the queue before joining.
class handler_pool {
 public:
  using clock = std::chrono::steady_clock;
  // A task learns how long it waited, so a request that queued too long can be refused unrun.
  using task = std::function<void(clock::duration waited)>;

  handler_pool(int threads, std::size_t max_backlog) : max_backlog_(max_backlog) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~handler_pool() { shutdown(); }
  // false (and nothing queued) when the backlog is full or the pool is shutting down.
  bool try_post(task t) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || tasks_.size() >= max_backlog_) return false;
      tasks_.push_back({std::move(t), clock::now()});
      publish();
    }
    cv_.notify_one();
    return true;
  }
  std::size_t max_backlog() const { return max_backlog_; }
  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  struct entry {
    task run;
    clock::time_point queued_at;
  };
  void publish() {  // under mu_
    actors::service_metrics().set("quire_http_handler_backlog", {}, static_cast<double>(tasks_.size()));
  }
  void run() {
    ::pthread_setname_np(::pthread_self(), "quire-http");  // top -H, perf: which thread is busy
    for (;;) {
      entry e;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        e = std::move(tasks_.front());
        tasks_.pop_front();
        publish();
      }
      e.run(clock::now() - e.queued_at);
    }
  }
  const std::size_t max_backlog_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<entry> tasks_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// Requests handed to the api whose answer has not been sent yet.
class pending_answers {
 public:
  void begin() {
    std::lock_guard l(mu_);
    ++n_;
  }
  void end() {
    std::lock_guard l(mu_);
    if (--n_ == 0) idle_.notify_all();
  }
  void wait_idle() {
    std::unique_lock l(mu_);
    idle_.wait(l, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  long n_ = 0;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

// Everything but the body: cheap enough for the I/O thread (the body is copied on a handler thread).
request request_head(const restinio::request_handle_t& req) {
  request r;
  r.received_at = std::chrono::steady_clock::now();
  r.method = req->header().method().c_str();
  r.path = std::string(req->header().path());
  r.peer = req->remote_endpoint().address().to_string();
  auto q = restinio::try_parse_query<restinio::parse_query_traits::javascript_compatible>(req->header().query());
  if (q) {
    for (const auto& [k, v] : *q)
      if (!r.query.emplace(std::string(k), std::string(v)).second) r.repeated_query.emplace_back(k);
    if (auto tag = q->tag()) r.query.emplace(std::string(*tag), std::string());  // "?verbose": a flag
  } else {
    r.query_malformed = true;
  }
  req->header().for_each_field([&](const auto& f) {
    std::string name(f.name());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    // Transfer-Encoding is a list that may be split over several fields; the api checks all of it.
    auto [it, fresh] = r.headers.emplace(name, std::string(f.value()));
    if (!fresh) it->second = name == "transfer-encoding" ? it->second + ", " + std::string(f.value()) : std::string(f.value());
  });
  return r;
}

void send(const restinio::request_handle_t& req, response resp) {
  auto out = req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(resp.status)}, reason_phrase(resp.status)});
  for (auto& [k, v] : resp.headers) out.append_header(k, v);
  out.set_body(std::move(resp.body));
  out.done();
}

constexpr std::size_t kMaxUrlBytes = 8 * 1024;
constexpr std::size_t kMaxFieldNameBytes = 256;
constexpr std::size_t kMaxFieldValueBytes = 8 * 1024;
constexpr std::size_t kMaxFieldCount = 100;

// Requests that may wait for a handler thread: a few rounds of the handler threads. Beyond it a
// request is refused at once (503 overloaded) instead of queueing behind work it cannot overtake.
std::size_t backlog_limit(const actors::service_config& cfg) { return static_cast<std::size_t>(cfg.http_threads) * 4; }

// The connection caps (QUIRE_MAX_CONNECTIONS, QUIRE_MAX_CONNECTIONS_PER_PEER) as RESTinio's IP
// blocker (asked on accept, on the acceptor's thread; a denied connection is closed unanswered) and
// connection state listener (accepted/closed notices, on the I/O threads). Without the per-peer cap
// one client could hold every slot with idle connections until QUIRE_IDLE_TIMEOUT_SECONDS, and
// RESTinio 0.6 cannot close them sooner. RESTinio's own connection-count limiter is not used: it
// loses a slot for every connection the IP blocker denies (0.6.16), so see peer_limits.hpp.
class peer_gate {
 public:
  peer_gate(std::size_t max_total, std::size_t max_per_peer) : limits_(max_total, max_per_peer) {}
  restinio::ip_blocker::inspection_result_t inspect(const restinio::ip_blocker::incoming_info_t& info) noexcept {
    const auto v = limits_.admit(key(info.remote_endpoint()));
    if (v == peer_limits::verdict::admit) return restinio::ip_blocker::allow();
    actors::service_metrics().add("quire_http_connections_refused_total",
                                  {{"reason", v == peer_limits::verdict::over_peer ? "per_peer" : "max_connections"}});
    return restinio::ip_blocker::deny();
  }
  void state_changed(const restinio::connection_state::notice_t& notice) noexcept {
    const auto cause = notice.cause();
    if (restinio::holds_alternative<restinio::connection_state::accepted_t>(cause))
      limits_.opened(notice.connection_id(), key(notice.remote_endpoint()));
    else if (restinio::holds_alternative<restinio::connection_state::closed_t>(cause))
      limits_.closed(notice.connection_id());
  }
  // Gauges read when /metrics is asked for, not on every accept (the submit path stays as cheap).
  void publish() const {
    actors::service_metrics().set("quire_http_connections", {}, static_cast<double>(limits_.open()));
  }

 private:
  static peer_limits::peer key(const restinio::endpoint_t& ep) {
    const auto a = ep.address();
    return a.is_v4() ? peer_limits::ipv4(a.to_v4().to_uint()) : peer_limits::ipv6(a.to_v6().to_bytes());
  }
  peer_limits limits_;
};

// RESTinio's defaults plus the connection caps: without them every connection is accepted, and
// each may hold a request body of up to the socket limit in memory.
struct server_traits : restinio::default_traits_t {
  using ip_blocker_t = peer_gate;
  using connection_state_listener_t = peer_gate;
};

// The probe listener (QUIRE_PROBE_LISTEN): one I/O thread, a few connections, short timeouts, only
// the never-blocking routes. Its own accept queue and connection slots, so a flood of connections
// on QUIRE_LISTEN cannot fail `quire healthcheck`.
struct probe_traits : restinio::default_single_thread_traits_t {
  static constexpr bool use_connection_count_limiter = true;
};
constexpr std::size_t kProbeMaxConnections = 64;
constexpr std::chrono::seconds kProbeTimeout{5};

// What the probe listener answers to any other path.
std::string probe_routes_only() {
  std::vector<std::string_view> paths;
  for (const auto& r : routes())
    if (r.lane == lane::probe) paths.push_back(r.path);
  std::string text = "the probe listener serves only ";
  for (std::size_t i = 0; i < paths.size(); ++i)
    text.append(i == 0 ? "" : i + 1 == paths.size() ? " and " : ", ").append(paths[i]);
  return text;
}

class restinio_server final : public server {
 public:
  restinio_server(api& handler, const actors::service_config& cfg)
      : pool_(cfg.http_threads, backlog_limit(cfg)),
        gate_(std::make_shared<peer_gate>(static_cast<std::size_t>(cfg.max_connections),
                                          static_cast<std::size_t>(cfg.max_connections_per_peer))) {
    auto& m = actors::service_metrics();
    m.declare("quire_http_connections", actors::metrics_registry::kind::gauge,
              "Open connections on QUIRE_LISTEN (the probe listener's not included).");
    m.declare("quire_http_connections_refused_total", actors::metrics_registry::kind::counter,
              "Connections closed at accept, unanswered, by reason (max_connections, per_peer).");
    if (cfg.probe_port != 0) start_probe_listener(handler, cfg);
    const auto max_wait = std::chrono::duration_cast<handler_pool::clock::duration>(cfg.request_timeout);
    auto settings =
        restinio::server_settings_t<server_traits>{}
            .address(cfg.listen_host)
            .port(cfg.listen_port)
            .max_pipelined_requests(4)
            .ip_blocker(gate_)
            .connection_state_listener(gate_)
            // Bounds the WHOLE read of one request (headers and body), not the gap between bytes:
            // a client dribbling its headers or body is cut off after this, however slowly it sends.
            .read_next_http_message_timelimit(cfg.idle_timeout)
            .write_http_response_timelimit(cfg.request_timeout)
            // long polls (wait_seconds <= 20) and slow disks stay within this
            // and a synchronous docling convert waits up to QUIRE_DOCLING_MAX_SYNC_WAIT_SECONDS
            .handle_request_timeout(std::max(cfg.request_timeout + std::chrono::seconds(25),
                                             cfg.docling_max_sync_wait + cfg.request_timeout))
            // RESTinio's defaults leave the URL and headers unbounded (only http_parser's 80 KiB
            // total applies); these are far above what any client of this API sends. A body over
            // max_body_size is refused by RESTinio while parsing (connection closed, no response):
            // at once after the headers when Content-Length says so, so none of it is read. Up to
            // it, an oversized upload is buffered and answered 413 by the api.
            .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                          .max_url_size(kMaxUrlBytes)
                                          .max_field_name_size(kMaxFieldNameBytes)
                                          .max_field_value_size(kMaxFieldValueBytes)
                                          .max_field_count(kMaxFieldCount)
                                          .max_body_size(cfg.max_upload_bytes * 2 + (1u << 20)))
            .request_handler([this, &handler, max_wait](restinio::request_handle_t req) {
              // RESTinio's I/O threads are its own: name them on their first request (top -H, perf).
              thread_local const bool named = ::pthread_setname_np(::pthread_self(), "quire-io") == 0;
              (void)named;
              auto head = std::make_shared<request>(request_head(req));
              // The probes never block and the web page's files are in memory (routes.hpp's
              // lanes): answered here, so a full handler pool cannot fail a healthcheck.
              const auto& path = head->path;
              if (lane_of(path) != lane::handler) {
                if (path == "/metrics") gate_->publish();
                send(req, handler.handle(*head));
                return restinio::request_accepted();
              }
              if (auto refusal = handler.admit(*head)) {
                send(req, std::move(*refusal));
                return restinio::request_accepted();
              }
              const bool queued = pool_.try_post([this, req, head, &handler, max_wait](handler_pool::clock::duration waited) {
                // RESTinio gives up on the connection later (handle_request_timeout): answer
                // before that, and never start work (e.g. create a job) the client stopped awaiting.
                if (waited >= max_wait) {
                  handler.release(*head);
                  send(req, handler.refuse(*head, "overloaded", "the request waited too long for a handler; retry later",
                                           {{"limit", "request_timeout"}}));
                  return;
                }
                head->body = req->body();
                // A submit may be answered later, from the batcher's thread (api::handle_async):
                // this thread is free for the next request meanwhile. stop() waits for those.
                // Exactly one answer per request, and stop() must never wait for one that will not
                // come: the first of the api's answer and an exception here counts.
                answers_.begin();
                auto answered = std::make_shared<std::atomic<bool>>(false);
                try {
                  handler.handle_async(*head, [this, req, answered](response r) {
                    if (answered->exchange(true)) return;
                    send(req, std::move(r));
                    answers_.end();
                  });
                } catch (const std::exception& e) {
                  if (answered->exchange(true)) throw;
                  answers_.end();
                  send(req, handler.refuse(*head, "internal_error", std::string("unexpected: ") + e.what()));
                }
              });
              if (!queued) {
                handler.release(*head);
                send(req, handler.refuse(*head, "overloaded", "too many requests waiting for a handler; retry later",
                                         {{"limit", "handler_backlog"}, {"max_backlog", pool_.max_backlog()}}));
              }
              return restinio::request_accepted();
            });
    try {
      server_ = restinio::run_async(restinio::own_io_context(), std::move(settings), 2);
    } catch (const std::exception& e) {
      stop_probe_listener();
      throw std::runtime_error("cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) +
                               " (QUIRE_LISTEN): " + e.what());
    }
  }
  ~restinio_server() override { stop(); }
  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    pool_.shutdown();  // answer what was accepted while the connections still exist
    answers_.wait_idle();  // and the submits whose batches were still committing
    server_->stop();
    server_->wait();
    stop_probe_listener();
  }

 private:
  void start_probe_listener(api& handler, const actors::service_config& cfg) {
    auto settings =
        restinio::server_settings_t<probe_traits>{}
            .address(cfg.probe_host)
            .port(cfg.probe_port)
            .max_parallel_connections(kProbeMaxConnections)
            .read_next_http_message_timelimit(kProbeTimeout)
            .write_http_response_timelimit(kProbeTimeout)
            .handle_request_timeout(kProbeTimeout)
            .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                          .max_url_size(kMaxUrlBytes)
                                          .max_field_name_size(kMaxFieldNameBytes)
                                          .max_field_value_size(kMaxFieldValueBytes)
                                          .max_field_count(kMaxFieldCount)
                                          .max_body_size(4096))
            .request_handler([this, &handler](restinio::request_handle_t req) {
              thread_local const bool named = ::pthread_setname_np(::pthread_self(), "quire-probe") == 0;
              (void)named;
              const auto head = request_head(req);
              if (lane_of(head.path) != lane::probe) {
                static const std::string only = probe_routes_only();
                send(req, handler.refuse(head, "route_not_found", only));
                return restinio::request_accepted();
              }
              if (head.path == "/metrics") gate_->publish();
              send(req, handler.handle(head));
              return restinio::request_accepted();
            });
    try {
      probe_ = restinio::run_async(restinio::own_io_context(), std::move(settings), 1);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot listen on " + cfg.probe_host + ":" + std::to_string(cfg.probe_port) +
                               " (QUIRE_PROBE_LISTEN; 'off' disables the probe listener): " + e.what());
    }
  }
  void stop_probe_listener() {
    if (!probe_) return;
    probe_->stop();
    probe_->wait();
    probe_.reset();
  }

  handler_pool pool_;
  pending_answers answers_;
  std::shared_ptr<peer_gate> gate_;
  restinio::running_server_handle_t<server_traits> server_;
  restinio::running_server_handle_t<probe_traits> probe_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<server> start_server(api& handler, const actors::service_config& cfg) {
  return std::make_unique<restinio_server>(handler, cfg);  // throws naming the listener that failed
}

}  // namespace quire::http
