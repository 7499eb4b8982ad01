#include <catch2/catch.hpp>

#include "http/job_spec.hpp"

using namespace quire::http;

TEST_CASE("an empty spec is all defaults") {
  auto s = validate_job_spec("", {});
  REQUIRE(s);
  CHECK((*s)["conversion"]["first_page"] == 1);
  CHECK((*s)["execution"]["document_timeout_seconds"] == 600);
  CHECK((*s)["retention"]["pin"] == false);
  CHECK(*validate_job_spec("{}", {}) == *s);
}

TEST_CASE("the first problem is reported with its field path") {
  auto problem = [](const std::string& text) {
    auto s = validate_job_spec(text, {});
    REQUIRE_FALSE(s);
    return s.err().field;
  };
  CHECK(problem("not json") == "job_spec");
  CHECK(problem("[]") == "$");
  CHECK(problem(R"({"colour":1})") == "colour");
  CHECK(problem(R"({"conversion":{"ocr":"maybe"}})") == "conversion.ocr");
  CHECK(problem(R"({"conversion":{"first_page":0}})") == "conversion.first_page");
  CHECK(problem(R"({"conversion":{"first_page":5,"last_page":2}})") == "conversion.last_page");
  CHECK(problem(R"({"conversion":{"ocr_languages":"eng;rm"}})") == "conversion.ocr_languages");
  CHECK(problem(R"({"execution":{"document_timeout_seconds":601}})") == "execution.document_timeout_seconds");
  CHECK(problem(R"({"execution":{"priority":"high"}})") == "execution.priority");
  CHECK(problem(R"({"execution":{"acceleration_policy":"gpu_fast"}})") == "execution.acceleration_policy");
  CHECK(problem(R"({"retention":{"pin":"yes"}})") == "retention.pin");
  CHECK(problem(R"({"retention":5})") == "retention");
  // An empty key is named too (found by fuzz_job_spec: the problem had no field at all).
  CHECK(problem(R"({"":{"ocr_languages":"eng"}})") == "\"\"");
  CHECK(problem(R"({"":1,"":2})") == "\"\"");
  CHECK(problem(R"({"conversion":{"":1}})") == "conversion.\"\"");
}

// Whether a GPU works is the runtime's business (503 gpu_not_available at submit), not validation's.
TEST_CASE("gpu_required is a valid job spec") {
  spec_limits l;
  auto s = validate_job_spec(R"({"execution":{"acceleration_policy":"gpu_required","priority":3}})", l);
  REQUIRE(s);
  CHECK((*s)["execution"]["priority"] == 3);
}

TEST_CASE("ocr_languages: a language the lane lacks is ocr_language_unavailable, the default is never refused") {
  const std::vector<std::string> installed{"deu", "eng"};
  spec_limits l;
  l.ocr_languages = &installed;
  CHECK(validate_job_spec(R"({"conversion":{"ocr_languages":"eng+deu"}})", l));
  CHECK(validate_job_spec("", l));  // "eng" by default, not asked for by the client
  const std::vector<std::string> none;
  l.ocr_languages = &none;
  CHECK(validate_job_spec("", l));

  l.ocr_languages = &installed;
  auto s = validate_job_spec(R"({"conversion":{"ocr_languages":"eng+xyz+fra+xyz"}})", l);
  REQUIRE_FALSE(s);
  const auto& p = s.err();
  CHECK(p.code == "ocr_language_unavailable");
  CHECK(p.field == "conversion.ocr_languages");
  CHECK(p.details["missing"] == nlohmann::json{"xyz", "fra"});
  CHECK(p.details["installed"] == nlohmann::json{"deu", "eng"});
  CHECK(p.message.find("xyz, fra") != std::string::npos);

  // Malformed lists stay validation errors, checked before availability.
  for (const char* bad : {"eng++deu", "+eng", "eng+", "Eng"}) {
    auto t = validate_job_spec(std::string(R"({"conversion":{"ocr_languages":")") + bad + "\"}}", l);
    REQUIRE_FALSE(t);
    CHECK(t.err().code == "validation_error");
  }
}

// JSON leaves repeated keys undefined and the parser keeps the last one: refused instead.
TEST_CASE("a key repeated within one object is refused with its path") {
  auto problem = [](const std::string& text) {
    auto s = validate_job_spec(text, {});
    REQUIRE_FALSE(s);
    return s.err().field;
  };
  CHECK(problem(R"({"conversion":{"ocr":"off"},"conversion":{"ocr":"force"}})") == "conversion");
  CHECK(problem(R"({"conversion":{"ocr":"off","ocr":"force"}})") == "conversion.ocr");
  CHECK(problem(R"({"retention":{"pin":true},"execution":{"priority":1,"priority":2}})") == "execution.priority");
  // The same name in two different objects is not a repeat.
  auto s = validate_job_spec(R"({"conversion":{"first_page":2},"execution":{"priority":2}})", {});
  REQUIRE(s);
  CHECK((*s)["conversion"]["first_page"] == 2);
}

