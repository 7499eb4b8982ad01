// quire::http — strict validation of the `job_spec` JSON of POST /v1/convert/jobs.
//
// Unknown fields are rejected, types and ranges checked, and the first problem is reported with
// its JSON path (e.g. "execution.document_timeout_seconds"). A valid spec comes back canonical:
// every field present with its default, so the same request always fingerprints the same.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "notify/destination.hpp"

namespace quire::http {

struct spec_limits {
  int max_timeout_seconds = 600;      // QUIRE_DOCUMENT_TIMEOUT_SECONDS
  std::string default_policy = "cpu_only";
  // The OCR languages this lane can use (service_config::ocr_languages). A spec that names
  // conversion.ocr_languages with one outside this list is refused (ocr_language_unavailable);
  // the default ("eng", not named by the client) is never refused. nullptr: not checked.
  const std::vector<std::string>* ocr_languages = nullptr;
  // Where notify.url may point (service_config::webhook_destinations). nullptr: notify is refused.
  const notify::destination_policy* webhooks = nullptr;
};

struct spec_problem {
  std::string field;    // JSON path of the offending field
  std::string message;
  std::string code = "validation_error";       // the API error code (both are 422)
  nlohmann::json details = nlohmann::json::object();  // extra details beside "field"
};

// `text` empty means "no job_spec given" (all defaults).
std::optional<nlohmann::json> validate_job_spec(const std::string& text, const spec_limits& limits,
                                                spec_problem& problem);

}  // namespace quire::http
