// quire::api::field_problem — why a request's field is refused: the error of the validators that
// read client input field by field (the job spec, api/job_spec.hpp; docling-serve's options,
// http/docling.hpp). They answer quire::expected<T, field_problem>, and the HTTP layer maps it once
// to the 422 error envelope (http::detail::refused): `code`, "<field>: <message>", and the
// details with "field" added.
//
// Not a quire::error: the field's path and the extra JSON details are the envelope's, and `code`
// is already the API's wire code (as actors::api_error's is), not a module's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace quire::api {

struct field_problem {
  std::string field;    // the offending field: a JSON path ("execution.priority") or a form field's name
  std::string message;  // why, for a person: "must be between -100 and 100"
  std::string code = "validation_error";              // the API error code (all of them are 422)
  nlohmann::json details = nlohmann::json::object();  // extra details beside "field"
};

}  // namespace quire::api
