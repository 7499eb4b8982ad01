// Result formats through the real binary and PostgreSQL (issue 15 part 2): a job submitted with
// conversion.formats gets document.json, chunks.json and result.txt stored beside result.md and
// served at …/result/{format}; the bundle zips them with the images; formats_check.py validates
// the files against docs/*.schema.json, the pages, the chunks' coverage and the bundle's links.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../unit/convert/hostile_pdf.hpp"
#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// A PDF of uncompressed content streams, one per page (Helvetica as F1, Helvetica-Bold as F2).
std::string pages_pdf(const std::vector<std::string>& contents) {
  std::vector<std::string> objs = {"<< /Type /Catalog /Pages 2 0 R >>", "",
                                   "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
                                   "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"};
  std::string kids;
  for (const auto& c : contents) {
    objs.push_back("<< /Length " + std::to_string(c.size()) + " >>\nstream\n" + c + "\nendstream");
    objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " + std::to_string(objs.size()) +
                   " 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>");
    kids += std::to_string(objs.size()) + " 0 R ";
  }
  objs[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(contents.size()) + " >>";
  return quire::test::objects_pdf(objs);
}

std::string text_at(const char* font, int size, int x, int y, const std::string& s) {
  return "BT /" + std::string(font) + " " + std::to_string(size) + " Tf " + std::to_string(x) + " " +
         std::to_string(y) + " Td (" + s + ") Tj ET\n";
}

std::string lines_at(int y, const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) {
    s += text_at("F1", 11, 72, y, l);
    y -= 14;
  }
  return s;
}

// Two pages: a title, prose and a 32 x 32 grey image on page 1; a section, prose and a list on
// page 2. The phrases "first page" and "second page" say where their paragraphs are.
std::string two_page_report() {
  std::string hex;
  for (int i = 0; i < 32 * 32; ++i) hex += (i % 7 == 0) ? "00" : "C8";
  std::string p1 = text_at("F2", 22, 72, 720, "Harbour Report");
  p1 += lines_at(690, {"The morning crew wrote this on the first page of the report, before the",
                       "tide turned, and the duty manager signed the sheet at the east quay."});
  p1 += "q 200 0 0 120 72 520 cm BI /W 32 /H 32 /CS /G /BPC 8 /F /AHx ID " + hex + "> EI Q\n";
  p1 += lines_at(480, {"Below the photograph the crew listed the buckets, the ropes and the pump",
                       "that was restarted twice during the night shift at the slipway."});
  std::string p2 = text_at("F2", 16, 72, 720, "Tides and moorings");
  p2 += lines_at(695, {"The berths are described on the second page: the north berth is deep",
                       "enough for the ferry, the south berth only for the pilot boats."});
  p2 += text_at("F1", 11, 72, 640, "\225") + text_at("F1", 11, 86, 640, "Rinse the buckets");
  p2 += text_at("F1", 11, 72, 626, "\225") + text_at("F1", 11, 86, 626, "Check the ropes");
  p2 += lines_at(596, {"Moorings are checked at every change of the tide by the harbour crew on",
                       "duty, who note the state of each line in the log book kept at the office."});
  return pages_pdf({p1, p2});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
  REQUIRE(f.good());
}

}  // namespace

