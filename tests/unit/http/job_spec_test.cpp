#include <catch2/catch.hpp>

#include "http/job_spec.hpp"

using namespace quire::http;

TEST_CASE("an empty spec is all defaults") {
  spec_problem p;
  auto s = validate_job_spec("", {}, p);
  REQUIRE(s);
  CHECK((*s)["conversion"]["first_page"] == 1);
  CHECK((*s)["execution"]["document_timeout_seconds"] == 600);
  CHECK((*s)["retention"]["pin"] == false);
  CHECK(*validate_job_spec("{}", {}, p) == *s);
}

TEST_CASE("the first problem is reported with its field path") {
  auto problem = [](const std::string& text) {
    spec_problem p;
    CHECK_FALSE(validate_job_spec(text, {}, p));
    return p.field;
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
}

// Whether a GPU works is the runtime's business (503 gpu_not_available at submit), not validation's.
TEST_CASE("gpu_required is a valid job spec") {
  spec_limits l;
  spec_problem p;
  auto s = validate_job_spec(R"({"execution":{"acceleration_policy":"gpu_required","priority":3}})", l, p);
  REQUIRE(s);
  CHECK((*s)["execution"]["priority"] == 3);
}
