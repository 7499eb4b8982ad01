// The typed job spec (api/job_spec.hpp): defaults, the API parser's answers, the canonical JSON,
// stored specs of earlier releases, and the engine options made from it.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "api/job_spec.hpp"

using namespace quire;
using api::job_spec;
using api::spec_limits;
using json = nlohmann::json;

namespace {

// The lane the "before" answers were recorded under: tests/unit/api/job_spec_before.json holds,
// for each input, what the release before the typed spec (http::validate_job_spec, the JSON
// validator) answered: the canonical JSON it stored, or the field, code, message and details of
// its refusal. Recorded with languages {deu, eng} and webhooks to hooks.example.com.
struct recorded_lane {
  std::vector<std::string> installed{"deu", "eng"};
  notify::destination_policy webhooks;
  recorded_lane() {
    auto hosts = notify::parse_allowed_hosts("hooks.example.com");
    REQUIRE(hosts);
    webhooks.allowed_hosts = *hosts;
  }
  spec_limits limits() const {
    spec_limits l;
    l.ocr_languages = &installed;
    l.webhooks = &webhooks;
    return l;
  }
};

json recorded_answers() {
  std::ifstream f(std::string(QUIRE_SOURCE_DIR) + "/tests/unit/api/job_spec_before.json");
  REQUIRE(f);
  return json::parse(f);
}

job_spec parsed(const std::string& text, const spec_limits& l = {}) {
  auto s = api::parse_job_spec(text, l);
  INFO(text << " -> " << (s ? "" : s.err().field + ": " + s.err().message));
  REQUIRE(s);
  return *s;
}

}  // namespace

TEST_CASE("defaults are the struct's: an empty or absent spec is job_spec{} under the lane's policy and timeout") {
  CHECK(parsed("") == job_spec{});
  CHECK(parsed("{}") == job_spec{});
  const job_spec d;
  CHECK(d.conversion.first_page == 1);
  CHECK(d.conversion.last_page == 0);
  CHECK_FALSE(d.conversion.extract_images);
  CHECK(d.conversion.ocr == convert::ocr_mode::automatic);
  CHECK(d.conversion.ocr_languages == "eng");
  CHECK(d.conversion.formats == std::vector<std::string>{"markdown"});
  CHECK_FALSE(d.conversion.page_markers);
  CHECK(d.conversion.chunks.limit == 2000);
  CHECK(d.conversion.chunks.unit == convert::chunk_unit::characters);
  CHECK(d.execution.acceleration == convert::acceleration_policy::cpu_only);
  CHECK(d.execution.document_timeout_seconds == 600);
  CHECK(d.execution.priority == 0);
  CHECK_FALSE(d.pin);
  CHECK_FALSE(d.notify_url);

  spec_limits lane;
  lane.default_policy = convert::acceleration_policy::gpu_required;
  lane.max_timeout_seconds = 90;
  const auto s = parsed("", lane);
  CHECK(s.execution.acceleration == convert::acceleration_policy::gpu_required);
  CHECK(s.execution.document_timeout_seconds == 90);
  // A named policy wins over the lane's.
  CHECK(parsed(R"({"execution":{"acceleration_policy":"cpu_only"}})", lane).execution.acceleration ==
        convert::acceleration_policy::cpu_only);
}

TEST_CASE("every answer of the previous validator is kept: the same canonical JSON, the same refusals") {
  const recorded_lane lane;
  const auto answers = recorded_answers();
  REQUIRE(answers.size() > 40);
  int accepted = 0, refused = 0;
  for (const auto& a : answers) {
    const auto text = a["in"].get<std::string>();
    INFO("job_spec: " << text);
    const auto s = api::parse_job_spec(text, lane.limits());
    if (a.contains("canonical")) {
      ++accepted;
      REQUIRE(s);
      CHECK(api::to_json(*s).dump() == a["canonical"].get<std::string>());
    } else {
      ++refused;
      REQUIRE_FALSE(s);
      const auto& p = s.err();
      CHECK(p.field == a["field"]);
      CHECK(p.code == a["code"]);
      CHECK(p.message == a["message"]);
      CHECK(p.details == a["details"]);
    }
  }
  CHECK(accepted >= 5);
  CHECK(refused >= 40);
}

TEST_CASE("round trip: parse, serialize, read back and parse again give the same spec and the same JSON") {
  const recorded_lane lane;
  for (const auto& a : recorded_answers()) {
    if (!a.contains("canonical")) continue;
    const auto text = a["in"].get<std::string>();
    INFO("job_spec: " << text);
    const auto s = parsed(text, lane.limits());
    const auto canonical = api::to_json(s);
    const auto stored = api::read_stored_spec(canonical, {});
    REQUIRE(stored);
    CHECK(*stored == s);
    CHECK(api::to_json(*stored) == canonical);
    // The canonical form is itself a valid API spec that parses to the same.
    CHECK(parsed(canonical.dump(), lane.limits()) == s);
  }
}

