// Hostile and careless clients against the real binary (issue 7): every bad request gets its
// stable status and code and leaves nothing behind (no job row, no file in the data root), slow
// clients are cut off by the configured timeouts, and floods are refused with 503 overloaded while
// /livez and /readyz keep answering.
#include <catch2/catch.hpp>

#include <pqxx/pqxx>

#include <atomic>
#include <future>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string kKey = "abuse-key-1";
const std::string kBoundary = "abuseB0undary";

std::map<std::string, std::string> with_key(std::map<std::string, std::string> h = {}) {
  h["X-API-Key"] = kKey;
  return h;
}

// A one-page PDF small enough to convert in a moment.
std::string small_pdf() { return slurp(std::string(QUIRE_SOURCE_DIR) + "/docker/sample/sample.pdf"); }

std::string part(const std::string& disposition, const std::string& body, const std::string& extra_headers = {}) {
  return "--" + kBoundary + "\r\nContent-Disposition: form-data; " + disposition + "\r\n" + extra_headers + "\r\n" +
         body + "\r\n";
}
std::string file_part(const std::string& pdf, const std::string& filename = "doc.pdf") {
  return part("name=\"file\"; filename=\"" + filename + "\"", pdf, "Content-Type: application/pdf\r\n");
}
std::string end_form() { return "--" + kBoundary + "--\r\n"; }

http_response post_form(int port, const std::string& body, std::map<std::string, std::string> headers = with_key(),
                        const std::string& query = {}) {
  headers["Content-Type"] = "multipart/form-data; boundary=" + kBoundary;
  return http(port, "POST", "/v1/convert/jobs" + query, headers, body);
}

int job_rows(const std::string& db) { return std::stoi(psql(db, "SELECT count(*) FROM jobs")); }

// Nothing was recorded or left in the data root, and the lane is still up and ready.
void check_untouched(lane& l, const std::vector<std::string>& files_before) {
  CHECK(job_rows(l.db) == 0);
  CHECK(data_files(l.root) == files_before);
  CHECK(http(l.svc.port(), "GET", "/livez").status == 200);
  CHECK(http(l.svc.port(), "GET", "/readyz").status == 200);
}

struct refusal {
  std::string name;
  std::function<http_response()> send;
  int status;
  std::string code;
  std::string field;  // details.field, "" = not checked
};

}  // namespace

