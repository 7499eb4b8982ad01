// Internal to the http module: what the api shares with the handlers of its routes (routes.cpp's
// table points at them; they live in service_routes.cpp, job_routes.cpp and web_routes.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "api/field_problem.hpp"
#include "http/api.hpp"
#include "http/routes.hpp"

namespace quire::http::detail {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// The uploads admitted and not yet answered (QUIRE_MAX_CONCURRENT_UPLOADS), published as the
// quire_http_uploads_in_flight gauge. Taken by api::admit, or by dispatch for a direct call;
// given back once, when the upload is answered or dropped.
class upload_slots {
 public:
  explicit upload_slots(int limit) : limit_(limit) {}
  bool try_take();  // false, and nothing taken, when all are held
  void give_back();
  int in_flight() const { return n_.load(); }
  int limit() const { return limit_; }

 private:
  void publish() const;
  std::atomic<int> n_{0};
  const int limit_;
};

struct api_state {
  actors::service& svc;
  const actors::service_config& cfg;
  const json license;  // /v1/info's license object: the source archive is looked for once, at start
  upload_slots uploads;
};

// One request on its way through the api.
struct exchange {
  explicit exchange(const request& r) : req(r) {}
  const request& req;
  const route* matched = nullptr;  // nullptr: no route (the metrics label is "unmatched")
  path_params params;
  std::string correlation_id;
  std::string api_key_id;          // set by authenticate() when keys are configured
  clock_type::time_point start = clock_type::now();
  bool holds_upload_slot = false;  // given back when answered, unless the answer is deferred
  api::respond_fn* respond = nullptr;  // handle_async: a submit may answer through this later
  bool deferred = false;               // the handler took *respond (and the upload slot) along
};

response json_response(int status, const json& body);
// 422 validation_error naming the field: refused({field, message}).
response validation(const std::string& field, const std::string& message, const std::string& cid);
// A validator's field_problem (the job spec's, docling's options'): its code (422), "<field>:
// <message>", and its details with "field" added. The one place that mapping is made.
response refused(const quire::api::field_problem& p, const std::string& cid);
response from_error(const actors::api_error& e, const std::string& cid);
// The 503 for an upload over QUIRE_MAX_CONCURRENT_UPLOADS.
response uploads_full(const api_state& s, const std::string& cid);
// nullopt when the request may pass (no keys configured, or a valid key: ex.api_key_id set).
std::optional<response> authenticate(const api_state& s, exchange& ex);
// X-Correlation-ID, the request metrics and the access log line, for every answer. An error
// answered on a docling route also carries docling-serve's `detail` (the message), which its
// clients show.
response finish(const request& req, const exchange& ex, response r);
// "Application/PDF; charset=x" → "application/pdf" (also trims and lowercases one list item).
std::string media_type(std::string_view content_type);

// The readiness snapshot as served: a snapshot too old to be trusted fails closed
// (readiness_stalled). service_routes.cpp.
struct readiness_view_t {
  actors::readiness_snapshot snap;
  bool ready = false;
  json reasons = json::array();  // [{code, message}]
};
readiness_view_t readiness_view(actors::readiness_snapshot snap, const actors::service_config& cfg);
json license_info(const actors::service_config& cfg);

// The handlers in routes()' table.
response alive(api_state& s, exchange& ex);
response readiness(api_state& s, exchange& ex);
response metrics(api_state& s, exchange& ex);
response info(api_state& s, exchange& ex);
response source(api_state& s, exchange& ex);
response openapi(api_state& s, exchange& ex);
response web_asset(api_state& s, exchange& ex);
response submit_job(api_state& s, exchange& ex);
response list_jobs(api_state& s, exchange& ex);
response get_job(api_state& s, exchange& ex);
response cancel_job(api_state& s, exchange& ex);
response get_result(api_state& s, exchange& ex);
response get_markdown(api_state& s, exchange& ex);
response get_result_format(api_state& s, exchange& ex);
response get_bundle(api_state& s, exchange& ex);
response get_artifact(api_state& s, exchange& ex);
// docling-serve's v1 API (docling_routes.cpp).
response docling_health(api_state& s, exchange& ex);
response docling_version(api_state& s, exchange& ex);
response docling_convert_file(api_state& s, exchange& ex);
response docling_convert_file_async(api_state& s, exchange& ex);
response docling_convert_source(api_state& s, exchange& ex);
response docling_convert_source_async(api_state& s, exchange& ex);
response docling_poll(api_state& s, exchange& ex);
response docling_result(api_state& s, exchange& ex);

}  // namespace quire::http::detail
