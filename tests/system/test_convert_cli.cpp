// `quire convert` through the real binary: many files and directories, a broken and a crashing
// PDF among good ones, standard input, progress only on a terminal, OCR languages; and
// `quire serve --help` / flags (no database needed for any of these).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "../unit/convert/hostile_pdf.hpp"
#include "harness.hpp"

using namespace quire::systest;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The Markdown of the one-file form, the reference every other form must reproduce.
std::string reference_markdown() {
  int rc = 0;
  auto md = run_capture(quire_bin() + " convert " + q(sample_pdf_path()) + " 2>/dev/null", &rc);
  REQUIRE(rc == 0);
  REQUIRE(!md.empty());
  return md;
}

// Runs a command with stdout and stderr in separate files; returns the exit status.
int run_split(const std::string& cmd, std::string& out, std::string& err, const fs::path& dir) {
  int rc = 0;
  // The braces keep run_capture's own 2>&1 off the command's streams.
  run_capture("{ " + cmd + " >" + q(dir / "stdout") + " 2>" + q(dir / "stderr") + "; }", &rc);
  out = slurp((dir / "stdout").string());
  err = slurp((dir / "stderr").string());
  return rc;
}

}  // namespace

TEST_CASE("convert a directory with a broken PDF: the others convert, the failure is reported, exit 1") {
  const fs::path tmp = temp_dir("cli-batch");
  const fs::path in = tmp / "in", out = tmp / "out";
  const std::string pdf = sample_pdf();
  write(in / "good.pdf", pdf);
  write(in / "sub/deeper/second.pdf", pdf);
  write(in / "broken.pdf", "%PDF-1.4\nthis is not a PDF body at all\n");
  write(in / "notes.txt", "not a PDF: ignored");
  const std::string expected = reference_markdown();

  std::string stdout_text, stderr_text;
  const int rc = run_split(quire_bin() + " convert " + q(in) + " -o " + q(out) + " --jobs 2", stdout_text,
                           stderr_text, tmp);
  INFO(stderr_text);
  CHECK(rc == 1);
  CHECK(stdout_text.empty());
  CHECK(slurp((out / "good.md").string()) == expected);
  CHECK(slurp((out / "sub/deeper/second.md").string()) == expected);
  CHECK_FALSE(fs::exists(out / "broken.md"));
  CHECK(stderr_text.find("quire convert: error: " + (in / "broken.pdf").string() + ": pdf_unreadable") !=
        std::string::npos);
  CHECK(stderr_text.find("2 of 3 converted (1 failed, 0 skipped)") != std::string::npos);
  // Not a terminal: no progress line, no carriage returns or escape sequences.
  CHECK(stderr_text.find('\r') == std::string::npos);
  CHECK(stderr_text.find('\033') == std::string::npos);
  CHECK(stderr_text.find("pages/s") == std::string::npos);
  // Only the outputs: no scratch folders left behind.
  CHECK(files_under(out.string()) == std::vector<std::string>{"good.md", "sub/deeper/second.md"});

  // All good: exit 0. Existing outputs are replaced, or kept with --skip-existing.
  fs::remove(in / "broken.pdf");
  write(out / "good.md", "stale");
  CHECK(run_split(quire_bin() + " convert " + q(in) + " -o " + q(out) + " --skip-existing", stdout_text, stderr_text,
                  tmp) == 0);
  CHECK(slurp((out / "good.md").string()) == "stale");
  CHECK(stderr_text.find("0 of 2 converted (0 failed, 2 skipped)") != std::string::npos);
  CHECK(run_split(quire_bin() + " convert " + q(in) + " -o " + q(out), stdout_text, stderr_text, tmp) == 0);
  CHECK(slurp((out / "good.md").string()) == expected);
  fs::remove_all(tmp);
}

