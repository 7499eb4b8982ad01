// The state machine table in job_state.hpp: names round-trip and the transitions are the ones
// the design describes (the database side is checked in tests/pg/test_job_transitions.cpp).
#include <catch2/catch.hpp>

#include "storage/error.hpp"
#include "storage/job_state.hpp"

using namespace quire::storage;

namespace {
const job_status all[] = {job_status::queued, job_status::running, job_status::succeeded,
                          job_status::failed, job_status::canceled, job_status::expired};
}

TEST_CASE("job status names round-trip") {
  for (auto s : all) CHECK(parse_job_status(to_string(s)) == s);
  CHECK_FALSE(parse_job_status("done").has_value());
  CHECK_FALSE(parse_job_status("").has_value());
}

TEST_CASE("legal transitions are exactly the designed ones") {
  using js = job_status;
  const std::pair<js, js> expected[] = {
      {js::queued, js::running},     {js::running, js::succeeded}, {js::running, js::failed},
      {js::running, js::queued},     {js::queued, js::canceled},   {js::running, js::canceled},
      {js::succeeded, js::expired},  {js::failed, js::expired},    {js::canceled, js::expired}};
  int legal = 0;
  for (auto from : all)
    for (auto to : all) {
      bool want = false;
      for (auto& [f, t] : expected) want |= (f == from && t == to);
      INFO(to_string(from) << " -> " << to_string(to));
      CHECK(is_legal(from, to) == want);
      legal += is_legal(from, to);
    }
  CHECK(legal == 9);
}

TEST_CASE("terminal states only move on to expired, expired goes nowhere") {
  for (auto from : all)
    for (auto to : all)
      if (is_terminal(from) && is_legal(from, to)) CHECK(to == job_status::expired);
  for (auto to : all) CHECK_FALSE(is_legal(job_status::expired, to));
  CHECK_FALSE(is_terminal(job_status::queued));
  CHECK_FALSE(is_terminal(job_status::running));
}

TEST_CASE("only lease-holder operations need the lease, each rule is legal") {
  for (const auto& r : legal_transitions) {
    CHECK(is_legal(r.from, r.to));
    const bool holder_op = r.op == transition::complete || r.op == transition::fail_retry ||
                           r.op == transition::fail_final || r.op == transition::release;
    CHECK(r.needs_lease == holder_op);
    CHECK_FALSE(to_string(r.op).empty());
  }
}

TEST_CASE("error codes have stable names") {
  CHECK(to_string(errc::schema_version_mismatch) == "schema_version_mismatch");
  CHECK(to_string(errc::database_profile_mismatch) == "database_profile_mismatch");
  CHECK(to_string(errc::artifact_missing) == "artifact_missing");
  CHECK(to_string(errc::data_root_profile_mismatch) == "data_root_profile_mismatch");
  CHECK(to_string(errc::idempotency_conflict) == "idempotency_conflict");
  CHECK(to_string(errc::job_expired) == "job_expired");
}
