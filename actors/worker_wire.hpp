// quire::actors — the child's side of the worker pipe protocol (actors/worker_process.hpp): jobs
// arrive as JSON lines on fd 3, events leave as JSON lines on fd 4. Header-only and plain POSIX so
// `quire worker` and the tests' stand-in worker frame the stream the same way.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace quire::actors::worker_wire {

inline constexpr int kJobsFd = 3;
inline constexpr int kEventsFd = 4;

// Writes one event line; false when the parent is gone (the worker should exit).
inline bool emit(const nlohmann::json& event, int fd = kEventsFd) {
  const std::string line = event.dump() + "\n";
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads job lines; next() is false at end of stream (the parent closed fd 3) or on an error.
class line_reader {
 public:
  explicit line_reader(int fd = kJobsFd) : fd_(fd) {}
  bool next(std::string& line) {
    for (;;) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return true;
      }
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

}  // namespace quire::actors::worker_wire
