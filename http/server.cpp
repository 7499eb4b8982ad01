// RESTinio adapter for api; see server.hpp. The only translation unit that includes RESTinio/asio.
#include "http/server.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <restinio/all.hpp>
#include <thread>

namespace quire::http {
namespace {

// A fixed set of threads running posted tasks in order; drains the queue before joining.
class handler_pool {
 public:
  explicit handler_pool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
  }
  ~handler_pool() { shutdown(); }
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
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
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
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
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

request to_request(const restinio::request_handle_t& req) {
  request r;
  r.method = req->header().method().c_str();
  r.path = std::string(req->header().path());
  auto q = restinio::try_parse_query<restinio::parse_query_traits::javascript_compatible>(req->header().query());
  if (q)
    for (const auto& [k, v] : *q) r.query[std::string(k)] = std::string(v);
  else
    r.query["\x01malformed"] = "";  // makes no route parameter valid; handled as missing values
  req->header().for_each_field([&](const auto& f) {
    std::string name(f.name());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    r.headers[name] = std::string(f.value());
  });
  r.body = req->body();
  return r;
}

class restinio_server final : public server {
 public:
  restinio_server(api& handler, const actors::service_config& cfg) : pool_(cfg.http_threads) {
    auto settings =
        restinio::server_settings_t<restinio::default_traits_t>{}
            .address(cfg.listen_host)
            .port(cfg.listen_port)
            .max_pipelined_requests(4)
            .read_next_http_message_timelimit(cfg.idle_timeout)
            .write_http_response_timelimit(cfg.request_timeout)
            // long polls (wait_seconds <= 20) and slow disks stay within this
            .handle_request_timeout(cfg.request_timeout + std::chrono::seconds(25))
            .incoming_http_msg_limits(
                restinio::incoming_http_msg_limits_t{}.max_body_size(cfg.max_upload_bytes * 2 + (1u << 20)))
            .request_handler([this, &handler](restinio::request_handle_t req) {
              auto respond = [req, &handler] {
                auto resp = handler.handle(to_request(req));
                auto out = req->create_response(restinio::http_status_line_t{
                    restinio::http_status_code_t{static_cast<std::uint16_t>(resp.status)}, reason_phrase(resp.status)});
                for (auto& [k, v] : resp.headers) out.append_header(k, v);
                out.set_body(std::move(resp.body));
                out.done();
              };
              // Health, readiness and metrics never block (a snapshot read): answer them on the
              // I/O thread so long polls filling the handler pool cannot fail a healthcheck.
              const auto path = req->header().path();
              if (path == "/livez" || path == "/healthz" || path == "/readyz" || path == "/metrics")
                respond();
              else
                pool_.post(std::move(respond));
              return restinio::request_accepted();
            });
    server_ = restinio::run_async(restinio::own_io_context(), std::move(settings), 2);
  }
  ~restinio_server() override { stop(); }
  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    pool_.shutdown();  // answer what was accepted while the connections still exist
    server_->stop();
    server_->wait();
  }

 private:
  handler_pool pool_;
  restinio::running_server_handle_t<restinio::default_traits_t> server_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<server> start_server(api& handler, const actors::service_config& cfg) {
  try {
    return std::make_unique<restinio_server>(handler, cfg);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) + ": " +
                             e.what());
  }
}

}  // namespace quire::http
