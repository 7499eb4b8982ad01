// quire::http — the served routes as one table. Dispatch (api.cpp), the listener's choice of
// thread and the probe listener's route list (server.cpp), upload admission and the OpenAPI
// coverage test all read it, so a route is added, opened or made an upload in one place.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace quire::http {

struct response;
namespace detail {
struct api_state;
struct exchange;
}  // namespace detail

// Who may call a route.
enum class access {
  open,   // anyone, whatever the lane's readiness: the probes and the web page
  ready,  // anyone, once the lane is ready (fail closed)
  keyed,  // an API key (when keys are configured), once the lane is ready
};

// Which thread answers a route. All routes of one path share a lane: the listener picks the
// thread from the path alone, before the method is looked at.
enum class lane {
  probe,    // never blocks (a snapshot read): the I/O thread, and the probe listener as well
  io,       // in memory (the web page's files): the I/O thread, so the page loads while handlers are swamped
  handler,  // may block (the database, fsync, long polls): a handler thread
};

// Which API a route belongs to. docling-serve's routes (docling_routes.cpp) sit under
// QUIRE_DOCLING_PREFIX, and their errors carry docling's `detail` beside quire's envelope.
enum class family {
  native,
  docling,
};

struct route {
  std::string_view method;  // a GET route answers HEAD too
  std::string_view path;    // the template: literal segments and {name} parameters
  http::access access;
  http::lane lane;
  // New work carrying a PDF: holds one of QUIRE_MAX_CONCURRENT_UPLOADS slots from admission until
  // it is answered (each one waiting holds its whole body in memory), and is refused while the lane drains.
  bool upload;
  response (*handle)(detail::api_state&, detail::exchange&);
  http::family family = family::native;
};

// Where the docling-serve routes are served: their paths with this prefix in front ("" = as
// docling-serve has them, /v1/convert/file…; "/docling" = /docling/v1/convert/file…). Set once
// at start (QUIRE_DOCLING_PREFIX) before any request is matched; api's constructor does it.
void set_docling_prefix(std::string prefix);
const std::string& docling_prefix();

// Every route served, in the order they are matched.
const std::vector<route>& routes();

using path_params = std::map<std::string, std::string>;

// The route serving method on path (HEAD finds GET routes) and, when `params` is given, the
// path's values of its {name} segments; nullptr when none. Empty segments are ignored ("//a/" is "/a").
const route* find_route(std::string_view method, std::string_view path, path_params* params = nullptr);
// The methods of the routes whose template matches path, in table order, joined by ", "
// (the Allow header of a 405); "" when none does (404).
std::string allowed_methods(std::string_view path);
// The lane of the routes at path; lane::handler when none matches (their 404 is not urgent).
lane lane_of(std::string_view path);

}  // namespace quire::http