TEST_CASE("hostile requests get a stable status and code and leave no job and no file", "[abuse]") {
  lane l("abuse_input", {{"QUIRE_API_KEYS", kKey}, {"QUIRE_MAX_UPLOAD_BYTES", "65536"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  REQUIRE(pdf.size() < 65536);
  const auto files_before = data_files(l.root);
  const std::string unknown_id = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

  std::vector<refusal> cases = {
      {"empty file", [&] { return post_form(port, file_part("") + end_form()); }, 422, "validation_error", "file"},
      {"not a PDF", [&] { return post_form(port, file_part("hello, world\n") + end_form()); }, 422,
       "validation_error", "file"},
      {"text/plain body",
       [&] { return http(port, "POST", "/v1/convert/jobs", with_key({{"Content-Type", "text/plain"}}), pdf); }, 415,
       "unsupported_media_type", ""},
      {"no Content-Type", [&] { return http(port, "POST", "/v1/convert/jobs", with_key(), pdf); }, 415,
       "unsupported_media_type", ""},
      {"multipart without boundary",
       [&] {
         return http(port, "POST", "/v1/convert/jobs", with_key({{"Content-Type", "multipart/form-data"}}),
                     file_part(pdf) + end_form());
       },
       400, "bad_request", "Content-Type"},
      {"truncated multipart (no closing delimiter)",
       [&] { return post_form(port, file_part(pdf).substr(0, 300)); }, 400, "bad_request", ""},
      {"part without a header end",
       [&] { return post_form(port, "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\""); }, 400,
       "bad_request", ""},
      {"no file part", [&] { return post_form(port, part("name=\"job_spec\"", "{}") + end_form()); }, 422,
       "validation_error", "file"},
      {"two file parts", [&] { return post_form(port, file_part(pdf) + file_part(pdf, "b.pdf") + end_form()); }, 422,
       "validation_error", "file"},
      {"two job_spec parts",
       [&] { return post_form(port, part("name=\"job_spec\"", "{}") + part("name=\"job_spec\"", "{}") + file_part(pdf) + end_form()); },
       422, "validation_error", "job_spec"},
      {"unknown form field", [&] { return post_form(port, part("name=\"extra\"", "x") + file_part(pdf) + end_form()); },
       422, "validation_error", "extra"},
      {"20 KiB of part headers",
       [&] { return post_form(port, part("name=\"file\"", pdf, "X-Pad: " + std::string(20000, 'a') + "\r\n") + end_form()); },
       400, "bad_request", ""},
      {"job_spec not JSON", [&] { return post_form(port, part("name=\"job_spec\"", "{nope") + file_part(pdf) + end_form()); },
       422, "validation_error", "job_spec"},
      {"job_spec unknown field",
       [&] { return post_form(port, part("name=\"job_spec\"", R"({"conversion":{"bogus":1}})") + file_part(pdf) + end_form()); },
       422, "validation_error", "conversion.bogus"},
      {"job_spec wrong type",
       [&] { return post_form(port, part("name=\"job_spec\"", R"({"execution":{"priority":"high"}})") + file_part(pdf) + end_form()); },
       422, "validation_error", "execution.priority"},
      {"job_spec nested 30000 deep",  // parsed without recursion; the root must be an object
       [&] { return post_form(port, part("name=\"job_spec\"", std::string(30000, '[') + std::string(30000, ']')) + file_part(pdf) + end_form()); },
       422, "validation_error", "$"},
      {"job_spec over 64 KiB",
       [&] { return post_form(port, part("name=\"job_spec\"", "{\"x\":\"" + std::string(70000, 'a') + "\"}") + file_part(pdf) + end_form()); },
       422, "validation_error", "job_spec"},
      {"PDF over QUIRE_MAX_UPLOAD_BYTES",
       [&] { return post_form(port, file_part(pdf + std::string(70000, ' ')) + end_form()); }, 413,
       "payload_too_large", ""},
      {"Idempotency-Key not ASCII",
       [&] { return post_form(port, file_part(pdf) + end_form(), with_key({{"Idempotency-Key", "k\xC3\xA9y"}})); }, 422,
       "validation_error", "Idempotency-Key"},
      {"malformed query string",
       [&] { return post_form(port, file_part(pdf) + end_form(), with_key(), "?wait_seconds=%zz"); }, 400,
       "bad_request", ""},
      {"wait_seconds out of range",
       [&] { return post_form(port, file_part(pdf) + end_form(), with_key(), "?wait_seconds=99"); }, 422,
       "validation_error", "wait_seconds"},
      {"no API key", [&] { return post_form(port, file_part(pdf) + end_form(), {}); }, 401, "unauthorized", ""},
      {"wrong API key", [&] { return post_form(port, file_part(pdf) + end_form(), {{"X-API-Key", "abuse-key-2"}}); },
       401, "unauthorized", ""},
      {"wrong Bearer token",
       [&] { return post_form(port, file_part(pdf) + end_form(), {{"Authorization", "Bearer " + kKey + "x"}}); }, 401,
       "unauthorized", ""},
      {"malformed job id", [&] { return http(port, "GET", "/v1/convert/jobs/ZZZ", with_key()); }, 400,
       "invalid_job_id", "job_id"},
      {"path-like job id", [&] { return http(port, "GET", "/v1/convert/jobs/..%2F..%2Fetc%2Fpasswd", with_key()); },
       400, "invalid_job_id", "job_id"},
      {"malformed job id, result",
       [&] { return http(port, "GET", "/v1/convert/jobs/" + unknown_id + "X/result", with_key()); }, 400,
       "invalid_job_id", "job_id"},
      {"malformed job id, cancel",
       [&] { return http(port, "POST", "/v1/convert/jobs/" + std::string(26, 'A') + "/cancel", with_key()); }, 400,
       "invalid_job_id", "job_id"},
      {"unknown job id", [&] { return http(port, "GET", "/v1/convert/jobs/" + unknown_id, with_key()); }, 404,
       "job_not_found", ""},
      {"unknown job id, cancel",
       [&] { return http(port, "POST", "/v1/convert/jobs/" + unknown_id + "/cancel", with_key()); }, 404,
       "job_not_found", ""},
      {"unknown job id, artifact",
       [&] { return http(port, "GET", "/v1/convert/jobs/" + unknown_id + "/artifacts/..%2F..%2Fetc%2Fpasswd", with_key()); },
       404, "job_not_found", ""},
      {"job id without a key", [&] { return http(port, "GET", "/v1/convert/jobs/" + unknown_id); }, 401,
       "unauthorized", ""},
      {"unknown route", [&] { return http(port, "GET", "/v1/../../etc/passwd", with_key()); }, 404,
       "route_not_found", ""},
      {"wrong method", [&] { return http(port, "DELETE", "/v1/convert/jobs", with_key()); }, 405,
       "method_not_allowed", ""},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = c.send();
    CHECK(r.status == c.status);
    auto j = r.json();
    REQUIRE(j.is_object());
    CHECK(j["error"]["code"] == c.code);
    CHECK(j["error"]["correlation_id"] == r.headers["x-correlation-id"]);
    if (!c.field.empty()) CHECK(j["error"]["details"]["field"] == c.field);
    if (c.status == 401) CHECK(r.headers["www-authenticate"] == "Bearer");
  }

  check_untouched(l, files_before);
}

TEST_CASE("bodies and headers beyond what the socket layer takes: the connection is closed, nothing kept",
          "[abuse]") {
  lane l("abuse_size", {{"QUIRE_MAX_UPLOAD_BYTES", "65536"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto files_before = data_files(l.root);

  // Content-Length over the socket limit (2 × 64 KiB + 1 MiB): refused right after the headers,
  // before any of the body is read or buffered. RESTinio 0.6 closes without an HTTP answer.
  {
    raw_connection c(port);
    REQUIRE(c.connected());
    c.send("POST /v1/convert/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n"
           "Content-Length: 10000000\r\n\r\n%PDF-1.4\n");
    std::string got;
    CHECK(c.wait_closed(30s, &got));
    CHECK(parse_response(got).status == 0);
  }
  // A chunked body that crosses the limit: closed once it does (nothing answered, nothing stored).
  {
    raw_connection c(port);
    REQUIRE(c.connected());
    c.send("POST /v1/convert/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n"
           "Transfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";
    for (int i = 0; i < 40 && c.send(chunk); ++i) {
    }
    CHECK(c.wait_closed(30s));
  }
  // Over the limit by Content-Length but under the socket limit: buffered, then 413.
  {
    auto r = http(port, "POST", "/v1/convert/jobs", {{"Content-Type", "application/pdf"}},
                  "%PDF-1.4\n" + std::string(100000, ' '));
    CHECK(r.status == 413);
    CHECK(r.json()["error"]["code"] == "payload_too_large");
    CHECK(r.json()["error"]["details"]["max_upload_bytes"] == 65536);
  }
  // A 16 KiB header value, a 1 KiB header name, 200 header fields, a 16 KiB URL (the limits are
  // 8 KiB, 256 bytes, 100 and 8 KiB): closed, no answer.
  CHECK(http(port, "GET", "/v1/info", {{"X-Pad", std::string(16384, 'a')}}).status == 0);
  CHECK(http(port, "GET", "/v1/info", {{"X-" + std::string(1024, 'n'), "1"}}).status == 0);
  {
    std::map<std::string, std::string> many;
    for (int i = 0; i < 200; ++i) many["X-F" + std::to_string(i)] = "1";
    CHECK(http(port, "GET", "/v1/info", many).status == 0);
  }
  CHECK(http(port, "GET", "/v1/info?x=" + std::string(16384, 'a')).status == 0);
  CHECK(http(port, "GET", "/v1/info", {{"X-Ctl", "a\x01" "b"}}).status == 0);  // a control byte in a header
  CHECK(http(port, "GET", "/v1/info", {{"X-Pad", std::string(4096, 'a')}}).status == 200);  // under the limits
  // Not HTTP at all.
  {
    raw_connection c(port);
    c.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(200, '\0'));
    CHECK(c.wait_closed(30s));
  }

  check_untouched(l, files_before);
}

TEST_CASE("path-like and non-UTF-8 filenames are stored as a display name and never used as a path",
          "[abuse]") {
  lane l("abuse_names");
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  const std::vector<std::pair<std::string, std::string>> names = {
      {"../../etc/passwd", "passwd"},
      {"/abs/olute/name.pdf", "name.pdf"},
      {"C:\\\\temp\\\\..\\\\evil.pdf", "evil.pdf"},  // quoted-string escapes: the client sent C:\temp\..\evil.pdf
      {std::string("a\0b.pdf", 7), "a\xEF\xBF\xBD" "b.pdf"},
      {"\xff\xfe.pdf", "\xEF\xBF\xBD\xEF\xBF\xBD.pdf"},
      {"..", ""},
      {std::string(300, 'n') + ".pdf", std::string(255, 'n')},
  };
  std::vector<std::string> ids;
  for (const auto& [sent, stored] : names) {
    INFO("filename " << json(sent).dump(-1, ' ', false, json::error_handler_t::replace));
    auto r = post_form(port, file_part(pdf, sent) + end_form(), {});
    REQUIRE(r.status == 202);
    auto j = r.json();
    REQUIRE(j.is_object());
    CHECK(j["job"]["source_filename"] == stored);
    ids.push_back(j["job"]["job_id"]);
    auto again = http(port, "GET", "/v1/convert/jobs/" + ids.back());
    CHECK(again.json()["job"]["source_filename"] == stored);
  }
  CHECK(job_rows(l.db) == static_cast<int>(names.size()));
  for (const auto& id : ids) CHECK(l.svc.wait_job(id, {"succeeded", "failed"}, 60s).value("status", "") == "succeeded");
  // Every file of these jobs is its input or lives in its own job directory; nothing else appeared.
  for (const auto& f : data_files(l.root)) {
    INFO(f);
    bool ours = false;
    for (const auto& id : ids)
      ours = ours || f.rfind("jobs/" + id.substr(0, 2) + "/" + id + "/", 0) == 0 ||
             f == "inputs/" + id.substr(0, 2) + "/" + id + ".pdf";
    CHECK(ours);
  }
}

TEST_CASE("slow clients are cut off by the read timeout and do not starve others", "[abuse]") {
  lane l("abuse_slow", {{"QUIRE_IDLE_TIMEOUT_SECONDS", "1"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();

  // Headers dribbled one line at a time, far apart: RESTinio bounds the whole read of a request by
  // QUIRE_IDLE_TIMEOUT_SECONDS, so the server hangs up (no answer) while the client still sends.
  auto dribble = [&](const std::string& start, const std::string& unit) {
    raw_connection c(port);
    REQUIRE(c.connected());
    REQUIRE(c.send(start));
    std::string got;
    bool closed = false;
    for (int i = 0; i < 300 && !closed; ++i)  // at most a minute of dribbling
      closed = !c.send(unit) || c.wait_closed(200ms, &got);
    CHECK((closed || c.wait_closed(5s, &got)));
    CHECK(parse_response(got).status == 0);
  };
  dribble("GET /v1/info HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n");
  dribble("POST /v1/convert/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n",
          "%");

  // A connection that never sends a byte is closed too.
  {
    raw_connection idle(port);
    REQUIRE(idle.connected());
    CHECK(idle.wait_closed(60s));
  }

  // Forty slowloris connections at once do not keep others from being served.
  std::vector<std::unique_ptr<raw_connection>> held;
  for (int i = 0; i < 40; ++i) {
    held.push_back(std::make_unique<raw_connection>(port));
    held.back()->send("GET /v1/info HTTP/1.1\r\nHost: x\r\n");
  }
  CHECK(http(port, "GET", "/livez").status == 200);
  CHECK(http(port, "GET", "/readyz").status == 200);
  CHECK(http(port, "GET", "/v1/info").status == 200);
  for (auto& c : held) CHECK(c->wait_closed(60s));
  CHECK(job_rows(l.db) == 0);
}

TEST_CASE("open connections are capped: the next is closed unanswered, one after a slot frees is served",
          "[abuse]") {
  lane l("abuse_conns", {{"QUIRE_MAX_CONNECTIONS", "3"}, {"QUIRE_IDLE_TIMEOUT_SECONDS", "30"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  // Three connections that send nothing hold every slot (until the idle timeout).
  std::vector<std::unique_ptr<raw_connection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<raw_connection>(port));
    REQUIRE(held.back()->connected());
  }
  std::this_thread::sleep_for(300ms);  // let the server accept all three
  // A fourth gets through TCP but is closed at accept, unanswered: it holds nothing while it waits.
  raw_connection refused(port);
  REQUIRE(refused.connected());
  refused.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  CHECK(refused.wait_closed(1500ms, &got));
  CHECK(parse_response(got).status == 0);
  CHECK(metric(l.svc.probe_port(), "quire_http_connections_refused_total{reason=\"max_connections\"}") >= 1);
  // The probes still answer on the probe listener meanwhile.
  CHECK(http(l.svc.probe_port(), "GET", "/livez").status == 200);
  // One slot frees: the next connection is served.
  held.pop_back();
  std::this_thread::sleep_for(300ms);
  CHECK(http(port, "GET", "/livez").status == 200);
}

TEST_CASE("floods beyond the upload bound and the handler backlog get 503 overloaded, health answers", "[abuse]") {
  // One handler thread (backlog 4 = 4 × QUIRE_HTTP_THREADS) and two upload slots. The database is
  // stalled by a table lock held from here, so admitted requests stay in flight as long as needed.
  lane l("abuse_flood", {{"QUIRE_HTTP_THREADS", "1"},
                         {"QUIRE_MAX_CONCURRENT_UPLOADS", "2"},
                         {"QUIRE_REQUEST_TIMEOUT_SECONDS", "2"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  auto wait_metric = [&](const std::string& name, double want) {
    for (int i = 0; i < 300; ++i) {
      if (metric(port, name) == want) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  pqxx::connection watcher(l.db);
  auto wait_lock_waiters = [&](int want) {  // statements of the service queued behind our lock
    for (int i = 0; i < 300; ++i) {
      pqxx::nontransaction q(watcher);
      if (q.exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0].as<int>() == want)
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  auto upload = [&] { return http(port, "POST", "/v1/convert/jobs", {{"Content-Type", "application/pdf"}}, pdf); };
  auto list = [&] { return http(port, "GET", "/v1/convert/jobs"); };

  pqxx::connection locker(l.db);
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");

  // A submit waits for its batch's commit without holding the handler thread: its INSERT queues
  // behind the lock while the thread goes on. A list then holds the only handler thread.
  auto first = std::async(std::launch::async, upload);
  REQUIRE(wait_metric("quire_http_uploads_in_flight", 1));
  REQUIRE(wait_lock_waiters(1));
  auto blocked_read = std::async(std::launch::async, list);
  REQUIRE(wait_lock_waiters(2));
  auto second = std::async(std::launch::async, upload);  // admitted, waits for the handler thread
  REQUIRE(wait_metric("quire_http_uploads_in_flight", 2));
  REQUIRE(wait_metric("quire_http_handler_backlog", 1));

  auto third = upload();  // over QUIRE_MAX_CONCURRENT_UPLOADS: refused at once
  CHECK(third.status == 503);
  CHECK(third.json()["error"]["code"] == "overloaded");
  CHECK(third.json()["error"]["details"]["limit"] == "max_concurrent_uploads");
  CHECK(third.headers["retry-after"] == "1");

  std::vector<std::future<http_response>> reads;
  for (int i = 0; i < 3; ++i) reads.push_back(std::async(std::launch::async, list));
  REQUIRE(wait_metric("quire_http_handler_backlog", 4));
  auto over = list();  // the backlog is full: refused at once instead of queueing
  CHECK(over.status == 503);
  CHECK(over.json()["error"]["code"] == "overloaded");
  CHECK(over.json()["error"]["details"]["limit"] == "handler_backlog");
  CHECK(over.headers["retry-after"] == "1");

  // Health, readiness and metrics are answered on the I/O threads, not behind the backlog.
  CHECK(http(port, "GET", "/livez").status == 200);
  CHECK(http(port, "GET", "/readyz").status == 200);
  CHECK(http(port, "GET", "/metrics").status == 200);

  // Held past QUIRE_REQUEST_TIMEOUT_SECONDS, the queued requests are answered 503 without being
  // run when the thread frees up: the queued upload never becomes a job.
  std::this_thread::sleep_for(3s);
  lock->abort();
  lock.reset();
  auto r1 = first.get();
  auto r2 = second.get();
  CHECK(r1.status == 202);  // its batch committed once the lock was gone
  CHECK(blocked_read.get().status == 200);
  CHECK(r2.status == 503);
  CHECK(r2.json()["error"]["details"]["limit"] == "request_timeout");
  for (auto& f : reads) {
    auto r = f.get();
    CHECK(r.status == 503);
    CHECK(r.json()["error"]["code"] == "overloaded");
  }
  CHECK(job_rows(l.db) == 1);
  CHECK(wait_metric("quire_http_uploads_in_flight", 0));
  CHECK(wait_metric("quire_http_handler_backlog", 0));
  // The lane is fine afterwards.
  CHECK(upload().status == 202);
  CHECK(list().status == 200);
  CHECK(job_rows(l.db) == 2);
  int input_files = 0;
  for (const auto& f : data_files(l.root)) input_files += f.rfind("inputs/", 0) == 0;
  CHECK(input_files == 2);
}
