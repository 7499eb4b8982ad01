// quire — PDF-to-Markdown conversion service. Entry point: dispatches to the subcommands.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"quire — PDF to Markdown conversion (one-shot CLI and REST service)", "quire"};
  app.set_version_flag("--version",
                       fmt::format("quire {} (revision {})", quire::build::version(), quire::build::revision()));
  app.require_subcommand(1);
  quire::app::add_convert_command(app);
  quire::app::add_storage_commands(app);  // migrate, sweep (cmd_migrate.cpp)
#ifdef QUIRE_HAVE_SERVE
  quire::app::add_serve_command(app);
#endif
  quire::app::add_worker_command(app);
  quire::app::add_healthcheck_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return app.exit(e);  // a subcommand's own exit status
  } catch (const CLI::ParseError& e) {
    // --help / --version exit 0; every other parse or validation error is a usage error: 2, as
    // documented, not CLI11's internal codes (105 for a value that fails its check).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}