TEST_CASE("convert many files: a PDF that crashes its worker fails alone; json output; name clashes") {
  const fs::path tmp = temp_dir("cli-crash");
  const fs::path out = tmp / "out";
  write(tmp / "a/crash.pdf", sample_pdf("QUIRE_TEST_SEGFAULT"));
  write(tmp / "a/fine.pdf", sample_pdf());
  write(tmp / "a/same.pdf", sample_pdf());
  write(tmp / "b/same.pdf", sample_pdf());
  const std::string expected = reference_markdown();

  std::string stdout_text, stderr_text;
  const int rc = run_split("QUIRE_WORKER_TEST_HOOKS=1 " + quire_bin() + " convert " + q(tmp / "a/crash.pdf") + " " +
                               q(tmp / "a/fine.pdf") + " " + q(tmp / "a/same.pdf") + " " + q(tmp / "b/same.pdf") +
                               " -o " + q(out) + " --format json --jobs 1",
                           stdout_text, stderr_text, tmp);
  INFO(stderr_text);
  CHECK(rc == 1);
  CHECK(stderr_text.find((tmp / "a/crash.pdf").string() + ": worker_crashed: ") != std::string::npos);
  CHECK(stderr_text.find("SIGSEGV") != std::string::npos);
  CHECK(stderr_text.find((tmp / "a/same.pdf").string() + ": output_clash") != std::string::npos);
  CHECK(stderr_text.find((tmp / "b/same.pdf").string() + ": output_clash") != std::string::npos);
  CHECK(files_under(out.string()) == std::vector<std::string>{"fine.json"});
  const auto j = nlohmann::json::parse(slurp((out / "fine.json").string()));
  CHECK(j["markdown"] == expected);
  CHECK(j["page_count"].get<int>() >= 1);
  CHECK(j["pages"].size() == j["page_count"].get<std::size_t>());
  CHECK(j["pages"][0]["page"] == 1);
  CHECK(j["schema_version"] == 1);
  CHECK_FALSE(j["blocks"].empty());
  fs::remove_all(tmp);
}

TEST_CASE("convert many files to chunks: NAME.chunks.json, the chunks cover the Markdown") {
  const fs::path tmp = temp_dir("cli-chunks");
  write(tmp / "in/one.pdf", sample_pdf());
  const std::string expected = reference_markdown();
  std::string stdout_text, stderr_text;
  CHECK(run_split(quire_bin() + " convert " + q(tmp / "in") + " -o " + q(tmp / "out") +
                      " --format chunks --chunk-size 300 --jobs 1",
                  stdout_text, stderr_text, tmp) == 0);
  INFO(stderr_text);
  CHECK(files_under((tmp / "out").string()) == std::vector<std::string>{"one.chunks.json"});
  const auto j = nlohmann::json::parse(slurp((tmp / "out/one.chunks.json").string()));
  CHECK(j["limit"] == 300);
  std::string all;
  for (const auto& c : j["chunks"]) {
    CHECK(c["size"].get<int>() <= 300);
    all += c["text"].get<std::string>();
  }
  CHECK(all == expected);
  // the one-file form gives the same chunks
  CHECK(run_split(quire_bin() + " convert " + q(tmp / "in/one.pdf") + " --format chunks --chunk-size 300", stdout_text,
                  stderr_text, tmp) == 0);
  CHECK(nlohmann::json::parse(stdout_text) == j);
  fs::remove_all(tmp);
}

