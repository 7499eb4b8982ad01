// Hardening II (issue 16) against the real binary: protocol refusals (transfer codings), display-name cleaning of filenames, duplicate job_spec keys and query
// parameters, and what the open /readyz tells an anonymous caller.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>

#include "lane.hpp"

using namespace quire::systest;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string kKey = "hardening-key-1";
const std::string kBoundary = "hardenB0undary";

std::string small_pdf() { return slurp(std::string(QUIRE_SOURCE_DIR) + "/docker/sample/sample.pdf"); }

std::string form(const std::string& pdf, const std::string& filename, const std::string& spec = {}) {
  std::string body;
  if (!spec.empty())
    body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"job_spec\"\r\n\r\n" + spec + "\r\n";
  body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
          "\"\r\nContent-Type: application/pdf\r\n\r\n" + pdf + "\r\n--" + kBoundary + "--\r\n";
  return body;
}

http_response post_form(int port, const std::string& body, const std::string& query = {}) {
  return http(port, "POST", "/v1/convert/jobs" + query,
              {{"X-API-Key", kKey}, {"Content-Type", "multipart/form-data; boundary=" + kBoundary}}, body);
}

// Sends `raw` on its own connection and reads the answer until the server closes (or 30 s).
http_response send_raw(int port, const std::string& raw) {
  raw_connection c(port);
  REQUIRE(c.connected());
  REQUIRE(c.send(raw));
  std::string got;
  c.wait_closed(30s, &got);
  return parse_response(got);
}

std::string chunked(const std::string& body) {
  std::string out;
  for (std::size_t off = 0; off < body.size(); off += 4096) {
    const auto piece = body.substr(off, 4096);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    out += std::string(size) + "\r\n" + piece + "\r\n";
  }
  return out + "0\r\n\r\n";
}

// A PDF of `pages` pages ("Sheet N of the harbour log, entry 37N."), with a correct xref.
std::string pages_pdf(int pages) {
  std::vector<std::string> objs = {"<< /Type /Catalog /Pages 2 0 R >>", "",
                                   "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  std::string kids;
  for (int p = 1; p <= pages; ++p) {
    const int page_obj = static_cast<int>(objs.size()) + 1;
    // Different text at a different height on each page: nothing repeats as a running header.
    const std::string content = "BT /F1 12 Tf 72 " + std::to_string(700 - 13 * p) + " Td (Sheet " + std::to_string(p) +
                                " of the harbour log, entry " + std::to_string(p * 37) + ".) Tj ET";
    objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " + std::to_string(page_obj + 1) +
                   " 0 R /Resources << /Font << /F1 3 0 R >> >> >>");
    objs.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream");
    kids += std::to_string(page_obj) + " 0 R ";
  }
  objs[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages) + " >>";
  std::string pdf = "%PDF-1.4\n";
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    at.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const auto xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (auto off : at) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  return pdf + "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
}

int job_rows(const std::string& db) { return std::stoi(psql(db, "SELECT count(*) FROM jobs")); }

// A TCP proxy in front of the test PostgreSQL that can be frozen: while frozen it forwards
// nothing in either direction and accepts new connections without forwarding them, which is
// what a stopped database host looks like from the client (the connection stays open, nothing
// answers). Other tests share the PostgreSQL; freezing only this proxy touches none of them.
class freezable_proxy {
 public:
  explicit freezable_proxy(int upstream_port) : upstream_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("proxy: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    threads_.emplace_back([this] { accept_loop(); });
  }
  ~freezable_proxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    std::vector<std::thread> ts;
    {
      std::lock_guard l(mu_);
      ts.swap(threads_);
    }
    for (auto& t : ts) t.join();
  }
  int port() const { return port_; }
  void freeze() { frozen_ = true; }
  void thaw() { frozen_ = false; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard l(mu_);
      threads_.emplace_back([this, client] { pump(client); });
    }
  }
  void pump(int client) {
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(upstream_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(server);
      ::close(client);
      return;
    }
    char buf[65536];
    bool open = true;
    while (open && !stop_) {
      if (frozen_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (frozen_) continue;  // froze while waiting: what arrived stays unread
      for (int i = 0; i < 2 && open; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        const int to = i == 0 ? server : client;
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::send(to, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) {
            open = false;
            break;
          }
          off += w;
        }
      }
    }
    ::close(server);
    ::close(client);
  }
  int upstream_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, frozen_{false};
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// `url` ("postgresql://quire@127.0.0.1:PORT/db") with another port.
std::string with_port(const std::string& url, int port) {
  const auto at = url.find("127.0.0.1:") + 10;
  return url.substr(0, at) + std::to_string(port) + url.substr(url.find('/', at));
}

int url_port(const std::string& url) {
  const auto at = url.find("127.0.0.1:") + 10;
  return std::stoi(url.substr(at, url.find('/', at) - at));
}

}  // namespace

