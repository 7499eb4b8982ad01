// quire::log — one structured line per event on stderr.
//
// An event is a stable dotted name ("http.access", "job.transition", "readiness.changed") and a
// few named fields, in the order the caller gives them. Lines are JSON objects when stderr is not a
// terminal (a container's log, a file, a pipe: what a log shipper parses) and readable
// `key=value` text on a terminal; QUIRE_LOG_FORMAT forces either. QUIRE_LOG_LEVEL drops events
// below a level. Both are parsed with the other settings (actors/config.cpp) and applied by
// start(). Field values are escaped either way: a client-supplied path with quotes, newlines,
// terminal escapes or invalid UTF-8 stays inside its line and the line stays valid JSON.
//
// Delivery is spdlog: `async` (quire serve) hands the rendered line to one background writer
// through a bounded queue that drops the oldest line when full, so a request thread never waits
// for stderr; `sync` (the worker, the CLI, tests) writes before returning. Before start() and after
// stop() events go out synchronously at the default settings.
//
// This module knows nothing of the rest of quire: storage/, actors/, http/ and app/ may use it;
// convert/ and gpu/ do not (they report through their results).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace quire::log {

enum class level { trace, debug, info, warn, error, critical, off };
enum class format { automatic, json, text };
enum class delivery { sync, async };

struct settings {
  level min_level = level::info;    // QUIRE_LOG_LEVEL: trace|debug|info|warn|error|critical|off
  format output = format::automatic;  // QUIRE_LOG_FORMAT: auto|json|text
};

std::optional<level> parse_level(std::string_view text);    // case-insensitive; "warning" = warn
std::optional<format> parse_format(std::string_view text);  // auto | json | text
std::string_view to_string(level l);
std::string_view to_string(format f);  // "auto", "json", "text"

// Named values in the caller's order. Values may be strings, numbers, booleans, null, arrays or
// objects. A field named like one of the line's own keys (ts, level, event) gets a trailing '_'.
using fields = nlohmann::ordered_json;

// RFC 3339 UTC with milliseconds, "2026-01-02T03:04:05.678Z": the log's `ts`, and every time the
// API and the webhooks show.
std::string iso_time(std::chrono::system_clock::time_point t);

// Pure rendering (no trailing newline), for the writer and the tests.
std::string render_json(level l, std::chrono::system_clock::time_point t, std::string_view event, const fields& f);
std::string render_text(level l, std::chrono::system_clock::time_point t, std::string_view event, const fields& f);

// Configures this process's logger; call before starting threads that log, once.
void start(const settings& s, delivery d);
// Writes out what is queued and returns to synchronous default delivery. Call after the threads
// that log have stopped (the end of `quire serve`).
void stop();

// Whether an event at `l` would be written: test it before building costly fields.
bool enabled(level l);
// Lines the async queue dropped because it was full (0 with sync delivery).
std::uint64_t dropped();

void emit(level l, std::string_view event, const fields& f = fields::object()) noexcept;
inline void trace(std::string_view event, const fields& f = fields::object()) { emit(level::trace, event, f); }
inline void debug(std::string_view event, const fields& f = fields::object()) { emit(level::debug, event, f); }
inline void info(std::string_view event, const fields& f = fields::object()) { emit(level::info, event, f); }
inline void warn(std::string_view event, const fields& f = fields::object()) { emit(level::warn, event, f); }
inline void error(std::string_view event, const fields& f = fields::object()) { emit(level::error, event, f); }
inline void critical(std::string_view event, const fields& f = fields::object()) { emit(level::critical, event, f); }

}  // namespace quire::log