TEST_CASE("convert - reads the PDF from standard input; the one-file form is unchanged") {
  const fs::path tmp = temp_dir("cli-stdin");
  const std::string expected = reference_markdown();
  std::string stdout_text, stderr_text;
  CHECK(run_split(quire_bin() + " convert - < " + q(sample_pdf_path()), stdout_text, stderr_text, tmp) == 0);
  CHECK(stdout_text == expected);
  CHECK(run_split(quire_bin() + " convert - -o " + q(tmp / "x.md") + " < " + q(sample_pdf_path()), stdout_text,
                  stderr_text, tmp) == 0);
  CHECK(slurp((tmp / "x.md").string()) == expected);
  CHECK(run_split("printf 'no pdf' | " + quire_bin() + " convert -", stdout_text, stderr_text, tmp) == 1);
  CHECK(stderr_text.find("quire convert: error: pdf_") != std::string::npos);
  // `-` with other inputs is a usage error.
  CHECK(run_split(quire_bin() + " convert - " + q(sample_pdf_path()) + " -o " + q(tmp / "d"), stdout_text,
                  stderr_text, tmp) == 2);
  // An -o ending in / is a directory even for one file.
  CHECK(run_split(quire_bin() + " convert " + q(sample_pdf_path()) + " -o " + q(tmp / "dir") + "/", stdout_text,
                  stderr_text, tmp) == 0);
  CHECK(slurp((tmp / "dir" / (fs::path(sample_pdf_path()).stem().string() + ".md")).string()) == expected);
  fs::remove_all(tmp);
}

TEST_CASE("on a terminal the batch shows a progress line") {
  const fs::path tmp = temp_dir("cli-tty");
  write(tmp / "in/one.pdf", sample_pdf());
  write(tmp / "in/two.pdf", sample_pdf());
  int rc = 0;
  // script(1) gives the command a pseudo-terminal; everything it printed lands in the typescript.
  const std::string cmd = quire_bin() + " convert " + q(tmp / "in") + " -o " + q(tmp / "out");
  run_capture("script -qec \"" + cmd + "\" " + q(tmp / "typescript") + " >/dev/null", &rc);
  CHECK(rc == 0);
  const std::string seen = slurp((tmp / "typescript").string());
  INFO(seen);
  CHECK(std::regex_search(seen, std::regex(R"(\[\d+/2 files\] \d+ pages)")));
  CHECK(seen.find("pages/s") != std::string::npos);
  CHECK(seen.find("2 of 2 converted") != std::string::npos);
  fs::remove_all(tmp);
}

TEST_CASE("convert --ocr-languages refuses a language that is not installed, naming those that are") {
  const fs::path tmp = temp_dir("cli-ocr");
  std::string stdout_text, stderr_text;
  const int rc = run_split(quire_bin() + " convert " + q(sample_pdf_path()) + " --ocr-languages eng+xyz", stdout_text,
                           stderr_text, tmp);
  CHECK(rc == 2);
  CHECK(stdout_text.empty());
  CHECK(stderr_text.find("ocr_language_unavailable") != std::string::npos);
  CHECK(stderr_text.find("'xyz'") != std::string::npos);
  CHECK(std::regex_search(stderr_text, std::regex(R"(installed: .*\beng\b)")));
  // An installed one is accepted (the sample has a text layer: OCR does not even run).
  CHECK(run_split(quire_bin() + " convert " + q(sample_pdf_path()) + " --ocr-languages eng", stdout_text, stderr_text,
                  tmp) == 0);
  fs::remove_all(tmp);
}

