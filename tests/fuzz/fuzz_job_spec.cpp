// libFuzzer entry point over the job_spec validator of POST /v1/convert/jobs (http/job_spec.hpp).
// Built as `fuzz_job_spec` (clang, -fsanitize=fuzzer) and, with replay_main.cpp, as
// `fuzz_job_spec_replay`, which ctest runs over seeds/job_spec/ (tests/fuzz/CMakeLists.txt).
//
// Input: the job_spec text (at most the 64 KiB the api lets through). Besides "no crash, no
// sanitizer report", each input checks the contract: a refusal names a field and a message with
// one of the three documented codes; an accepted spec is canonical, i.e. validating it again gives
// it back unchanged (the same request always fingerprints the same).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/job_spec.hpp"

namespace {

[[noreturn]] void contract_broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_job_spec: contract broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // the api refuses a larger spec before parsing it
  static const std::vector<std::string> installed{"eng", "deu", "chi_sim"};
  quire::http::spec_limits limits;
  limits.max_timeout_seconds = 600;
  limits.ocr_languages = &installed;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto spec = quire::http::validate_job_spec(text, limits);
  if (!spec) {
    const auto& problem = spec.err();
    if (problem.field.empty() || problem.message.empty()) contract_broken("a refusal without field or message", text);
    if (problem.code != "validation_error" && problem.code != "ocr_language_unavailable" &&
        problem.code != "notify_url_not_allowed")  // any notify.url: these limits allow no webhooks
      contract_broken("undocumented code", problem.code);
    if (!problem.details.is_object()) contract_broken("details not an object", problem.details.dump());
    return 0;
  }
  const auto canonical = spec->dump();
  const auto again = quire::http::validate_job_spec(canonical, limits);
  if (!again) contract_broken("the canonical spec is refused", canonical + ": " + again.err().message);
  if (*again != *spec) contract_broken("the canonical spec is not a fixed point", canonical + " -> " + again->dump());
  return 0;
}
