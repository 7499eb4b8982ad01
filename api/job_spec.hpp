// quire::api — the job spec: what a client asks of one conversion, typed, in one place.
//
// One spec takes three forms and this module converts between them:
//   the API's JSON      `job_spec` of POST /v1/convert/jobs (docs/api.md), strict: unknown fields,
//                       wrong types, ranges, languages this lane lacks and webhook destinations it
//                       does not allow are refused with the field's JSON path (parse_job_spec);
//   the canonical JSON  every field present with its default (to_json): what a job row stores,
//                       what the idempotency fingerprint hashes and what the worker receives;
//                       read back by read_stored_spec, which also reads the rows of earlier releases;
//   convert::options    what the engine runs (to_convert_options), with the lane's work budget.
// `quire convert` fills the same struct from its flags, and the docling routes translate their
// options into an API spec, so every default below is written here and nowhere else.
//
// Below actors, http and storage: it knows nlohmann-json, the engine's option types (headers only)
// and notify's URL rules.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_problem.hpp"
#include "base/expected.hpp"
#include "convert/acceleration.hpp"
#include "convert/convert.hpp"
#include "convert/document.hpp"
#include "notify/destination.hpp"

namespace quire::api {

// QUIRE_DOCUMENT_TIMEOUT_SECONDS' default: a spec's default timeout and its ceiling.
inline constexpr int default_document_timeout_seconds = 600;

struct job_spec {
  struct conversion_options {
    int first_page = 1;  // 1-based, inclusive
    int last_page = 0;   // 0 = the end of the document
    bool extract_images = false;
    convert::ocr_mode ocr = convert::ocr_mode::automatic;
    std::string ocr_languages = "eng";  // Tesseract models joined by '+'
    // Result formats (api/result_formats.hpp) in the table's order, "markdown" always first.
    std::vector<std::string> formats{"markdown"};
    bool page_markers = false;
    convert::chunk_options chunks;  // only meaningful with "chunks" in formats
    bool operator==(const conversion_options&) const;
  } conversion;
  struct execution_options {
    // The lane's QUIRE_ACCELERATION_POLICY when the client names none (spec_limits::default_policy).
    convert::acceleration_policy acceleration = convert::acceleration_policy::cpu_only;
    int document_timeout_seconds = default_document_timeout_seconds;
    int priority = 0;  // -100 … 100
    bool operator==(const execution_options&) const = default;
  } execution;
  bool pin = false;                        // retention.pin
  std::optional<std::string> notify_url;   // notify.url

  bool wants(std::string_view format) const;  // format is among conversion.formats
  bool operator==(const job_spec&) const = default;
};

// The lane's settings a spec is parsed under.
struct spec_limits {
  int max_timeout_seconds = default_document_timeout_seconds;  // the default timeout and its ceiling
  convert::acceleration_policy default_policy = convert::acceleration_policy::cpu_only;
  // The OCR languages this lane can use (service_config::ocr_languages). A spec that names
  // conversion.ocr_languages with one outside this list is refused (ocr_language_unavailable);
  // the default ("eng", not named by the client) is never refused. nullptr: not checked.
  const std::vector<std::string>* ocr_languages = nullptr;
  // Where notify.url may point (service_config::webhook_destinations). nullptr: notify is refused.
  const notify::destination_policy* webhooks = nullptr;
};

// The API's job_spec text; empty means "no job_spec given" (all defaults). The first problem is
// reported with its JSON path (e.g. "execution.document_timeout_seconds"); a key repeated within
// one object is refused. The problem's code is validation_error, or ocr_language_unavailable and
// notify_url_not_allowed for what this lane does not offer.
quire::expected<job_spec, field_problem> parse_job_spec(std::string_view text, const spec_limits& limits);

// The canonical JSON. Optional parts appear only when they change something (formats besides
// Markdown, chunk options with chunks, page_markers when true, notify when set), so a spec
// without them keeps the form and the idempotency fingerprint it always had.
nlohmann::json to_json(const job_spec& spec);

// A stored spec (a job row's, or the worker's copy): the canonical JSON of this or an earlier
// release. Missing fields take their defaults (the lane's policy and timeout from `service`); the
// lane's own admission checks (installed languages, webhook destinations, the timeout ceiling) are
// not made again: the spec passed them when it was submitted. The problem says why it is not a
// spec at all.
quire::expected<job_spec, field_problem> read_stored_spec(const nlohmann::json& stored, const spec_limits& service);

// The API's names of the OCR modes: "auto", "off", "force".
std::string_view to_string(convert::ocr_mode mode);
bool parse_ocr_mode(std::string_view text, convert::ocr_mode* out);
// "characters", "tokens".
std::string_view to_string(convert::chunk_unit unit);
bool parse_chunk_unit(std::string_view text, convert::chunk_unit* out);

// What the lane adds to a spec to convert it: its work budgets (service_config's QUIRE_MAX_PAGES,
// QUIRE_PAGE_*, QUIRE_DOCUMENT_CONTENT_BYTES; `quire convert`'s flags).
struct work_budget {
  int max_pages = 0;  // 0 = unlimited
  convert::options::work_limits limits = convert::options::work_limits::recommended();
  double timeout_seconds = 0;  // in the engine; the service's worker is stopped from outside instead
  bool operator==(const work_budget&) const;
};
nlohmann::json to_json(const work_budget& budget);
work_budget read_work_budget(const nlohmann::json& stored);

// The engine's options for one conversion of `spec` (progress and analyzer are the caller's).
// `asset_prefix`: how the Markdown links the extracted images ("assets/" in the service).
convert::options to_convert_options(const job_spec& spec, const work_budget& budget, std::string asset_prefix);

}  // namespace quire::api
