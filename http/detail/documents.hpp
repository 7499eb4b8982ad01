// Internal to the http module: the v1 API's JSON documents, rendered from the typed values the
// service answers (actors/service.hpp). The job document itself is api::job_document
// (api/job_document.hpp), shared with the webhook bodies; these are only ever HTTP bodies.
#pragma once

#include <nlohmann/json.hpp>

#include "actors/service.hpp"
#include "api/job_document.hpp"

namespace quire::http::detail {

// The job document (api/job_document.hpp); named here because `api` means http::api in this module.
using ::quire::api::job_document;

// GET /v1/convert/jobs: {"api_version", "jobs": [job documents], "next_cursor": string | null}.
nlohmann::json job_page_document(actors::job_page&& page);
// The result's metadata (GET …/result, without markdown_content): sizes, sha256, page counts,
// warnings, assets and acceleration from the row and the manifest.
nlohmann::json result_document(const actors::job_result& r);
// GET /v1/info, without its license object (the api adds that).
nlohmann::json info_document(const actors::service_info& i, const actors::service_config& cfg);

}  // namespace quire::http::detail
