// The many-file plan of `quire convert`: discovery, output naming, duplicates and clashes
// (app/batch_plan.hpp), on a scratch directory tree.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "app/batch_plan.hpp"

namespace fs = std::filesystem;
using namespace quire::app;

namespace {

struct scratch {
  fs::path root;
  scratch() {
    root = fs::temp_directory_path() / ("quire-batch-plan-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::rand()));
    fs::create_directories(root);
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  fs::path file(const std::string& rel) {
    const fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "%PDF-1.4\n";
    return p;
  }
};

std::vector<std::string> outputs(const batch_plan& plan, const fs::path& base) {
  std::vector<std::string> out;
  for (const auto& i : plan.items) out.push_back(i.output.lexically_relative(base).generic_string());
  return out;
}

}  // namespace

TEST_CASE("batch plan: named files go to OUT/NAME.md, directories are mirrored") {
  scratch s;
  const auto a = s.file("in/a.pdf");
  s.file("tree/top.pdf");
  s.file("tree/sub/deep/x.PDF");  // any letter case
  s.file("tree/notes.txt");       // not a PDF: ignored
  s.file("tree/sub/readme.md");
  const fs::path out = s.root / "out";
  auto plan = plan_batch({a.string(), (s.root / "tree").string()}, out, ".md");
  CHECK(plan.problems.empty());
  CHECK(outputs(plan, out) == std::vector<std::string>{"a.md", "sub/deep/x.md", "top.md"});
  CHECK(plan.items[0].input == a);
  CHECK(plan.items[1].input == s.root / "tree/sub/deep/x.PDF");
  CHECK(plan.items[0].assets.empty());

  auto json = plan_batch({a.string()}, out, ".json");
  CHECK(outputs(json, out) == std::vector<std::string>{"a.json"});
}

TEST_CASE("batch plan: one PDF reached twice converts once") {
  scratch s;
  const auto a = s.file("tree/a.pdf");
  auto plan = plan_batch({a.string(), (s.root / "tree").string(), (s.root / "tree/../tree/a.pdf").string()},
                         s.root / "out", ".md");
  CHECK(plan.problems.empty());
  REQUIRE(plan.items.size() == 1);
  CHECK(plan.items[0].input == a);
}

TEST_CASE("batch plan: outputs that clash fail every PDF involved, the others still convert") {
  scratch s;
  const auto x1 = s.file("one/x.pdf");
  const auto x2 = s.file("two/x.pdf");
  const auto y = s.file("one/y.pdf");
  const fs::path out = s.root / "out";
  auto plan = plan_batch({x1.string(), x2.string(), y.string()}, out, ".md");
  CHECK(outputs(plan, out) == std::vector<std::string>{"y.md"});
  REQUIRE(plan.problems.size() == 2);
  for (const auto& p : plan.problems) {
    CHECK(p.code == "output_clash");
    CHECK(p.message.find(x1.string()) != std::string::npos);
    CHECK(p.message.find(x2.string()) != std::string::npos);
    CHECK(p.message.find((out / "x.md").string()) != std::string::npos);
  }

  // Within one directory, x.pdf and x.PDF would both write x.md.
  s.file("case/x.pdf");
  s.file("case/x.PDF");
  auto same_dir = plan_batch({(s.root / "case").string()}, out, ".md");
  CHECK(same_dir.items.empty());
  CHECK(same_dir.problems.size() == 2);
}

TEST_CASE("batch plan: missing inputs and directories without PDFs are reported, not fatal") {
  scratch s;
  const auto a = s.file("a.pdf");
  s.file("empty/notes.txt");
  auto plan = plan_batch({(s.root / "nope.pdf").string(), a.string(), (s.root / "empty").string()}, s.root / "out",
                         ".md");
  REQUIRE(plan.items.size() == 1);
  REQUIRE(plan.problems.size() == 2);
  CHECK(plan.problems[0].code == "input_missing");
  CHECK(plan.problems[1].code == "no_pdf_found");
}

TEST_CASE("batch plan: assets go to ASSETS/REL/NAME/ and are linked relative to the Markdown") {
  scratch s;
  s.file("tree/sub/x.pdf");
  const fs::path out = s.root / "out", assets = s.root / "out/images";
  auto plan = plan_batch({(s.root / "tree").string()}, out, ".md", assets);
  REQUIRE(plan.items.size() == 1);
  CHECK(plan.items[0].assets == assets / "sub/x");
  // out/sub/x.md links into out/images/sub/x/.
  CHECK(asset_link_prefix(plan.items[0]) == "../images/sub/x/");
}

TEST_CASE("progress line: files, failures, pages, rate, ETA") {
  batch_progress p;
  p.files_total = 40;
  p.elapsed = std::chrono::seconds(0);
  CHECK(progress_line(p) == "[0/40 files] 0 pages, 0s elapsed");
  p.files_done = 10;
  p.failed = 1;
  p.pages = 250;
  p.elapsed = std::chrono::seconds(50);
  // 5 s per file so far, 30 files to go: 150 s.
  CHECK(progress_line(p) == "[10/40 files, 1 failed] 250 pages, 5.0 pages/s, ETA 2m30s, 50s elapsed");
  p.files_done = 40;
  CHECK(progress_line(p).find("ETA") == std::string::npos);
  CHECK(format_duration(std::chrono::seconds(7)) == "7s");
  CHECK(format_duration(std::chrono::seconds(3 * 3600 + 5 * 60)) == "3h05m");
}
