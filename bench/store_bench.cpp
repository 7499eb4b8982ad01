// store_bench — job store throughput against a real PostgreSQL with durable commits.
//
//   store_bench [--database-url URL] [--jobs N] [--clients C] [--batch B]
//
// URL defaults to $QUIRE_TEST_DATABASE_URL, then $QUIRE_DATABASE_URL; it must name a superuser
// database: the bench creates a scratch database next to it, migrates it, and drops it at the end.
// Phases (each client is a thread with its own job_store = its own connection):
//   submit          N submits (one durable transaction each), C clients
//   submit+key      N submits with an Idempotency-Key (job row + key row in one transaction)
//   claim→complete  C claimers loop claim(1) → complete until the queue is empty; a cycle is
//                   the two durable transactions a converter actor does per job
//   claim(B)→complete  the same with a claim batch of B (one claim per B completes)
// Reports ops/s (wall clock of the phase) and p50/p99 latency of each op, and the server's
// fsync / synchronous_commit settings so the figures are known to be durable.
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "storage/detail/internal.hpp"
#include "storage/job_store.hpp"
#include "storage/migrator.hpp"

using namespace quire::storage;
using steady = std::chrono::steady_clock;

namespace {

struct phase_result {
  std::string name;
  long ops = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// Runs body(client, latencies) on `clients` threads and aggregates.
phase_result run_phase(const std::string& name, int clients,
                       const std::function<void(int, std::vector<double>&)>& body) {
  std::vector<std::vector<double>> lat(clients);
  std::vector<std::thread> ts;
  auto t0 = steady::now();
  for (int c = 0; c < clients; ++c) ts.emplace_back([&, c] { body(c, lat[c]); });
  for (auto& t : ts) t.join();
  phase_result r;
  r.name = name;
  r.seconds = std::chrono::duration<double>(steady::now() - t0).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  r.ops = static_cast<long>(all.size());
  r.p50_ms = pct(all, 0.50);
  r.p99_ms = pct(all, 0.99);
  r.max_ms = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  return r;
}

std::string with_database(const std::string& url, const std::string& db) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto query = url.find('?');
  std::string base = slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash);
  return base + "/" + db + (query == std::string::npos ? "" : url.substr(query));
}

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "store_bench: {}\n", what);
  std::exit(1);
}

std::unique_ptr<job_store> open_or_die(const std::string& url) {
  store_options o;
  o.database_url = url;
  o.profile = "prod";
  auto s = job_store::open(o);
  if (!s) die("open: " + s.err().message);
  return std::move(*s);
}

submit_request make_request(int i) {
  submit_request r;
  r.id = new_job_id();
  r.api_key_id = "bench";
  r.spec = {{"ocr", "auto"}, {"extract_images", false}};
  r.source_filename = fmt::format("doc-{}.pdf", i);
  r.input_bytes = 123456;
  r.input_sha256 = detail::sha256_hex(r.id);
  return r;
}

double ms_since(steady::time_point t) { return std::chrono::duration<double, std::milli>(steady::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  if (const char* e = std::getenv("QUIRE_TEST_DATABASE_URL")) url = e;
  else if (const char* e2 = std::getenv("QUIRE_DATABASE_URL")) url = e2;
  int jobs = 5000, clients = 4, batch = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--database-url") url = next();
    else if (a == "--jobs") jobs = std::stoi(next());
    else if (a == "--clients") clients = std::stoi(next());
    else if (a == "--batch") batch = std::stoi(next());
    else die("usage: store_bench [--database-url URL] [--jobs N] [--clients C] [--batch B]");
  }
  if (url.empty()) die("no database: set QUIRE_TEST_DATABASE_URL or pass --database-url");

  const std::string db = "quire_bench_" + detail::base32_lower(detail::random_bytes(6));
  {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + db);
  }
  const std::string bench_url = with_database(url, db);
  if (auto m = migrate(bench_url); !m) die("migrate: " + m.err().message);
  if (auto b = bind_deployment(bench_url, "prod"); !b) die("bind: " + b.err().message);
  std::string fsync_setting, sync_commit, version;
  {
    pqxx::connection c(bench_url);
    pqxx::nontransaction n(c);
    fsync_setting = n.exec1("SHOW fsync")[0].as<std::string>();
    sync_commit = n.exec1("SHOW synchronous_commit")[0].as<std::string>();
    version = n.exec1("SHOW server_version")[0].as<std::string>();
  }

  std::vector<phase_result> results;
  const int per_client = jobs / clients;
  results.push_back(run_phase("submit", clients, [&](int c, std::vector<double>& lat) {
    auto s = open_or_die(bench_url);
    for (int i = 0; i < per_client; ++i) {
      auto r = make_request(c * per_client + i);
      auto t = steady::now();
      if (auto res = s->submit(r); !res) die("submit: " + res.err().message);
      lat.push_back(ms_since(t));
    }
  }));
  results.push_back(run_phase("claim(1)→complete", clients, [&](int c, std::vector<double>& lat) {
    auto s = open_or_die(bench_url);
    const std::string owner = fmt::format("bench-{}", c);
    for (;;) {
      auto t = steady::now();
      auto got = s->claim(owner, 1, std::chrono::minutes(5));
      if (!got) die("claim: " + got.err().message);
      if (got->empty()) break;
      auto& cj = got->front();
      if (auto r = s->complete(cj.lease, {1000, cj.job.input_sha256, 3}); !r) die("complete: " + r.err().message);
      lat.push_back(ms_since(t));
    }
  }));
  results.push_back(run_phase("submit+idempotency key", clients, [&](int c, std::vector<double>& lat) {
    auto s = open_or_die(bench_url);
    for (int i = 0; i < per_client; ++i) {
      auto r = make_request(c * per_client + i);
      r.idempotency_key = fmt::format("key-{}-{}", c, i);
      auto t = steady::now();
      if (auto res = s->submit(r); !res) die("submit: " + res.err().message);
      lat.push_back(ms_since(t));
    }
  }));
  results.push_back(run_phase(fmt::format("claim({})→complete", batch), clients, [&](int c, std::vector<double>& lat) {
    auto s = open_or_die(bench_url);
    const std::string owner = fmt::format("bench-b{}", c);
    for (;;) {
      auto t = steady::now();
      auto got = s->claim(owner, batch, std::chrono::minutes(5));
      if (!got) die("claim: " + got.err().message);
      if (got->empty()) break;
      const double claim_ms = ms_since(t) / static_cast<double>(got->size());
      for (auto& cj : *got) {
        auto tc = steady::now();
        if (auto r = s->complete(cj.lease, {1000, cj.job.input_sha256, 3}); !r) die("complete: " + r.err().message);
        lat.push_back(claim_ms + ms_since(tc));  // per job: its share of the claim + its complete
      }
    }
  }));

  {
    auto s = open_or_die(bench_url);
    auto n = s->counts();
    if (!n || n->by_status[job_status::succeeded] != 2L * per_client * clients)
      die("not every job succeeded exactly once");
  }
  {
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec("DROP DATABASE " + db + " WITH (FORCE)");
  }

  fmt::print("PostgreSQL {} fsync={} synchronous_commit={}; {} jobs per phase, {} clients, {} hardware threads\n",
             version, fsync_setting, sync_commit, per_client * clients, clients, std::thread::hardware_concurrency());
  fmt::print("| phase | ops | ops/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results)
    fmt::print("| {} | {} | {:.0f} | {:.2f} | {:.2f} | {:.2f} |\n", r.name, r.ops, static_cast<double>(r.ops) / r.seconds,
               r.p50_ms, r.p99_ms, r.max_ms);
  return 0;
}