TEST_CASE("transfer codings other than chunked get 501, nothing stored",
          "[hardening]") {
  lane l("harden_proto", {{"QUIRE_API_KEYS", kKey}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  const auto files_before = data_files(l.root);

  // The body of `gzip, chunked` is de-chunked by the socket layer and would stay gzip'ed.
  const std::string head = "POST /v1/convert/jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: " + kKey +
                           "\r\nContent-Type: application/pdf\r\nConnection: close\r\n";
  auto r = send_raw(port, head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked(pdf));
  CHECK(r.status == 501);
  CHECK(r.json()["error"]["code"] == "unsupported_transfer_encoding");
  CHECK(r.json()["error"]["details"]["field"] == "Transfer-Encoding");
  // The same coding split over two fields.
  r = send_raw(port, head + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(pdf));
  CHECK(r.status == 501);
  CHECK(job_rows(l.db) == 0);
  CHECK(data_files(l.root) == files_before);

  // Plain chunked and HTTP/1.0 are served.
  r = send_raw(port, head + "Transfer-Encoding: chunked\r\n\r\n" + chunked(pdf));
  CHECK(r.status == 202);
  CHECK(send_raw(port, "GET /livez HTTP/1.0\r\n\r\n").status == 200);
  CHECK(job_rows(l.db) == 1);
}

TEST_CASE("Windows paths and bidi controls in filenames: the last component, no bidi controls", "[hardening]") {
  lane l("harden_names", {{"QUIRE_API_KEYS", kKey}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  const std::vector<std::pair<std::string, std::string>> names = {
      {"C:\\temp\\..\\evil.pdf", "evil.pdf"},  // as a browser sends it: backslashes unescaped
      {"invoice\xE2\x80\xAE" "fdp.exe", "invoicefdp.exe"},  // U+202E would show "invoiceexe.pdf"
      {"\xE2\x81\xA7report\xE2\x81\xA9\xE2\x80\x8F.pdf", "report.pdf"},  // U+2067, U+2069, U+200F
  };
  for (const auto& [sent, stored] : names) {
    INFO("filename " << json(sent).dump());
    auto r = post_form(port, form(pdf, sent));
    REQUIRE(r.status == 202);
    CHECK(r.json()["job"]["source_filename"] == stored);
  }
}

TEST_CASE("a repeated job_spec key or query parameter is 422, not last-wins", "[hardening]") {
  lane l("harden_dups", {{"QUIRE_API_KEYS", kKey}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  const auto files_before = data_files(l.root);

  auto r = post_form(port, form(pdf, "a.pdf", R"({"conversion":{"ocr":"off","ocr":"force"}})"));
  CHECK(r.status == 422);
  CHECK(r.json()["error"]["code"] == "validation_error");
  CHECK(r.json()["error"]["details"]["field"] == "conversion.ocr");
  r = post_form(port, form(pdf, "a.pdf", R"({"retention":{"pin":false},"retention":{"pin":true}})"));
  CHECK(r.status == 422);
  CHECK(r.json()["error"]["details"]["field"] == "retention");

  const std::string spec_a = "%7B%22conversion%22%3A%7B%22ocr%22%3A%22off%22%7D%7D";
  r = http(port, "POST", "/v1/convert/jobs?job_spec=" + spec_a + "&job_spec=%7B%7D",
           {{"X-API-Key", kKey}, {"Content-Type", "application/pdf"}}, pdf);
  CHECK(r.status == 422);
  CHECK(r.json()["error"]["code"] == "validation_error");
  CHECK(r.json()["error"]["details"]["field"] == "job_spec");
  r = http(port, "GET", "/v1/convert/jobs?limit=1&limit=100", {{"X-API-Key", kKey}});
  CHECK(r.status == 422);
  CHECK(r.json()["error"]["details"]["field"] == "limit");
  CHECK(job_rows(l.db) == 0);
  CHECK(data_files(l.root) == files_before);

  // One of each is fine.
  r = http(port, "POST", "/v1/convert/jobs?job_spec=" + spec_a,
           {{"X-API-Key", kKey}, {"Content-Type", "application/pdf"}}, pdf);
  CHECK(r.status == 202);
  CHECK(r.json()["job"]["job_spec"]["conversion"]["ocr"] == "off");
}

TEST_CASE("the open /readyz hides the checks' details; ?verbose with the API key shows them", "[hardening]") {
  // Nothing listens on this port: libpq's message names the host and port.
  const int dead_port = free_port();
  lane l("harden_readyz", {{"QUIRE_API_KEYS", kKey}});
  l.svc.env["QUIRE_DATABASE_URL"] =
      "postgresql://quire_secret_role@127.0.0.1:" + std::to_string(dead_port) + "/quire_hidden_db";
  l.svc.start();
  auto unreachable = [](const json& j) {
    for (const auto& r : j["reasons"])
      if (r.value("code", "") == "database_unreachable") return true;
    return false;
  };
  REQUIRE(l.svc.wait_readyz(unreachable, 30s));
  auto open = http(l.svc.port(), "GET", "/readyz");
  CHECK(open.status == 503);
  INFO(open.body);
  CHECK(open.body.find(std::to_string(dead_port)) == std::string::npos);
  CHECK(open.body.find("127.0.0.1") == std::string::npos);
  CHECK(open.body.find("quire_") == std::string::npos);
  CHECK(open.body.find(l.root) == std::string::npos);
  CHECK(unreachable(open.json()));

  CHECK(http(l.svc.port(), "GET", "/readyz?verbose").status == 401);  // a bare flag
  CHECK(http(l.svc.port(), "GET", "/readyz?verbose=1").status == 401);
  CHECK(http(l.svc.port(), "GET", "/readyz?verbose", {{"X-API-Key", "not-the-key"}}).status == 401);
  auto verbose = http(l.svc.port(), "GET", "/readyz?verbose", {{"X-API-Key", kKey}});
  CHECK(verbose.status == 503);
  CHECK(verbose.body.find(std::to_string(dead_port)) != std::string::npos);
  // The log keeps the details too.
  CHECK(l.svc.log().find(std::to_string(dead_port)) != std::string::npos);
}

TEST_CASE("a database that stops answering: 503 database_unavailable within seconds, /readyz not ready",
          "[hardening]") {
  lane l("harden_frozen", {{"QUIRE_API_KEYS", kKey}});
  freezable_proxy proxy(url_port(l.db));
  l.svc.env["QUIRE_DATABASE_URL"] = with_port(l.db, proxy.port());
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  REQUIRE(post_form(port, form(pdf, "a.pdf")).status == 202);
  // Every pooled connection has been used once: the requests below find them open.
  std::vector<std::future<http_response>> warm;
  for (int i = 0; i < 4; ++i)
    warm.push_back(std::async(std::launch::async, [&] { return http(port, "GET", "/v1/convert/jobs", {{"X-API-Key", kKey}}); }));
  for (auto& w : warm) REQUIRE(w.get().status == 200);

  struct answer {
    http_response r;
    double seconds;
  };
  auto timed = [](std::function<http_response()> f) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = f();
    return answer{std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  };
  proxy.freeze();
  const auto frozen_at = std::chrono::steady_clock::now();
  std::vector<std::future<answer>> inflight;
  for (int i = 0; i < 4; ++i) {
    inflight.push_back(std::async(std::launch::async, timed, [&] {
      return http(port, "GET", "/v1/convert/jobs", {{"X-API-Key", kKey}});
    }));
    inflight.push_back(std::async(std::launch::async, timed, [&] { return post_form(port, form(pdf, "b.pdf")); }));
  }
  bool not_ready = l.svc.wait_readyz(
      [](const json& j) {
        for (const auto& r : j["reasons"])
          if (r.value("code", "") == "database_unreachable") return true;
        return false;
      },
      30s);
  const double not_ready_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen_at).count();
  std::vector<answer> answers;
  for (auto& f : inflight) answers.push_back(f.get());
  proxy.thaw();

  double slowest = 0;
  for (const auto& a : answers) slowest = std::max(slowest, a.seconds);
  std::printf("frozen database: /readyz not ready after %.1f s; %zu in-flight requests answered, slowest after %.1f s\n",
              not_ready_after, answers.size(), slowest);
  CHECK(not_ready);
  CHECK(not_ready_after < 10);  // ping limit 2 s + connect_timeout 5 s at most, interval 1 s
  for (const auto& a : answers) {
    INFO(a.r.status << " after " << a.seconds << " s: " << a.r.body);
    CHECK(a.r.status == 503);
    const auto code = a.r.json().is_object() ? a.r.json()["error"].value("code", "") : "";
    CHECK((code == "database_unavailable" || code == "not_ready"));
    CHECK(a.seconds < 12);
  }
  REQUIRE(l.svc.wait_ready(60s));
  CHECK(post_form(port, form(pdf, "c.pdf")).status == 202);
}

TEST_CASE("after a database restart the first submits are accepted, and a refused one leaves no file",
          "[hardening]") {
  const char* dir = std::getenv("QUIRE_TEST_PG_DIR");
  const char* pg_port = std::getenv("QUIRE_TEST_PG_PORT");
  REQUIRE(dir);
  REQUIRE(pg_port);
  lane l("harden_restart", {{"QUIRE_API_KEYS", kKey}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  const auto pdf = small_pdf();
  // Open the pooled connections and the batcher's: they are what goes stale in the restart.
  std::vector<std::future<http_response>> warm;
  for (int i = 0; i < 4; ++i) {
    warm.push_back(std::async(std::launch::async, [&] { return post_form(port, form(pdf, "w.pdf")); }));
    warm.push_back(std::async(std::launch::async, [&] { return http(port, "GET", "/v1/convert/jobs", {{"X-API-Key", kKey}}); }));
  }
  for (auto& w : warm) REQUIRE(w.get().status / 100 == 2);

  const std::string pgctl = std::string(::getuid() == 0 ? "runuser -u postgres -- " : "") +
                            "/usr/lib/postgresql/15/bin/pg_ctl -D " + dir + "/data";
  const std::string start = pgctl + " -w -t 60 -l " + dir + "/server.log -o \"-p " + pg_port + " -k " + dir +
                            "/sock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200\" start";
  int rc = 0;
  run_capture(pgctl + " -m fast -w stop", &rc);
  REQUIRE(rc == 0);
  // While it is down: refused, and its input is not left behind without a row.
  std::vector<http_response> refused;
  for (int i = 0; i < 2; ++i) refused.push_back(post_form(port, form(pdf, "down.pdf")));
  auto out = run_capture(start, &rc);
  INFO(out);
  REQUIRE(rc == 0);
  for (const auto& r : refused) CHECK(r.status == 503);

  REQUIRE(l.svc.wait_ready(60s));
  std::vector<std::future<http_response>> burst;
  for (int i = 0; i < 4; ++i)
    burst.push_back(std::async(std::launch::async, [&] { return post_form(port, form(pdf, "after.pdf")); }));
  for (auto& f : burst) {
    auto r = f.get();
    INFO(r.body);
    CHECK(r.status == 202);
  }
  int inputs = 0;
  for (const auto& f : data_files(l.root)) inputs += f.rfind("inputs/", 0) == 0;
  CHECK(inputs == job_rows(l.db));
}

TEST_CASE("a page range reports the pages converted, not the document's size", "[hardening]") {
  lane l("harden_pages", {{"QUIRE_API_KEYS", kKey}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const int port = l.svc.port();
  auto r = post_form(port, form(pages_pdf(12), "twelve.pdf", R"({"conversion":{"first_page":2,"last_page":4}})"));
  REQUIRE(r.status == 202);
  const auto id = r.json()["job"].value("job_id", "");
  auto job = l.svc.wait_job(id, {"succeeded", "failed"}, 60s);
  REQUIRE(job.value("status", "") == "succeeded");
  auto got = http(port, "GET", "/v1/convert/jobs/" + id, {{"X-API-Key", kKey}}).json()["job"];
  INFO(got.dump());
  CHECK(got["progress"]["pages_done"] == 3);
  CHECK(got["progress"]["pages_total"] == 3);
  auto res = http(port, "GET", "/v1/convert/jobs/" + id + "/result?inline=true", {{"X-API-Key", kKey}}).json()["result"];
  INFO(res.dump());
  CHECK(res["page_count"] == 3);
  CHECK(res["document_page_count"] == 12);
  const std::string md = res.value("markdown_content", "");
  CHECK(md.find("Sheet 2 of") != std::string::npos);
  CHECK(md.find("Sheet 4 of") != std::string::npos);
  CHECK(md.find("Sheet 1 of") == std::string::npos);
  CHECK(md.find("Sheet 5 of") == std::string::npos);
}

TEST_CASE("a restarted replica rescues its previous run's leases at once, not after the lease time",
          "[hardening]") {
  // Leases of 120 s: waiting them out would fail this test's 40 s bound.
  lane l("harden_own_leases", {{"QUIRE_CPU_CONVERTERS", "1"}, {"QUIRE_LEASE_SECONDS", "120"}, {"QUIRE_HEARTBEAT_SECONDS", "5"}});
  l.svc.start();
  REQUIRE(l.svc.wait_ready(30s));
  const auto id = job_id_of(submit(l.svc.port(), sample_pdf("QUIRE_TEST_SLOW")));
  REQUIRE(id.size() == 26);
  REQUIRE(l.svc.wait_job(id, {"running"}, 30s).value("status", "") == "running");
  l.svc.kill9();
  const auto t0 = std::chrono::steady_clock::now();
  l.svc.start();  // same host; the old pid is gone
  REQUIRE(l.svc.wait_ready(30s));
  auto j = l.svc.wait_job(id, {"succeeded", "failed"}, 40s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(j.dump() << " after " << took << " s");
  CHECK(j.value("status", "") == "succeeded");
  std::printf("restart after kill -9: the previous run's job finished %.1f s after the restart (lease 120 s)\n", took);
  CHECK(took < 40);
  CHECK(l.svc.log().find("\"reason\":\"previous_incarnation\"") != std::string::npos);
}
