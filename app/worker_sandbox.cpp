// The worker's own confinement; see worker_sandbox.hpp.
#include "app/worker_sandbox.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace quire::app::worker_sandbox {
namespace {

// Landlock access rights by ABI version (each version adds some; asking for unknown ones is EINVAL).
std::uint64_t handled_fs(int abi) {
  std::uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                    LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
  if (abi >= 2) r |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
  if (abi >= 3) r |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
  return r;
}

constexpr std::uint64_t kRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
constexpr std::uint64_t kReadExec = kRead | LANDLOCK_ACCESS_FS_EXECUTE;

std::string err(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Adds a rule for `path` if it exists (a missing system directory is not an error). Rights a file
// cannot have (directory rights on a regular file) are dropped.
bool allow(int ruleset, const std::string& path, std::uint64_t rights, std::uint64_t handled, std::string& notes) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  landlock_path_beneath_attr attr{};
  attr.allowed_access = rights & handled;
  attr.parent_fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
    attr.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_EXECUTE
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
                           | (handled & LANDLOCK_ACCESS_FS_TRUNCATE)
#endif
        ;
  const long rc = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
  ::close(fd);
  if (rc != 0) notes += err(("landlock rule " + path).c_str()) + "; ";
  return rc == 0;
}

void apply_landlock(const std::string& scratch, bool gpu, state& s) {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    s.notes += err("landlock unavailable") + "; ";
    return;
  }
  const std::uint64_t handled = handled_fs(static_cast<int>(abi));
  landlock_ruleset_attr ra{};
  ra.handled_access_fs = handled;
  const int rs = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0));
  if (rs < 0) {
    s.notes += err("landlock_create_ruleset") + "; ";
    return;
  }
  std::string notes;
  bool ok = true;
  // The system: libraries (dlopen), configuration, Tesseract's models, the CPU topology.
  for (const char* dir : {"/usr", "/lib", "/lib64", "/lib32", "/etc", "/opt", "/sys/devices/system/cpu"})
    ok = allow(rs, dir, kReadExec, handled, notes) && ok;
  if (const char* tess = std::getenv("TESSDATA_PREFIX"); tess && *tess) ok = allow(rs, tess, kRead, handled, notes) && ok;
  const std::uint64_t rw = kRead | LANDLOCK_ACCESS_FS_WRITE_FILE;
  if (gpu) {
    ok = allow(rs, "/dev", rw, handled, notes) && ok;  // /dev/nvidia*, opened again by the driver at will
  } else {
    for (const char* dev : {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"}) ok = allow(rs, dev, rw, handled, notes) && ok;
  }
  ok = allow(rs, scratch + "/in", kRead, handled, notes) && ok;
  ok = allow(rs, scratch + "/out", handled & ~LANDLOCK_ACCESS_FS_EXECUTE, handled, notes) && ok;
  ok = allow(rs, scratch + "/tmp", handled & ~LANDLOCK_ACCESS_FS_EXECUTE, handled, notes) && ok;
  if (ok && ::syscall(SYS_landlock_restrict_self, rs, 0) == 0) {
    s.landlock_abi = static_cast<int>(abi);
    s.filesystem = true;
  } else {
    s.notes += notes + (ok ? err("landlock_restrict_self") + "; " : "");
  }
  ::close(rs);
}

void apply_seccomp(state& s) {
  scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
  if (!f) {
    s.notes += "seccomp_init failed; ";
    return;
  }
  // Every thread of the process (a GPU worker's driver threads exist already), not just this one.
  bool ok = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1) == 0;
  // No sockets of any family: no network, and no Unix socket of the database or the Docker daemon.
  // io_uring can open and connect sockets without these system calls, ptrace and process_vm_* read
  // other processes' memory, unshare/setns/mount change what the process sees.
  for (const char* name : {"socket", "io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace",
                           "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "keyctl", "add_key",
                           "request_key", "unshare", "setns", "mount", "userfaultfd"}) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    ok = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), nr, 0) == 0 && ok;
  }
  const int rc = ok ? seccomp_load(f) : -1;
  seccomp_release(f);
  if (rc == 0) s.seccomp = true;
  else s.notes += "seccomp filter not loaded (" + std::string(rc < 0 ? std::strerror(-rc) : "rule") + "); ";
}

}  // namespace

nlohmann::json state::to_json() const {
  return {{"no_new_privs", no_new_privs}, {"seccomp", seccomp}, {"landlock_abi", landlock_abi},
          {"filesystem", filesystem}, {"uid", static_cast<long>(::getuid())}, {"notes", notes}};
}

state apply(const std::string& scratch, bool gpu) {
  state s;
  s.no_new_privs = ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
  if (!s.no_new_privs) s.notes += err("PR_SET_NO_NEW_PRIVS") + "; ";
  if (!scratch.empty()) apply_landlock(scratch, gpu, s);
  if (s.no_new_privs) apply_seccomp(s);  // without no_new_privs an unprivileged filter is refused
  return s;
}

}  // namespace quire::app::worker_sandbox
