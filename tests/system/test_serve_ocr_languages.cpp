// OCR languages through the service: /v1/info lists what is installed, and a job naming a language
// that is not is refused at submit (422 ocr_language_unavailable) with nothing stored.
#include <catch2/catch.hpp>

#include <algorithm>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;

TEST_CASE("ocr languages: listed in /v1/info, a missing one refused at submit, an installed one accepted") {
  lane l("ocrlang");
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const auto info = http(l.svc.port(), "GET", "/v1/info").json();
  REQUIRE(info["ocr_languages"].is_array());
  const auto langs = info["ocr_languages"].get<std::vector<std::string>>();
  INFO(info["ocr_languages"].dump());
  // tesseract-ocr-eng and -deu are installed for the tests (scripts/lib/common.sh); osd is no language.
  CHECK(std::find(langs.begin(), langs.end(), "eng") != langs.end());
  CHECK(std::find(langs.begin(), langs.end(), "deu") != langs.end());
  CHECK(std::find(langs.begin(), langs.end(), "osd") == langs.end());
  CHECK(std::is_sorted(langs.begin(), langs.end()));

  const auto files_before = data_files(l.root);
  auto r = submit(l.svc.port(), sample_pdf(), R"({"conversion":{"ocr":"force","ocr_languages":"eng+xyz"}})");
  CHECK(r.status == 422);
  const auto err = r.json()["error"];
  CHECK(err["code"] == "ocr_language_unavailable");
  CHECK(err["retryable"] == false);
  CHECK(err["details"]["field"] == "conversion.ocr_languages");
  CHECK(err["details"]["missing"] == nlohmann::json{"xyz"});
  CHECK(err["details"]["installed"] == info["ocr_languages"]);
  CHECK(psql(l.db, "SELECT count(*) FROM jobs") == "0");
  CHECK(data_files(l.root) == files_before);

  // A language that is installed: accepted and converted.
  r = submit(l.svc.port(), sample_pdf(), R"({"conversion":{"ocr_languages":"eng+deu"}})", {}, "?wait_seconds=20");
  CHECK(r.status == 200);
  CHECK(r.json()["job"]["status"] == "succeeded");
  CHECK(psql(l.db, "SELECT count(*) FROM jobs") == "1");
}
