// See job_spec.hpp.
#include "http/job_spec.hpp"

namespace quire::http {

std::optional<nlohmann::json> validate_job_spec(const std::string& text, const spec_limits& limits,
                                                spec_problem& problem) {
  auto spec = quire::api::parse_job_spec(text, limits, problem);
  if (!spec) return std::nullopt;
  return quire::api::to_json(*spec);
}

}  // namespace quire::http
