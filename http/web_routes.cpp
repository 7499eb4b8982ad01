// The web page's routes (GET /, /docs, /ui/{asset}): static files embedded in the binary
// (web/assets.hpp), open like /livez — no API key, no readiness gate: the page itself asks for the
// key and shows why the lane is not ready. An unknown /ui/ name is 404 route_not_found; a page
// carries its Content-Security-Policy; If-None-Match naming the current ETag answers 304.
#include "http/detail/exchange.hpp"
#include "web/assets.hpp"

namespace quire::http::detail {
namespace {

// The pages run only their own scripts and styles (no inline code, nothing from another origin)
// and talk only to this service. The Markdown shown comes from untrusted PDFs: it is rendered
// without raw HTML, and even a slip there could not run a script. blob: is for the uploaded PDF
// shown beside its Markdown (frame, and the browser's PDF viewer inside it) and for extracted
// images fetched with the API key.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-src blob:; object-src blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

bool etag_matches(const std::string& if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  // A list of entity tags, possibly weak (W/"…"): a plain substring test of the quoted tag suffices.
  return !if_none_match.empty() && if_none_match.find(etag) != std::string::npos;
}

}  // namespace

response web_asset(api_state&, exchange& ex) {
  const auto& req = ex.req;
  const auto* a = web::find_asset(req.path);
  if (a == nullptr) return error_response("route_not_found", "no route for " + req.path, ex.correlation_id);
  response r;
  r.headers.emplace_back("ETag", std::string(a->etag));
  // Revalidate every time (the URLs are not versioned), cheaply: a matching ETag answers 304.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  if (a->content_type.rfind("text/html", 0) == 0) r.headers.emplace_back("Content-Security-Policy", kPagePolicy);
  if (etag_matches(req.header("if-none-match"), a->etag)) {
    r.status = 304;
    return r;
  }
  r.headers.emplace_back("Content-Type", std::string(a->content_type));
  if (req.method != "HEAD") r.body.assign(a->bytes);
  return r;
}

}  // namespace quire::http::detail
