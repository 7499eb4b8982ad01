// The v1 API's documents built from the service's typed answers; see detail/documents.hpp.
#include "http/detail/documents.hpp"

#include "api/result_formats.hpp"

namespace quire::http::detail {

using json = nlohmann::json;

json job_page_document(actors::job_page&& page) {
  json jobs = json::array();
  for (auto& j : page.jobs) jobs.push_back(job_document(std::move(j)));
  json body = {{"api_version", "v1"}, {"jobs", std::move(jobs)}};
  body["next_cursor"] = page.next_cursor.empty() ? json(nullptr) : json(page.next_cursor);
  return body;
}

json result_document(const actors::job_result& r) {
  const auto& job = r.job;
  const auto& m = r.manifest;
  return {{"job_id", job.id},
          {"media_type", "text/markdown"},
          {"size_bytes", job.result_bytes.value_or(-1)},
          {"sha256", job.result_sha256.value_or("")},
          // The pages in this result; the document may have more (document_page_count).
          {"page_count", job.pages_total ? json(*job.pages_total) : m.value("page_count", json(nullptr))},
          {"document_page_count", m.value("page_count", json(nullptr))},
          {"warnings", m.value("warnings", json::array())},
          {"formats", r.formats},
          {"assets", m.value("assets", json::array())},
          {"acceleration_used", m.value("acceleration_used", "cpu")},
          {"expires_at", ::quire::api::iso_time_or_null(job.expires_at)}};
}

json info_document(const actors::service_info& i, const actors::service_config& cfg) {
  auto warnings = actors::config_warnings(cfg);
  for (const auto& n : i.device_notes) warnings.push_back("gpu: " + n);
  return {{"api_version", "v1"},
          {"service", "quire"},
          {"revision", i.revision},
          {"expected_revision", cfg.expected_revision},
          {"profile", cfg.profile},
          {"instance", i.instance},
          {"acceleration_policy", cfg.effective_acceleration_policy()},
          {"acceleration_override", cfg.cpu_override()},
          {"warnings", warnings},
          {"gpu", i.gpu_report},
          {"ocr_languages", cfg.ocr_languages},
          {"capabilities",
           {{"cpu_converters", cfg.cpu_converters},
            {"live_converters", i.live_converters},
            {"gpu_converters", i.gpu_converters},
            {"live_gpu_converters", i.live_gpu_converters},
            {"max_upload_bytes", cfg.max_upload_bytes},
            {"max_pages", cfg.max_pages},
            {"max_document_timeout_seconds", cfg.document_timeout.count()},
            {"input_types", {"application/pdf"}},
            {"output_types", {"text/markdown"}},
            // conversion.formats a job may name (api/result_formats.hpp), and the bundle's bound.
            {"result_formats", [] {
               auto names = json::array();
               for (const auto& f : quire::api::result_formats) names.push_back(std::string(f.name));
               return names;
             }()},
            {"max_bundle_bytes", cfg.max_bundle_bytes},
            {"auth", cfg.api_keys.empty() ? "disabled" : "api_key"}}}};
}

}  // namespace quire::http::detail