TEST_CASE("notify.url: validated against the lane's webhook policy, kept only when given") {
  quire::notify::destination_policy policy;
  auto hosts = quire::notify::parse_allowed_hosts("hooks.example.com,127.0.0.1");
  REQUIRE(hosts);
  policy.allowed_hosts = *hosts;
  spec_limits l;
  l.webhooks = &policy;
  auto s = validate_job_spec(R"({"notify":{"url":"https://hooks.example.com/quire"}})", l);
  REQUIRE(s);
  CHECK((*s)["notify"]["url"] == "https://hooks.example.com/quire");
  // Without notify the canonical spec is what it always was (same fingerprint as before webhooks).
  CHECK_FALSE(validate_job_spec("{}", l)->contains("notify"));

  auto refused = [&](const std::string& text, const spec_limits& lim) {
    auto q = validate_job_spec(text, lim);
    REQUIRE_FALSE(q);
    return std::make_pair(q.err().code, q.err().field);
  };
  using pair = std::pair<std::string, std::string>;
  CHECK(refused(R"({"notify":{"url":"https://evil.example.net/"}})", l) == pair{"notify_url_not_allowed", "notify.url"});
  CHECK(refused(R"({"notify":{"url":"http://127.0.0.1/"}})", l) == pair{"notify_url_not_allowed", "notify.url"});
  CHECK(refused(R"({"notify":{"url":"gopher://hooks.example.com/"}})", l) == pair{"validation_error", "notify.url"});
  CHECK(refused(R"({"notify":{"url":42}})", l) == pair{"validation_error", "notify.url"});
  CHECK(refused(R"({"notify":{}})", l) == pair{"validation_error", "notify.url"});
  CHECK(refused(R"({"notify":{"url":"https://hooks.example.com/","secret":"x"}})", l) ==
        pair{"validation_error", "notify.secret"});
  // A service without a webhook policy refuses every notify.url.
  CHECK(refused(R"({"notify":{"url":"https://hooks.example.com/"}})", spec_limits{}) ==
        pair{"notify_url_not_allowed", "notify.url"});
}

TEST_CASE("conversion.formats and the chunk and page-marker options: canonical, kept only when they change something") {
  const auto plain = *validate_job_spec("{}", {});
  CHECK_FALSE(plain["conversion"].contains("formats"));
  CHECK_FALSE(plain["conversion"].contains("chunk_size"));
  CHECK_FALSE(plain["conversion"].contains("page_markers"));
  // Markdown alone (it is always produced) and page_markers off are the defaults: the same spec.
  CHECK(*validate_job_spec(R"({"conversion":{"formats":["markdown"],"page_markers":false}})", {}) == plain);

  // Any order, canonical order out, markdown always first.
  auto s = validate_job_spec(R"({"conversion":{"formats":["text","chunks","json"],"page_markers":true}})", {});
  REQUIRE(s);
  CHECK((*s)["conversion"]["formats"] == nlohmann::json({"markdown", "json", "chunks", "text"}));
  CHECK((*s)["conversion"]["page_markers"] == true);
  // chunks asked: its options are stored with their defaults.
  CHECK((*s)["conversion"]["chunk_size"] == 2000);
  CHECK((*s)["conversion"]["chunk_unit"] == "characters");
  auto t = validate_job_spec(R"({"conversion":{"formats":["chunks"],"chunk_size":300,"chunk_unit":"tokens"}})", {});
  REQUIRE(t);
  CHECK((*t)["conversion"]["formats"] == nlohmann::json({"markdown", "chunks"}));
  CHECK((*t)["conversion"]["chunk_size"] == 300);
  CHECK((*t)["conversion"]["chunk_unit"] == "tokens");
  // Validation is idempotent: the stored spec validates to itself.
  CHECK(*validate_job_spec(t->dump(), {}) == *t);

  auto refused = [](const std::string& text) {
    auto q = validate_job_spec(text, {});
    REQUIRE_FALSE(q);
    return std::make_pair(q.err().code, q.err().field);
  };
  using pair = std::pair<std::string, std::string>;
  CHECK(refused(R"({"conversion":{"formats":"json"}})") == pair{"validation_error", "conversion.formats"});
  CHECK(refused(R"({"conversion":{"formats":[]}})") == pair{"validation_error", "conversion.formats"});
  CHECK(refused(R"({"conversion":{"formats":["json","html"]}})") == pair{"validation_error", "conversion.formats[1]"});
  CHECK(refused(R"({"conversion":{"formats":[1]}})") == pair{"validation_error", "conversion.formats[0]"});
  CHECK(refused(R"({"conversion":{"formats":["json","json"]}})") == pair{"validation_error", "conversion.formats[1]"});
  CHECK(refused(R"({"conversion":{"page_markers":"yes"}})") == pair{"validation_error", "conversion.page_markers"});
  CHECK(refused(R"({"conversion":{"formats":["chunks"],"chunk_size":0}})") == pair{"validation_error", "conversion.chunk_size"});
  CHECK(refused(R"({"conversion":{"formats":["chunks"],"chunk_unit":"words"}})") == pair{"validation_error", "conversion.chunk_unit"});
  // Chunk options without chunks would be silently ignored: refused instead.
  CHECK(refused(R"({"conversion":{"chunk_size":100}})") == pair{"validation_error", "conversion.chunk_size"});
  CHECK(refused(R"({"conversion":{"formats":["json"],"chunk_unit":"tokens"}})") == pair{"validation_error", "conversion.chunk_unit"});
  auto q = validate_job_spec(R"({"conversion":{"formats":["pdf"]}})", {});
  REQUIRE_FALSE(q);
  CHECK(q.err().details["allowed"] == nlohmann::json({"markdown", "json", "chunks", "text"}));
}
