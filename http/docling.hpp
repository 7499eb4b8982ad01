// quire::http::docling — translation between docling-serve's v1 API and quire's jobs.
//
// docling-serve's clients (Open WebUI's Docling loader, docling's DoclingServiceClient, RAG
// frameworks) send conversion options as form fields or as a JSON `options` object, and read
// `document.md_content`, `status`, `errors`, `task_status`… back. This file is the pure part of
// that: options → a quire job spec plus what the answer must contain, and a quire job record →
// docling's response shapes. No service calls, no sockets (docling_routes.cpp does those), so every
// rule here is unit-tested (tests/unit/http/test_docling.cpp). The contract is in docs/api.md.
//
// Options quire cannot honour (an HTML rendering, a VLM pipeline, picture descriptions…) are
// accepted and named in the answer's `errors` (docling's ErrorItem, component_type "user_input"),
// never silently dropped; malformed values are refused (422) as docling-serve refuses them.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_problem.hpp"
#include "base/expected.hpp"

namespace quire::http::docling {

using json = nlohmann::json;
using field_problem = quire::api::field_problem;  // why an option is refused (422)

// Options as they arrive, by name: a repeated form field (`-F to_formats=md -F to_formats=text`)
// or a JSON list gives several values; a JSON boolean or number its text ("true", "3").
using option_values = std::map<std::string, std::vector<std::string>>;

// A JSON `options` object flattened to option_values (null: none). Nested objects (a custom VLM
// config…) are kept as their JSON text. A problem with the field "options" when it is not an object.
quire::expected<option_values, field_problem> from_json(const json& options);

enum class image_mode { placeholder, embedded, referenced };

// What a request asks for, in quire's terms.
struct translation {
  // {"conversion": {...}, "execution": {...}}: handed to validate_job_spec (job_spec.hpp) like a
  // native job spec, so limits and OCR languages are checked in one place.
  json job_spec = json::object();
  bool want_markdown = true, want_json = false, want_text = false;
  image_mode images = image_mode::placeholder;
  // docling ErrorItems for the options accepted but not honoured, in the order they were found.
  json errors = json::array();
};

struct translate_limits {
  const std::vector<std::string>* ocr_languages = nullptr;  // installed Tesseract models; nullptr: unchecked
  int max_timeout_seconds = 600;                            // QUIRE_DOCUMENT_TIMEOUT_SECONDS
};

// The options of one request. When a value is malformed, a problem naming the option and why
// (422 validation_error).
quire::expected<translation, field_problem> translate(const option_values& in, const translate_limits& limits);

// A docling OCR language name as Tesseract's: ISO 639-1 ("en", EasyOCR's and RapidOCR's style)
// and the few region forms clients send ("zh-cn", "ch_sim") map to Tesseract models ("eng",
// "chi_sim"); a name that already is a Tesseract model name passes unchanged. "" when unknown.
std::string tesseract_language(std::string_view docling_name);

// One docling ErrorItem.
json error_item(const std::string& message, const std::string& component_type = "user_input",
                const std::string& module_name = "quire.docling");

// docling's task status for a quire job status: queued → pending, running → started,
// succeeded → success, anything else (failed, canceled, expired) → failure.
std::string task_status_of(const std::string& job_status);

// docling's TaskStatusResponse for a job record (docs/api.md's job document).
json task_status(const json& job);

// Seconds from the job's started_at to its finished_at (ISO 8601 UTC, as job records carry
// them); 0 when either is missing or unreadable.
double processing_seconds(const json& job);

// What a finished job's answer carries.
struct document_parts {
  std::string filename;
  std::optional<std::string> markdown, text;
  std::optional<json> json_content;
};

// docling's ConvertDocumentResponse: {document: {filename, md_content, json_content, html_content,
// text_content, doctags_content}, status, errors, processing_time, timings}. `status` is docling's
// conversion status (success, partial_success, failure, skipped).
json convert_response(const document_parts& doc, const std::string& status, const json& errors,
                      double processing_time);

// The conversion status of a finished job: success for succeeded, failure otherwise.
std::string conversion_status_of(const std::string& job_status);

// The Markdown with each image link to an extracted image, `](assets/NAME)`, pointed elsewhere:
// `target(NAME)` gives the new link, or nullopt to leave that one as it is.
std::string rewrite_image_links(const std::string& markdown,
                                const std::function<std::optional<std::string>(const std::string&)>& target);

// Standard base64 (RFC 4648), as docling's file_sources carry documents. Whitespace is skipped;
// nullopt when anything else is not base64 or the padding is wrong.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace quire::http::docling
