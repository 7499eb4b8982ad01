// quire::app — what `quire worker` does to itself before it takes its first job:
// the process that parses untrusted PDFs keeps only what one job needs.
//
// The parent (actors/worker_process.cpp) already gave it a clean environment (no database URL, no
// API keys), rlimits (address space, file size, open files, no core dumps), a private scratch
// directory (QUIRE_WORKER_SCRATCH, 0700, `in/` holding the job's input, `out/` for its output) and,
// when the service runs as root, another user. Here, after the engine and any GPU are initialised:
//   - PR_SET_NO_NEW_PRIVS;
//   - seccomp: socket(), io_uring, ptrace and process_vm_* fail with EACCES, so the worker reaches no
//     network and no database, not even through a Unix socket;
//   - Landlock (where the kernel has it): reads only the system directories (libraries, Tesseract's
//     models), `in/` read-only, writes only `out/` and `tmp/` of its scratch; the data root, other
//     jobs' files, secrets files and /proc of other processes are out of reach.
// Landlock binds the calling thread and those it starts later: threads that exist before (a CUDA
// driver's, in a GPU worker) keep the filesystem view, but never run the parser.
// A layer the kernel (or a container's seccomp profile) refuses is reported, never silently dropped:
// apply() says which layers hold, the worker sends that in its ready event, and the service logs a
// warning and exports quire_worker_sandbox{layer} (1 = in force).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace quire::app::worker_sandbox {

struct state {
  bool no_new_privs = false;
  bool seccomp = false;
  int landlock_abi = 0;        // 0: not in force
  bool filesystem = false;     // Landlock confined the filesystem to the scratch directory
  std::string notes;           // why a layer is missing ("landlock: ENOSYS", …)
  nlohmann::json to_json() const;
};

// Applies every layer it can; `scratch` is the private directory ("" = no filesystem confinement,
// as for `quire convert`, whose inputs and outputs are the caller's own paths). `gpu`: the worker
// uses a CUDA device, so /dev stays readable and writable.
state apply(const std::string& scratch, bool gpu);

}  // namespace quire::app::worker_sandbox
