#include <catch2/catch.hpp>

#include "actors/metrics.hpp"

using namespace quire::actors;

TEST_CASE("counters, gauges and histograms render in Prometheus text format") {
  metrics_registry m;
  using k = metrics_registry::kind;
  m.declare("t_requests_total", k::counter, "Requests.");
  m.declare("t_depth", k::gauge, "Depth.");
  m.declare("t_latency_seconds", k::histogram, "Latency.", {0.1, 1});
  m.add("t_requests_total", {{"route", "/a\"b"}});
  m.add("t_requests_total", {{"route", "/a\"b"}}, 2);
  m.set("t_depth", {}, 7);
  m.observe("t_latency_seconds", {}, 0.05);
  m.observe("t_latency_seconds", {}, 0.5);
  m.observe("t_latency_seconds", {}, 5);
  m.add("undeclared_total", {});  // ignored, never throws
  CHECK(m.value("t_requests_total", {{"route", "/a\"b"}}) == 3);
  auto text = m.render();
  CHECK(text ==
        "# HELP t_depth Depth.\n# TYPE t_depth gauge\nt_depth 7\n"
        "# HELP t_latency_seconds Latency.\n# TYPE t_latency_seconds histogram\n"
        "t_latency_seconds_bucket{le=\"0.1\"} 1\nt_latency_seconds_bucket{le=\"1\"} 2\n"
        "t_latency_seconds_bucket{le=\"+Inf\"} 3\nt_latency_seconds_sum 5.55\nt_latency_seconds_count 3\n"
        "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"
        "t_requests_total{route=\"/a\\\"b\"} 3\n");
  m.clear("t_depth");
  CHECK(m.render().find("t_depth 7") == std::string::npos);
}

TEST_CASE("the service registry declares every family once") {
  auto text = service_metrics().render();
  for (const char* f : {"quire_http_requests_total", "quire_worker_crashes_total", "quire_ready",
                        "quire_conversion_duration_seconds", "quire_lease_rescues_total",
                        "quire_submit_batch_size", "quire_data_sync_seconds"})
    CHECK(text.find(std::string("# TYPE ") + f + " ") != std::string::npos);
}
