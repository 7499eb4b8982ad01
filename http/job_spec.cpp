// See job_spec.hpp.
#include "http/job_spec.hpp"

namespace quire::http {

quire::expected<nlohmann::json, field_problem> validate_job_spec(const std::string& text, const spec_limits& limits) {
  auto spec = quire::api::parse_job_spec(text, limits);
  if (!spec) return std::move(spec).err();
  return quire::api::to_json(*spec);
}

}  // namespace quire::http
