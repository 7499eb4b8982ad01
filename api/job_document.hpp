// quire::api — the v1 API's job document (docs/api.md, `Job`), rendered from a storage::job_record.
//
// Why a module of its own: the same document is the body of GET /v1/convert/jobs/{id} (http/) and
// of a job's webhooks (notify::delivery_loop, started by actors/webhooks.cpp). http/ depends on
// actors/, never the reverse, so the one renderer both use sits below both: it knows the job
// record (storage/job_record.hpp, no PostgreSQL) and nlohmann-json, plus the header-only format
// table api/result_formats.hpp for the per-format links. The API's other
// documents (job pages, result metadata, /v1/info) are only ever HTTP bodies and are built in http/.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "storage/job_record.hpp"

namespace quire::api {

// log::iso_time of the time (RFC 3339 UTC with milliseconds), or null when unset.
nlohmann::json iso_time_or_null(const std::optional<storage::time_point>& t);

// The job document: job_id, status, progress, attempts, job_spec, error, times, links, and the
// webhook delivery state where the record carries it.
nlohmann::json job_document(const storage::job_record& j);
nlohmann::json job_document(storage::job_record&& j);  // moves the spec tree instead of copying it

}  // namespace quire::api