TEST_CASE("serve --help lists every documented setting with its variable; flags set them") {
  int rc = 0;
  const std::string help = run_capture(quire_bin() + " serve --help", &rc);
  CHECK(rc == 0);
  const std::string doc = slurp(std::string(QUIRE_SOURCE_DIR) + "/docs/configuration.md");
  std::set<std::string> documented;
  const std::regex var(R"(`(QUIRE_[A-Z0-9_]+)`)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), var); it != std::sregex_iterator(); ++it)
    documented.insert((*it)[1]);
  documented.erase("QUIRE_TEST_FAIL_DEVICE");   // test hooks: not settings of a real service
  documented.erase("QUIRE_WORKER_TEST_HOOKS");
  documented.erase("QUIRE_OCR_LANGUAGES");      // a build variable of scripts/images
  CHECK(documented.size() >= 30);
  for (const auto& v : documented) {
    INFO(v);
    std::string flag = "--" + v.substr(6);
    for (auto& c : flag) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(help.find(v) != std::string::npos);
    CHECK(help.find(flag) != std::string::npos);
  }
  CHECK(help.find("[default: 0.0.0.0:8080]") != std::string::npos);  // defaults are shown
  CHECK(help.find("[default: 52428800]") != std::string::npos);

  // A flag is parsed like its variable, and wins over it.
  auto out = run_capture(quire_bin() + " serve --profile staging", &rc);
  CHECK(rc == 2);
  // One config.invalid event per problem, naming the variable (the log is JSON off a terminal).
  CHECK(out.find(R"("event":"config.invalid","variable":"QUIRE_PROFILE","message":"expected 'prod' or 'eval', got 'staging'")") !=
        std::string::npos);
  out = run_capture("QUIRE_PROFILE=staging " + quire_bin() + " serve", &rc);
  CHECK(rc == 2);
  CHECK(out.find("got 'staging'") != std::string::npos);
  out = run_capture("QUIRE_PROFILE=eval " + quire_bin() + " serve --profile staging --lease-seconds 5 "
                    "--heartbeat-seconds 9", &rc);
  CHECK(rc == 2);
  CHECK(out.find("got 'staging'") != std::string::npos);
  CHECK(out.find(R"("variable":"QUIRE_HEARTBEAT_SECONDS","message":"must be shorter than QUIRE_LEASE_SECONDS)") !=
        std::string::npos);
}

TEST_CASE("convert applies the work budgets: a hostile PDF fails fast with work_limit_exceeded, 0 lifts a limit") {
  const fs::path tmp = temp_dir("cli-limits");
  // 20 pages drawing one 256 MiB stream of `q Q` (a few hundred KB on disk): past the default
  // per-page content budget (128 MiB) before the first page runs.
  write(tmp / "hostile.pdf", quire::test::shared_content_pdf(20, "q Q\n", 256u << 20));
  std::string out, err;
  CHECK(run_split(quire_bin() + " convert " + q(tmp / "hostile.pdf"), out, err, tmp) == 1);
  CHECK(err.find("quire convert: error: work_limit_exceeded") != std::string::npos);
  CHECK(out.empty());
  // The many-file form carries the same budgets into its workers; the good file still converts.
  write(tmp / "in" / "good.pdf", slurp(sample_pdf_path()));
  fs::copy_file(tmp / "hostile.pdf", tmp / "in" / "hostile.pdf");
  CHECK(run_split(quire_bin() + " convert " + q(tmp / "in") + " -o " + q(tmp / "out") + "/", out, err, tmp) == 1);
  CHECK(err.find("hostile.pdf: work_limit_exceeded") != std::string::npos);
  CHECK(fs::exists(tmp / "out" / "good.md"));
  CHECK(!fs::exists(tmp / "out" / "hostile.md"));
  // A smaller budget of one kind trips on its own; a bad size is a usage error.
  write(tmp / "small.pdf", quire::test::shared_content_pdf(1, "q Q\n", 2u << 20));
  CHECK(run_split(quire_bin() + " convert " + q(tmp / "small.pdf"), out, err, tmp) == 0);
  CHECK(run_split(quire_bin() + " convert --page-content-limit 1MiB " + q(tmp / "small.pdf"), out, err, tmp) == 1);
  CHECK(err.find("page_content_bytes") != std::string::npos);
  write(tmp / "drawn.pdf", quire::test::shared_content_pdf(1, "BT /F1 1 Tf 72 72 Td (x) Tj ET\n", 64u << 10));
  CHECK(run_split(quire_bin() + " convert --page-operator-limit 1000 " + q(tmp / "drawn.pdf"), out, err, tmp) == 1);
  CHECK(err.find("page_operators") != std::string::npos);
  CHECK(run_split(quire_bin() + " convert --page-operator-limit 0 " + q(tmp / "drawn.pdf"), out, err, tmp) == 0);
  CHECK(run_split(quire_bin() + " convert --page-content-limit lots " + q(tmp / "small.pdf"), out, err, tmp) == 2);
  fs::remove_all(tmp);
}
