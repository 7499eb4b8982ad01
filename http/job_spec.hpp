// quire::http — the `job_spec` of POST /v1/convert/jobs as the routes handle it: text in, the
// canonical JSON (api/job_spec.hpp's to_json) out, which is what the job row stores and what the
// idempotency fingerprint hashes. The parsing, defaults and checks are api::parse_job_spec's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/job_spec.hpp"

namespace quire::http {

using quire::api::field_problem;
using quire::api::spec_limits;

// `text` empty means "no job_spec given" (all defaults). The problem is api::parse_job_spec's.
quire::expected<nlohmann::json, field_problem> validate_job_spec(const std::string& text, const spec_limits& limits);

}  // namespace quire::http
