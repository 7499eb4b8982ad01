// Structured event lines through spdlog; see log.hpp.
#include "log/log.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <mutex>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace quire::log {
namespace {

using json_error = nlohmann::json::error_handler_t;

// Lines waiting for the writer thread before the oldest is dropped: a burst of several thousand
// requests fits; beyond it stderr is not keeping up and a request must not wait for it.
constexpr std::size_t kAsyncQueueLines = 16384;

spdlog::level::level_enum to_spdlog(level l) {
  switch (l) {
    case level::trace: return spdlog::level::trace;
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warn: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
    case level::critical: return spdlog::level::critical;
    case level::off: break;
  }
  return spdlog::level::off;
}

std::shared_ptr<spdlog::sinks::sink> stderr_sink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_pattern("%v");  // the line is rendered by render_json/render_text; spdlog adds the '\n'
  return sink;
}

// The process's logger. Never destroyed (events may come from static destructors and detached
// threads at exit); `current` points at the synchronous default or at the started logger.
struct logger_state {
  logger_state() : fallback(std::make_shared<spdlog::logger>("quire", stderr_sink())) {
    fallback->set_level(spdlog::level::trace);  // filtering is ours (min_level)
    current.store(fallback.get());
  }
  std::atomic<int> min_level{static_cast<int>(level::info)};
  std::atomic<bool> json{::isatty(STDERR_FILENO) == 0};
  std::atomic<spdlog::logger*> current{nullptr};
  std::shared_ptr<spdlog::logger> fallback;
  std::mutex mu;  // start/stop
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::logger> started;
};

logger_state& state() {
  static auto* s = new logger_state();
  return *s;
}


// A JSON string literal: quotes, backslashes and control characters escaped, invalid UTF-8
// replaced by U+FFFD (a client's bytes never make the line invalid).
void append_quoted(std::string& out, std::string_view s) {
  out += nlohmann::json(std::string(s)).dump(-1, ' ', false, json_error::replace);
}

void append_value(std::string& out, const fields& v) { out += v.dump(-1, ' ', false, json_error::replace); }

std::string field_name(const std::string& key) {
  if (key == "ts" || key == "level" || key == "event") return key + "_";
  return key;
}

// Text mode prints a string bare when nothing in it could be mistaken for structure.
bool bare(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\') return false;
  return true;
}

template <class Each>
void for_each_field(const fields& f, Each&& each) {
  if (f.is_object()) {
    for (const auto& [k, v] : f.items()) each(field_name(k), v);
  } else if (!f.is_null()) {
    each(std::string("value"), f);
  }
}

}  // namespace

std::optional<level> parse_level(std::string_view text) {
  std::string t;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "trace") return level::trace;
  if (t == "debug") return level::debug;
  if (t == "info") return level::info;
  if (t == "warn" || t == "warning") return level::warn;
  if (t == "error") return level::error;
  if (t == "critical") return level::critical;
  if (t == "off") return level::off;
  return std::nullopt;
}

std::optional<format> parse_format(std::string_view text) {
  std::string t;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "auto") return format::automatic;
  if (t == "json") return format::json;
  if (t == "text") return format::text;
  return std::nullopt;
}

std::string_view to_string(level l) {
  switch (l) {
    case level::trace: return "trace";
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::critical: return "critical";
    case level::off: return "off";
  }
  return "off";
}

std::string_view to_string(format f) {
  switch (f) {
    case format::json: return "json";
    case format::text: return "text";
    case format::automatic: break;
  }
  return "auto";
}

std::string render_json(level l, std::chrono::system_clock::time_point t, std::string_view event, const fields& f) {
  std::string out;
  out.reserve(160);
  out += "{\"ts\":\"";
  out += iso_time(t);
  out += "\",\"level\":\"";
  out += to_string(l);
  out += "\",\"event\":";
  append_quoted(out, event);
  for_each_field(f, [&](const std::string& k, const fields& v) {
    out += ',';
    append_quoted(out, k);
    out += ':';
    append_value(out, v);
  });
  out += '}';
  return out;
}

std::string render_text(level l, std::chrono::system_clock::time_point t, std::string_view event, const fields& f) {
  std::string out = iso_time(t);
  std::string lv(to_string(l));
  for (auto& c : lv) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  lv.resize(5, ' ');
  out += ' ';
  out += lv;
  out += ' ';
  const std::string ev(event);
  if (bare(ev)) out += ev;
  else append_quoted(out, ev);
  for_each_field(f, [&](const std::string& k, const fields& v) {
    out += ' ';
    if (bare(k)) out += k;
    else append_quoted(out, k);
    out += '=';
    if (v.is_string() && bare(v.get_ref<const std::string&>())) out += v.get_ref<const std::string&>();
    else append_value(out, v);
  });
  return out;
}

void start(const settings& s, delivery d) {
  auto& st = state();
  std::lock_guard lock(st.mu);
  st.min_level.store(static_cast<int>(s.min_level));
  st.json.store(s.output == format::json || (s.output == format::automatic && ::isatty(STDERR_FILENO) == 0));
  if (d == delivery::sync || st.started) return;
  // One writer thread; a full queue drops its oldest line (overrun_oldest) instead of blocking.
  st.pool = std::make_shared<spdlog::details::thread_pool>(kAsyncQueueLines, 1, [] {
    ::pthread_setname_np(::pthread_self(), "quire-log");  // top -H, perf
  });
  st.started = std::make_shared<spdlog::async_logger>("quire-async", stderr_sink(), st.pool,
                                                      spdlog::async_overflow_policy::overrun_oldest);
  st.started->set_level(spdlog::level::trace);
  st.current.store(st.started.get());
}

void stop() {
  auto& st = state();
  std::lock_guard lock(st.mu);
  if (!st.started) return;
  st.current.store(st.fallback.get());
  st.started.reset();
  st.pool.reset();  // the pool's destructor lets its thread write out every queued line, then joins
}

bool enabled(level l) {
  return l != level::off && static_cast<int>(l) >= state().min_level.load(std::memory_order_relaxed);
}

std::uint64_t dropped() {
  auto& st = state();
  std::lock_guard lock(st.mu);
  return st.pool ? st.pool->overrun_counter() : 0;
}

void emit(level l, std::string_view event, const fields& f) noexcept {
  if (!enabled(l)) return;
  // Logging never throws into its caller (completion handlers and destructors log).
  try {
    auto& st = state();
    const auto now = std::chrono::system_clock::now();
    std::string line = st.json.load(std::memory_order_relaxed) ? render_json(l, now, event, f) : render_text(l, now, event, f);
    st.current.load(std::memory_order_acquire)->log(to_spdlog(l), spdlog::string_view_t(line.data(), line.size()));
  } catch (...) {
  }
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[80];  // room for any int the format could print (the compiler checks the worst case)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace quire::log
