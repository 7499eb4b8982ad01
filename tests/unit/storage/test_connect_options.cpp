// The options the PostgreSQL storage adds to every connection string (no server needed).
#include <catch2/catch.hpp>

#include "storage/detail/connect_options.hpp"

TEST_CASE("connection strings get a connect timeout and keepalives unless they set one") {
  using quire::storage::detail::with_connect_options;
  CHECK(with_connect_options("postgresql://quire@db:5432/quire_prod", 5) ==
        "postgresql://quire@db:5432/quire_prod?connect_timeout=5&keepalives=1&keepalives_idle=30"
        "&keepalives_interval=10&keepalives_count=3");
  CHECK(with_connect_options("postgres://h/db?sslmode=disable", 7) ==
        "postgres://h/db?sslmode=disable&connect_timeout=7&keepalives=1&keepalives_idle=30"
        "&keepalives_interval=10&keepalives_count=3");
  CHECK(with_connect_options("host=db dbname=quire", 5) ==
        "host=db dbname=quire connect_timeout=5 keepalives=1 keepalives_idle=30 keepalives_interval=10 "
        "keepalives_count=3");
  CHECK(with_connect_options("", 3).rfind("connect_timeout=3 keepalives=1", 0) == 0);  // libpq's environment
  // an operator's own timeout wins, and nothing else is added behind their back
  CHECK(with_connect_options("postgresql://h/db?connect_timeout=30", 5) == "postgresql://h/db?connect_timeout=30");
}