TEST_CASE("result formats: stored beside the Markdown, served by name, bundled with their images") {
  lane l("formats");
  l.svc.start();
  const bool ready = l.svc.wait_ready(30s);
  INFO(l.svc.log());
  REQUIRE(ready);
  const int port = l.svc.port();

  // Bad format options are refused at submit, naming the field, and nothing is stored.
  auto bad = submit(port, two_page_report(), R"({"conversion":{"formats":["json","pdf"]}})");
  CHECK(bad.status == 422);
  CHECK(bad.json()["error"]["code"] == "validation_error");
  CHECK(bad.json()["error"]["details"]["field"] == "conversion.formats[1]");
  bad = submit(port, two_page_report(), R"({"conversion":{"chunk_size":100}})");
  CHECK(bad.status == 422);
  CHECK(bad.json()["error"]["details"]["field"] == "conversion.chunk_size");

  auto r = submit(port, two_page_report(),
                  R"({"conversion":{"formats":["chunks","json","text"],"extract_images":true,"chunk_size":200}})");
  REQUIRE(r.status == 202);
  const auto id = job_id_of(r);
  CHECK(r.json()["job"]["job_spec"]["conversion"]["formats"] == json({"markdown", "json", "chunks", "text"}));
  CHECK(r.json()["job"]["job_spec"]["conversion"]["chunk_unit"] == "characters");
  auto job = l.svc.wait_job(id, {"succeeded", "failed"}, 60s);
  INFO(job.dump());
  REQUIRE(job.value("status", "") == "succeeded");
  const std::string self = "/v1/convert/jobs/" + id;
  for (const char* f : {"markdown", "json", "chunks", "text"}) CHECK(job["links"][f] == self + "/result/" + f);
  CHECK(job["links"]["bundle"] == self + "/result/bundle");

  // The metadata lists every format with its size and sha256; each download is those bytes.
  auto meta = http(port, "GET", self + "/result").json()["result"];
  REQUIRE(meta["formats"].size() == 4);
  REQUIRE(meta["assets"].size() == 1);
  const std::string out = temp_dir("formats-out");
  const std::map<std::string, std::pair<std::string, std::string>> served = {
      {"markdown", {"text/markdown; charset=utf-8", "result.md"}},
      {"json", {"application/json", "document.json"}},
      {"chunks", {"application/json", "chunks.json"}},
      {"text", {"text/plain; charset=utf-8", "result.txt"}}};
  for (const auto& f : meta["formats"]) {
    const std::string format = f["format"];
    INFO(format);
    auto got = http(port, "GET", self + "/result/" + format);
    CHECK(got.status == 200);
    CHECK(got.headers["content-type"] == served.at(format).first);
    CHECK(f["name"] == served.at(format).second);
    CHECK(f["size_bytes"] == got.body.size());
    CHECK(got.headers["x-content-sha256"] == f["sha256"]);
    // Stored in the job's directory under its artifact name, like result.md.
    CHECK(slurp(l.root + "/jobs/" + id.substr(0, 2) + "/" + id + "/" + f["name"].get<std::string>()) == got.body);
    write_file(out + "/" + served.at(format).second, got.body);
  }
  auto zip = http(port, "GET", self + "/result/bundle");
  CHECK(zip.status == 200);
  CHECK(zip.headers["content-type"] == "application/zip");
  write_file(out + "/bundle.zip", zip.body);
  zip = http(port, "GET", self + "/result/bundle?images=embedded");
  CHECK(zip.status == 200);
  write_file(out + "/bundle-embedded.zip", zip.body);
  CHECK(http(port, "GET", self + "/result/bundle?images=both").status == 422);

  int rc = -1;
  const auto report = run_capture("python3 '" + std::string(QUIRE_SOURCE_DIR) + "/tests/system/formats_check.py' '" +
                                      out + "' 2 'first page=1' 'second page=2' 'Rinse the buckets=2' 2>&1",
                                  &rc);
  INFO(report);
  if (rc == 77)
    WARN("formats_check.py skipped (no python3-jsonschema): " << report);
  else
    CHECK(rc == 0);

  // A job submitted without formats has the Markdown only: the others are 404 format_not_available,
  // an unknown name 404 format_unknown; its bundle holds result.md.
  auto plain = submit(port, two_page_report(), "", {}, "?wait_seconds=20");
  REQUIRE(plain.status == 200);
  const std::string plain_self = "/v1/convert/jobs/" + job_id_of(plain);
  CHECK_FALSE(plain.json()["job"]["links"].contains("json"));
  CHECK(plain.json()["job"]["links"]["markdown"] == plain_self + "/result/markdown");
  auto missing = http(port, "GET", plain_self + "/result/json");
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"]["code"] == "format_not_available");
  CHECK(missing.json()["error"]["details"]["formats"] == json({"markdown"}));
  auto unknown = http(port, "GET", plain_self + "/result/docx");
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"]["code"] == "format_unknown");
  CHECK(http(port, "GET", plain_self + "/result/markdown").status == 200);
  CHECK(http(port, "GET", plain_self + "/result").json()["result"]["formats"].size() == 1);
  CHECK(http(port, "GET", plain_self + "/result/bundle").status == 200);
  std::filesystem::remove_all(out);
}

TEST_CASE("a bundle over QUIRE_MAX_BUNDLE_BYTES is refused with bundle_too_large; its files are still served") {
  lane l("bundle_limit", {{"QUIRE_MAX_BUNDLE_BYTES", "100"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  auto r = submit(l.svc.port(), two_page_report(), R"({"conversion":{"formats":["json"]}})", {}, "?wait_seconds=20");
  REQUIRE(r.status == 200);
  const std::string self = "/v1/convert/jobs/" + job_id_of(r);
  auto zip = http(l.svc.port(), "GET", self + "/result/bundle");
  CHECK(zip.status == 422);
  CHECK(zip.json()["error"]["code"] == "bundle_too_large");
  CHECK(zip.json()["error"]["details"]["max_bundle_bytes"] == 100);
  CHECK(zip.json()["error"]["details"]["size_bytes"].get<int>() > 100);
  CHECK(http(l.svc.port(), "GET", self + "/result/json").status == 200);
}
