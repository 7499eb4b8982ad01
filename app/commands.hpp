// The `quire` command line: one function per subcommand registers it with CLI11.
// A subcommand reports its exit status by throwing CLI::RuntimeError(code) from its callback.
#pragma once

namespace CLI { class App; }

namespace quire::build {
const char* revision();  // git revision baked in at build time (generated/quire_revision.cpp)
const char* version();
}

namespace quire::app {
void add_convert_command(CLI::App& app);
void add_storage_commands(CLI::App& app);  // cmd_migrate.cpp: migrate, sweep
void add_serve_command(CLI::App& app);        // cmd_serve.cpp (only when QUIRE_HAVE_SERVE)
void add_worker_command(CLI::App& app);       // cmd_worker.cpp
void add_healthcheck_command(CLI::App& app);  // cmd_healthcheck.cpp
}
