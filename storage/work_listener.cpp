// work_listener: LISTEN quire_work on a dedicated connection, so an idle coordinator wakes when
// a job becomes queued instead of polling. The trigger in migrations/0001 sends the profile as
// payload; notifications for other profiles are ignored.
#include <fmt/core.h>

#include <chrono>
#include <pqxx/pqxx>

#include "storage/detail/connect_options.hpp"
#include "storage/detail/internal.hpp"
#include "storage/job_store.hpp"

namespace quire::storage {

using detail::make_error;

namespace {
class receiver final : public pqxx::notification_receiver {
 public:
  receiver(pqxx::connection_base& c, std::string profile, bool& flag)
      : pqxx::notification_receiver(c, "quire_work"), profile_(std::move(profile)), flag_(flag) {}
  void operator()(const std::string& payload, int) override {
    if (payload == profile_) flag_ = true;
  }

 private:
  std::string profile_;
  bool& flag_;
};
}  // namespace

struct work_listener::impl {
  std::string url, profile;
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<receiver> recv;
  bool woke = false;

  void connect() {
    recv.reset();
    conn.reset();
    conn = std::make_unique<pqxx::connection>(detail::with_connect_options(url, detail::kConnectTimeoutSeconds));
    recv = std::make_unique<receiver>(*conn, profile, woke);
    conn->get_notifs();  // issues the LISTEN now (pqxx 6 does it lazily otherwise)
  }
};

work_listener::work_listener(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
work_listener::~work_listener() {
  if (impl_) impl_->recv.reset();  // the receiver must go before its connection
}

result<std::unique_ptr<work_listener>> work_listener::open(const std::string& url, const std::string& profile) {
  auto p = std::make_unique<impl>();
  p->url = url;
  p->profile = profile;
  try {
    p->connect();
  } catch (const std::exception& e) {
    return make_error(errc::database_unreachable, e.what());
  }
  return std::unique_ptr<work_listener>(new work_listener(std::move(p)));
}

result<bool> work_listener::wait(std::chrono::milliseconds timeout) {
  auto& p = *impl_;
  try {
    if (!p.conn || !p.conn->is_open()) {
      p.connect();
      return true;  // notifications may have been missed while disconnected
    }
    p.woke = false;
    p.conn->get_notifs();  // drain what arrived since the last call
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!p.woke) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      p.conn->await_notification(static_cast<long>(left.count() / 1000000), static_cast<long>(left.count() % 1000000));
    }
    return p.woke;
  } catch (const std::exception& e) {
    p.recv.reset();
    p.conn.reset();
    return make_error(errc::database_unreachable, e.what());
  }
}

}  // namespace quire::storage
