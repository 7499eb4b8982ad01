// The v1 job document; see job_document.hpp.
#include "api/job_document.hpp"


// Header-only (the format table and formats_of, nlohmann-json only): the links name the formats.
#include "api/result_formats.hpp"
#include "log/log.hpp"

namespace quire::api {
namespace {

using json = nlohmann::json;

// `spec` is the record's job spec, copied or moved by the caller (read it, not j.spec, which a
// moving caller has emptied).
json document(const storage::job_record& j, json spec) {
  const std::string self = "/v1/convert/jobs/" + j.id;
  json error = nullptr;
  if (j.error) error = {{"code", j.error->code}, {"message", j.error->message}, {"retryable", j.error->retryable}};
  json links = {{"self", self}, {"cancel", self + "/cancel"}};
  if (j.status == storage::job_status::succeeded) {
    links["result"] = self + "/result";
    // One link per format the job asked for ("markdown", "json", "chunks", "text"), and the bundle.
    for (const auto& f : formats_of(spec)) links[f] = self + "/result/" + f;
    links["bundle"] = self + "/result/bundle";
  }
  json doc = {{"job_id", j.id},
              {"status", std::string(storage::to_string(j.status))},
              {"progress", {{"pages_done", j.pages_done}, {"pages_total", j.pages_total ? json(*j.pages_total) : json(nullptr)}}},
              {"attempts", j.attempt},
              {"max_attempts", j.max_attempts},
              {"priority", j.priority},
              {"job_spec", std::move(spec)},
              {"source_filename", j.source_filename},
              {"input_bytes", j.input_bytes},
              {"error", error},
              {"created_at", log::iso_time(j.created_at)},
              {"started_at", iso_time_or_null(j.started_at)},
              {"finished_at", iso_time_or_null(j.finished_at)},
              {"expires_at", iso_time_or_null(j.expires_at)},
              {"pinned", j.pinned},
              {"links", links}};
  // The delivery state of notify.url's events, where the record has it (GET of one job).
  if (!j.webhooks.is_null()) doc["webhooks"] = j.webhooks;
  return doc;
}

}  // namespace

json iso_time_or_null(const std::optional<storage::time_point>& t) {
  return t ? json(log::iso_time(*t)) : json(nullptr);
}

json job_document(const storage::job_record& j) { return document(j, j.spec); }
json job_document(storage::job_record&& j) { return document(j, std::move(j.spec)); }

}  // namespace quire::api