TEST_CASE("job rows as earlier releases stored them are read, and convert with the options they always did") {
  // Written by the release before the typed spec (every release since the first stored these
  // keys; formats, chunk_* and page_markers only when asked for, notify only when given).
  const auto plain = json::parse(
      R"({"conversion":{"extract_images":false,"first_page":1,"last_page":0,"ocr":"auto","ocr_languages":"eng"},)"
      R"("execution":{"acceleration_policy":"cpu_only","document_timeout_seconds":600,"priority":0},"retention":{"pin":false}})");
  const auto rich = json::parse(
      R"({"conversion":{"chunk_size":300,"chunk_unit":"tokens","extract_images":true,"first_page":2,)"
      R"("formats":["markdown","json","chunks","text"],"last_page":9,"ocr":"force","ocr_languages":"deu+eng","page_markers":true},)"
      R"("execution":{"acceleration_policy":"gpu_prefer","document_timeout_seconds":30,"priority":-7},)"
      R"("notify":{"url":"https://hooks.example.com/quire"},"retention":{"pin":true}})");
  auto a = api::read_stored_spec(plain, {});
  REQUIRE(a);
  CHECK(*a == job_spec{});
  CHECK(api::to_json(*a) == plain);
  auto b = api::read_stored_spec(rich, {});
  REQUIRE(b);
  CHECK(api::to_json(*b) == rich);
  CHECK(b->conversion.formats == std::vector<std::string>{"markdown", "json", "chunks", "text"});
  CHECK(b->conversion.chunks.limit == 300);
  CHECK(b->conversion.chunks.unit == convert::chunk_unit::tokens);
  CHECK(b->notify_url == "https://hooks.example.com/quire");

  // What the previous worker made of these rows (app/cmd_worker.cpp read the flattened options the
  // converter built from the row, with the lane's budgets): the same engine options.
  api::work_budget lane;
  lane.max_pages = 2000;
  lane.limits = {60, 128ull << 20, 2048ull << 20, 2000000};
  const auto o = api::to_convert_options(*b, lane, "assets/");
  CHECK(o.first_page == 2);
  CHECK(o.last_page == 9);
  CHECK(o.max_pages == 2000);
  CHECK(o.extract_images);
  CHECK(o.asset_prefix == "assets/");
  CHECK(o.ocr == convert::ocr_mode::force);
  CHECK(o.ocr_languages == "deu+eng");
  CHECK(o.page_markers);
  CHECK(o.acceleration == convert::acceleration_policy::gpu_prefer);
  CHECK(o.limits.page_seconds == 60);
  CHECK(o.limits.page_content_bytes == 128ull << 20);
  CHECK(o.limits.document_content_bytes == 2048ull << 20);
  CHECK(o.limits.page_operators == 2000000);
  CHECK(o.timeout_seconds == 0);

  // A stored spec passed the lane's admission when it was submitted: a language uninstalled since,
  // a webhook destination no longer allowed or a lowered timeout ceiling do not make it unreadable.
  spec_limits strict;
  const std::vector<std::string> none;
  strict.ocr_languages = &none;
  strict.max_timeout_seconds = 10;
  CHECK(api::read_stored_spec(rich, strict));
  CHECK_FALSE(api::parse_job_spec(rich.dump(), strict));

  // Missing execution fields take the lane's defaults, as the converter's routing always did.
  spec_limits lane_defaults;
  lane_defaults.default_policy = convert::acceleration_policy::gpu_required;
  lane_defaults.max_timeout_seconds = 120;
  auto c = api::read_stored_spec(json::parse(R"({"conversion":{"ocr":"off"}})"), lane_defaults);
  REQUIRE(c);
  CHECK(c->conversion.ocr == convert::ocr_mode::off);
  CHECK(c->execution.acceleration == convert::acceleration_policy::gpu_required);
  CHECK(c->execution.document_timeout_seconds == 120);

  // Not a spec at all: refused with the field, never guessed at.
  auto d = api::read_stored_spec(json::parse(R"({"execution":{"acceleration_policy":"gpu_fast"}})"), {});
  REQUIRE_FALSE(d);
  CHECK(d.err().field == "execution.acceleration_policy");
  CHECK_FALSE(api::read_stored_spec(json::array(), {}));
}

TEST_CASE("the work budget travels to the worker unchanged") {
  api::work_budget b;
  b.max_pages = 7;
  b.limits = {1.5, 11, 22, 33};
  b.timeout_seconds = 4;
  CHECK(api::read_work_budget(api::to_json(b)) == b);
  // Nothing given: no limits at all (the engine's own default), not the recommended ones.
  const auto none = api::read_work_budget(json::object());
  CHECK(none.max_pages == 0);
  CHECK(none.limits.page_seconds == 0);
  CHECK(none.limits.page_operators == 0);
}

TEST_CASE("the enums' names: one spelling each, parsed back") {
  for (auto a : convert::acceleration_policies) {
    const auto back = convert::parse_acceleration_policy(convert::to_string(a));
    REQUIRE(back);
    CHECK(*back == a);
  }
  CHECK_FALSE(convert::parse_acceleration_policy("auto"));
  for (auto m : {convert::ocr_mode::automatic, convert::ocr_mode::off, convert::ocr_mode::force}) {
    auto back = convert::ocr_mode::off;
    CHECK(api::parse_ocr_mode(api::to_string(m), &back));
    CHECK(back == m);
  }
  CHECK(api::to_string(convert::ocr_mode::automatic) == "auto");
  auto m = convert::ocr_mode::off;
  CHECK_FALSE(api::parse_ocr_mode("automatic", &m));
  auto u = convert::chunk_unit::characters;
  CHECK(api::parse_chunk_unit("tokens", &u));
  CHECK(u == convert::chunk_unit::tokens);
  CHECK_FALSE(api::parse_chunk_unit("words", &u));
}
