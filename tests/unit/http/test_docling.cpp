// docling-serve option translation and response shaping (http/docling.hpp), without a service.
#include <catch2/catch.hpp>

#include "http/docling.hpp"

using namespace quire::http;
using json = nlohmann::json;

namespace {

docling::translation ok(const docling::option_values& in, const std::vector<std::string>* langs = nullptr) {
  docling::translate_limits lim;
  lim.ocr_languages = langs;
  auto t = docling::translate(in, lim);
  INFO((t ? "" : t.err().field + ": " + t.err().message));
  REQUIRE(t);
  return *t;
}

std::string refused(const docling::option_values& in) {
  auto t = docling::translate(in, {});
  REQUIRE_FALSE(t);
  CHECK_FALSE(t.err().message.empty());
  CHECK(t.err().code == "validation_error");
  return t.err().field;
}

// The error_message texts of a translation's reports.
std::vector<std::string> reports(const docling::translation& t) {
  std::vector<std::string> out;
  for (const auto& e : t.errors) {
    CHECK(e["component_type"] == "user_input");
    CHECK(e["module_name"] == "quire.docling");
    out.push_back(e["error_message"].get<std::string>());
  }
  return out;
}

bool mentions(const std::vector<std::string>& texts, const std::string& word) {
  for (const auto& t : texts)
    if (t.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("docling defaults give quire's default job: Markdown, OCR auto, no images, nothing reported") {
  auto t = ok({});
  CHECK(t.want_markdown);
  CHECK_FALSE(t.want_json);
  CHECK_FALSE(t.want_text);
  CHECK(t.images == docling::image_mode::placeholder);
  CHECK(t.errors.empty());
  CHECK(t.job_spec == json({{"conversion", {{"extract_images", false}, {"ocr", "auto"}}}}));
}

TEST_CASE("Open WebUI's form fields translate, Python's True/False spellings included") {
  // requests sends Python booleans as "True"/"False" and lists as repeated fields.
  auto t = ok({{"image_export_mode", {"placeholder"}},
               {"do_ocr", {"True"}},
               {"force_ocr", {"False"}},
               {"ocr_engine", {"tesseract"}},
               {"ocr_lang", {"en", "de"}},
               {"pdf_backend", {"dlparse_v4"}},
               {"table_mode", {"accurate"}},
               {"pipeline", {"standard"}}},
              nullptr);
  CHECK(t.errors.empty());
  CHECK(t.job_spec["conversion"]["ocr"] == "auto");
  CHECK(t.job_spec["conversion"]["ocr_languages"] == "eng+deu");
  CHECK(t.job_spec["conversion"]["extract_images"] == false);
}

TEST_CASE("OCR switches map onto quire's auto/off/force") {
  CHECK(ok({{"do_ocr", {"false"}}}).job_spec["conversion"]["ocr"] == "off");
  CHECK(ok({{"do_ocr", {"0"}}}).job_spec["conversion"]["ocr"] == "off");
  CHECK(ok({{"force_ocr", {"true"}}}).job_spec["conversion"]["ocr"] == "force");
  auto t = ok({{"force_ocr", {"true"}}, {"do_ocr", {"false"}}});
  CHECK(t.job_spec["conversion"]["ocr"] == "force");
  CHECK(mentions(reports(t), "force_ocr"));
  CHECK(refused({{"do_ocr", {"maybe"}}}) == "do_ocr");
}

TEST_CASE("OCR languages: docling's names become Tesseract's, missing ones are reported and dropped") {
  CHECK(docling::tesseract_language("en") == "eng");
  CHECK(docling::tesseract_language("FR") == "fra");
  CHECK(docling::tesseract_language("zh-CN") == "chi_sim");
  CHECK(docling::tesseract_language("ch_tra") == "chi_tra");
  CHECK(docling::tesseract_language("deu") == "deu");
  CHECK(docling::tesseract_language("chi_sim") == "chi_sim");
  CHECK(docling::tesseract_language("xx").empty());
  CHECK(docling::tesseract_language("english").empty());

  const std::vector<std::string> installed{"eng", "deu", "osd"};
  auto t = ok({{"ocr_lang", {"en,fr", "de", "en"}}}, &installed);
  CHECK(t.job_spec["conversion"]["ocr_languages"] == "eng+deu");
  auto r = reports(t);
  REQUIRE(r.size() == 1);
  CHECK(mentions(r, "'fr'"));
  CHECK(mentions(r, "fra"));

  // None usable: the service's default applies (no ocr_languages in the spec), and it is said.
  t = ok({{"ocr_lang", {"ja"}}}, &installed);
  CHECK_FALSE(t.job_spec["conversion"].contains("ocr_languages"));
  CHECK(reports(t).size() == 1);
}

TEST_CASE("to_formats: md/json/text are produced, other docling formats are reported, unknown ones refused") {
  auto t = ok({{"to_formats", {"md", "text"}}});
  CHECK(t.want_markdown);
  CHECK(t.want_text);
  CHECK_FALSE(t.want_json);
  CHECK(t.errors.empty());
  CHECK(t.job_spec["conversion"]["formats"] == json::array({"text"}));  // stored with the job

  t = ok({{"to_formats", {"json", "html", "doctags"}}});
  CHECK_FALSE(t.want_markdown);
  CHECK(t.want_json);
  CHECK(t.job_spec["conversion"]["formats"] == json::array({"json"}));
  auto r = reports(t);
  CHECK(r.size() == 2);
  CHECK(mentions(r, "'html'"));
  CHECK(mentions(r, "'doctags'"));

  CHECK(refused({{"to_formats", {"pdf"}}}) == "to_formats");
}

TEST_CASE("images: the export mode decides whether quire extracts them; include_images=false wins") {
  CHECK(ok({{"image_export_mode", {"embedded"}}}).images == docling::image_mode::embedded);
  CHECK(ok({{"image_export_mode", {"embedded"}}}).job_spec["conversion"]["extract_images"] == true);
  CHECK(ok({{"image_export_mode", {"referenced"}}}).images == docling::image_mode::referenced);
  auto t = ok({{"image_export_mode", {"embedded"}}, {"include_images", {"false"}}});
  CHECK(t.images == docling::image_mode::placeholder);
  CHECK(t.job_spec["conversion"]["extract_images"] == false);
  CHECK(refused({{"image_export_mode", {"inline"}}}) == "image_export_mode");
}

TEST_CASE("page_range as repeated form fields, a JSON pair or docling's open end") {
  auto t = ok({{"page_range", {"2", "3"}}});
  CHECK(t.job_spec["conversion"]["first_page"] == 2);
  CHECK(t.job_spec["conversion"]["last_page"] == 3);
  t = ok({{"page_range", {"[1, 9223372036854775807]"}}});
  CHECK(t.job_spec["conversion"]["first_page"] == 1);
  CHECK(t.job_spec["conversion"]["last_page"] == 0);  // to the end
  CHECK(refused({{"page_range", {"3", "2"}}}) == "page_range");
  CHECK(refused({{"page_range", {"0", "2"}}}) == "page_range");
  CHECK(refused({{"page_range", {"1"}}}) == "page_range");
  CHECK(refused({{"page_range", {"a", "b"}}}) == "page_range");
}

TEST_CASE("document_timeout is capped at the service's limit, and that is reported") {
  docling::translate_limits lim;
  lim.max_timeout_seconds = 300;
  auto t = docling::translate({{"document_timeout", {"12.5"}}}, lim);
  REQUIRE(t);
  CHECK(t->job_spec["execution"]["document_timeout_seconds"] == 13);
  CHECK(t->errors.empty());
  t = docling::translate({{"document_timeout", {"1000"}}}, lim);
  REQUIRE(t);
  CHECK(t->job_spec["execution"]["document_timeout_seconds"] == 300);
  CHECK(t->errors.size() == 1);
  CHECK(refused({{"document_timeout", {"-1"}}}) == "document_timeout");
}

TEST_CASE("what quire cannot do is accepted and reported, what changes nothing is accepted silently") {
  auto t = ok({{"do_picture_description", {"true"}},
               {"do_formula_enrichment", {"false"}},
               {"pipeline", {"vlm"}},
               {"ocr_engine", {"easyocr"}},
               {"do_table_structure", {"false"}},
               {"md_page_break_placeholder", {"<!-- page -->"}},
               {"vlm_pipeline_model_api", {R"({"url": "http://x"})"}},
               {"picture_description_api", {"null"}},
               {"callbacks", {"https://hook.example/done"}},
               {"frobnicate", {"1"}},
               {"from_formats", {"pdf", "docx"}},
               {"abort_on_error", {"false"}},
               {"images_scale", {"2.0"}}});
  auto r = reports(t);
  CHECK(r.size() == 8);
  for (auto w : {"do_picture_description", "'vlm'", "'easyocr'", "do_table_structure", "md_page_break_placeholder",
                 "vlm_pipeline_model_api", "callbacks", "frobnicate"})
    CHECK(mentions(r, w));
  CHECK_FALSE(mentions(r, "do_formula_enrichment"));  // false: nothing asked
  CHECK_FALSE(mentions(r, "picture_description_api"));  // null: nothing asked
  CHECK_FALSE(mentions(r, "from_formats"));
  CHECK(refused({{"target_type", {"zip"}}}) == "target_type");
  CHECK(ok({{"target_type", {"inbody"}}}).errors.empty());
}

TEST_CASE("a JSON options object flattens to the same values as a form") {
  auto flat = docling::from_json(json::parse(R"({"to_formats": ["md", "text"], "do_ocr": false, "page_range": [2, 4],
      "ocr_lang": "en", "document_timeout": 30, "picture_description_api": null,
      "vlm_pipeline_model_api": {"url": "http://x"}})"));
  REQUIRE(flat);
  auto& v = *flat;
  CHECK(v["to_formats"] == std::vector<std::string>{"md", "text"});
  CHECK(v["do_ocr"] == std::vector<std::string>{"false"});
  CHECK(v["page_range"] == std::vector<std::string>{"2", "4"});
  CHECK(v["document_timeout"] == std::vector<std::string>{"30"});
  CHECK(v["picture_description_api"] == std::vector<std::string>{"null"});
  auto t = ok(v);
  CHECK(t.job_spec["conversion"]["ocr"] == "off");
  CHECK(t.job_spec["conversion"]["first_page"] == 2);
  CHECK(reports(t).size() == 1);  // the VLM API config
  auto not_object = docling::from_json(json::array());
  REQUIRE_FALSE(not_object);
  CHECK(not_object.err().field == "options");
  CHECK(not_object.err().message == "must be an object");
  auto none = docling::from_json(json(nullptr));
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("task status: quire's job states in docling's words") {
  CHECK(docling::task_status_of("queued") == "pending");
  CHECK(docling::task_status_of("running") == "started");
  CHECK(docling::task_status_of("succeeded") == "success");
  CHECK(docling::task_status_of("failed") == "failure");
  CHECK(docling::task_status_of("canceled") == "failure");
  CHECK(docling::task_status_of("expired") == "failure");

  auto s = docling::task_status({{"job_id", "abc"}, {"status", "queued"}, {"error", nullptr}});
  CHECK(s["task_id"] == "abc");
  CHECK(s["task_type"] == "convert");
  CHECK(s["task_status"] == "pending");
  CHECK(s["task_position"].is_null());
  CHECK(s["task_meta"] == json({{"num_docs", 1}, {"num_processed", 0}, {"num_succeeded", 0}, {"num_failed", 0}}));
  CHECK(s["error_message"].is_null());

  s = docling::task_status({{"job_id", "abc"}, {"status", "failed"},
                            {"error", {{"code", "pdf_invalid"}, {"message", "not a PDF"}}}});
  CHECK(s["task_status"] == "failure");
  CHECK(s["error_message"] == "not a PDF");
  CHECK(s["task_meta"]["num_failed"] == 1);
  s = docling::task_status({{"job_id", "abc"}, {"status", "succeeded"}, {"error", nullptr}});
  CHECK(s["task_meta"]["num_succeeded"] == 1);
  CHECK(s["error_message"].is_null());
}

TEST_CASE("convert response: docling's document fields, status, errors and processing time") {
  docling::document_parts d;
  d.filename = "a.pdf";
  d.markdown = "# A\n";
  auto r = docling::convert_response(d, "success", json::array(), 1.5);
  CHECK(r["document"]["filename"] == "a.pdf");
  CHECK(r["document"]["md_content"] == "# A\n");
  for (auto k : {"json_content", "html_content", "text_content", "doctags_content"}) CHECK(r["document"][k].is_null());
  CHECK(r["status"] == "success");
  CHECK(r["errors"] == json::array());
  CHECK(r["processing_time"] == 1.5);
  CHECK(r["timings"] == json::object());
  CHECK(docling::conversion_status_of("succeeded") == "success");
  CHECK(docling::conversion_status_of("canceled") == "failure");

  CHECK(docling::processing_seconds({{"started_at", "2026-12-07T00:00:01.250Z"},
                                     {"finished_at", "2026-12-07T00:01:02.750Z"}}) == Approx(61.5));
  CHECK(docling::processing_seconds({{"started_at", nullptr}, {"finished_at", "2026-12-07T00:01:02.750Z"}}) == 0);
}

TEST_CASE("image links to extracted images are rewritten, others are left alone") {
  const std::string md = "a ![](assets/img-1.png) b ![x](https://e/assets/y.png) c ![](assets/img-2.jpg)\n";
  auto out = docling::rewrite_image_links(md, [](const std::string& name) -> std::optional<std::string> {
    if (name == "img-2.jpg") return std::nullopt;
    return "data:image/png;base64,QUJD";
  });
  CHECK(out == "a ![](data:image/png;base64,QUJD) b ![x](https://e/assets/y.png) c ![](assets/img-2.jpg)\n");
  CHECK(docling::rewrite_image_links("no images", [](const std::string&) { return std::optional<std::string>("z"); }) ==
        "no images");
}

TEST_CASE("base64 as file_sources carry it") {
  CHECK(docling::base64_encode("%PDF-1.4") == "JVBERi0xLjQ=");
  CHECK(docling::base64_decode("JVBERi0xLjQ=") == std::optional<std::string>("%PDF-1.4"));
  CHECK(docling::base64_decode("JVBE\nRi0x\r\nLjQ=") == std::optional<std::string>("%PDF-1.4"));
  CHECK(docling::base64_decode("") == std::optional<std::string>(""));
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  CHECK(docling::base64_decode(docling::base64_encode(all)) == std::optional<std::string>(all));
  CHECK_FALSE(docling::base64_decode("JVBE*Ri0xLjQ="));
  CHECK_FALSE(docling::base64_decode("JVBERi0xLjQ=AAAA"));
}
