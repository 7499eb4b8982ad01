// notify/: Standard Webhooks signing (checked against Python's hmac, computed independently), the
// destination policy (allow-list, address classes, URL rules) and the delivery schedule.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "notify/delivery_loop.hpp"
#include "notify/destination.hpp"
#include "notify/signature.hpp"

using namespace quire::notify;
using namespace std::chrono_literals;

TEST_CASE("Standard Webhooks signatures match an independent HMAC") {
  const auto key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4uWGc+Gy3Ws=");
  REQUIRE(key);
  CHECK(key->size() == 32);
  // python3: base64.b64encode(hmac.new(key, b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}',
  //                                     hashlib.sha256).digest())
  CHECK(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
        "v1,tdORi4r/w4dyxjYfBarklByieZALQiByS9vxKfLMHYk=");
  // Any change of id, timestamp or body changes the signature.
  CHECK(sign(*key, "msg_other", 1614265330, R"({"test": 2432232314})") !=
        sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"));
  CHECK(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})") !=
        sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"));

  CHECK_FALSE(decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4uWGc+Gy3Ws="));  // no prefix
  CHECK_FALSE(decode_secret("whsec_not base64!"));
  CHECK_FALSE(decode_secret("whsec_c2hvcnQ="));  // "short": fewer than 24 bytes
  CHECK(base64_decode("YWJj") == std::string("abc"));
  CHECK(base64_decode("YWI=") == std::string("ab"));
  CHECK(base64_decode("YQ==") == std::string("a"));
  CHECK(base64_encode("ab") == "YWI=");
}

TEST_CASE("addresses are classified: loopback, private and link-local need the operator's consent") {
  CHECK(classify_literal("127.0.0.1") == address_class::loopback);
  CHECK(classify_literal("127.255.1.2") == address_class::loopback);
  CHECK(classify_literal("::1") == address_class::loopback);
  CHECK(classify_literal("::ffff:127.0.0.1") == address_class::loopback);
  CHECK(classify_literal("10.1.2.3") == address_class::private_);
  CHECK(classify_literal("172.16.0.1") == address_class::private_);
  CHECK(classify_literal("172.31.255.255") == address_class::private_);
  CHECK(classify_literal("172.32.0.1") == address_class::public_);
  CHECK(classify_literal("192.168.1.1") == address_class::private_);
  CHECK(classify_literal("100.64.0.1") == address_class::private_);
  CHECK(classify_literal("fd12::1") == address_class::private_);
  CHECK(classify_literal("169.254.169.254") == address_class::link_local);  // cloud metadata
  CHECK(classify_literal("fe80::1") == address_class::link_local);
  CHECK(classify_literal("::ffff:169.254.169.254") == address_class::link_local);
  CHECK(classify_literal("0.0.0.0") == address_class::forbidden);
  CHECK(classify_literal("::") == address_class::forbidden);
  CHECK(classify_literal("224.0.0.1") == address_class::forbidden);
  CHECK(classify_literal("255.255.255.255") == address_class::forbidden);
  CHECK(classify_literal("ff02::1") == address_class::forbidden);
  CHECK(classify_literal("64:ff9b::7f00:1") == address_class::forbidden);
  CHECK(classify_literal("2002:7f00:1::") == address_class::forbidden);
  CHECK(classify_literal("93.184.216.34") == address_class::public_);
  CHECK(classify_literal("2606:2800:220:1::") == address_class::public_);
  CHECK_FALSE(classify_literal("example.com"));

  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.0.5", &v4.sin_addr);
  CHECK(classify(reinterpret_cast<sockaddr*>(&v4)) == address_class::private_);
}

TEST_CASE("notify URLs: allow-list, address classes and URL rules") {
  destination_policy p;
  auto allowed = [&p](const std::string& url) { return check_url(p, url).ok(); };
  // Nothing allowed by default.
  auto none = check_url(p, "https://hooks.example.com/x");
  REQUIRE_FALSE(none);
  CHECK(none.err().code == errc::destination_refused);
  CHECK(none.err().message == "host hooks.example.com is not allowed: this service allows no webhook destinations");

  auto hosts = parse_allowed_hosts(" hooks.example.com , *.corp.example:8443,127.0.0.1,[::1]:9000");
  REQUIRE(hosts);
  p.allowed_hosts = *hosts;
  CHECK(p.allowed_hosts.size() == 4);
  CHECK(allowed("https://hooks.example.com/x"));
  CHECK(allowed("http://HOOKS.example.COM:8080/x?y=1"));  // any port without one in the entry
  CHECK_FALSE(allowed("https://evil.example.com/x"));
  CHECK(check_url(p, "https://evil.example.com/x").err().message ==
        "host evil.example.com is not on this service's webhook allow-list");
  CHECK_FALSE(allowed("https://hooks.example.com.evil.net/x"));
  CHECK(allowed("https://a.corp.example:8443/x"));
  CHECK(allowed("https://a.b.corp.example:8443/x"));
  CHECK_FALSE(allowed("https://corp.example:8443/x"));      // the wildcard wants a subdomain
  CHECK_FALSE(allowed("https://a.corp.example/x"));         // 443, not 8443
  // Allowed host, but a loopback address: refused until the operator allows loopback.
  auto loopback = check_url(p, "http://127.0.0.1:5000/x");
  REQUIRE_FALSE(loopback);
  CHECK(loopback.err().code == errc::destination_refused);
  CHECK(loopback.err().message == "address 127.0.0.1 is loopback, which this service does not allow");
  CHECK_FALSE(allowed("http://[::1]:9000/x"));
  auto networks = parse_allowed_networks("loopback");
  REQUIRE(networks);
  p.networks = *networks;
  CHECK(p.networks.loopback);
  CHECK_FALSE(p.networks.private_);
  CHECK_FALSE(p.networks.link_local);
  CHECK(allowed("http://127.0.0.1:5000/x"));
  CHECK(allowed("http://[::1]:9000/x"));
  CHECK_FALSE(allowed("http://[::1]:9001/x"));
  // A URL that does not parse is not a refusal of the policy but invalid_url, parse_url's answer.
  auto malformed = check_url(p, "gopher://hooks.example.com/x");
  REQUIRE_FALSE(malformed);
  CHECK(malformed.err().code == errc::invalid_url);
  CHECK(malformed.err().message == "must be an http or https URL");

  // URL rules.
  auto invalid = [](const std::string& url) {
    auto u = parse_url(url);
    REQUIRE_FALSE(u);
    CHECK(u.err().code == errc::invalid_url);
    return u.err().message;
  };
  CHECK(invalid("ftp://hooks.example.com/x") == "must be an http or https URL");
  CHECK(invalid("file:///etc/passwd") == "must be an http or https URL");
  CHECK(invalid("https://user:pw@hooks.example.com/x") == "must not carry credentials");
  CHECK(invalid("hooks.example.com/x") == "is not an absolute URL");
  CHECK(invalid("https://hooks.example.com/x#frag") == "must not have a fragment");
  CHECK(invalid("https://" + std::string(3000, 'a') + ".com/") == "is longer than 2048 characters");
  auto u = parse_url("https://Hooks.Example.com/x");
  REQUIRE(u);
  CHECK(u->host == "hooks.example.com");
  CHECK(u->port == 443);
  CHECK(u->scheme == "https");
  auto v6 = parse_url("http://[::1]:9000/");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9000);

  // The settings' errors (QUIRE_WEBHOOK_ALLOWED_HOSTS, QUIRE_WEBHOOK_ALLOW_NETWORKS).
  auto url_entry = parse_allowed_hosts("https://hooks.example.com");
  REQUIRE_FALSE(url_entry);
  CHECK(url_entry.err().code == errc::invalid_settings);
  CHECK(url_entry.err().message == "'https://hooks.example.com' is not a host, host:port or *.domain entry");
  CHECK_FALSE(parse_allowed_hosts("*"));
  auto everything = parse_allowed_networks("loopback,everything");
  REQUIRE_FALSE(everything);
  CHECK(everything.err().code == errc::invalid_settings);
  CHECK(everything.err().message == "expected a comma list of loopback, private, link_local; got 'everything'");
  // Empty: nothing allowed (the defaults).
  REQUIRE(parse_allowed_hosts(" , "));
  CHECK(parse_allowed_hosts(" , ")->empty());
  REQUIRE(parse_allowed_networks(""));
  CHECK_FALSE(parse_allowed_networks("")->loopback);
}

TEST_CASE("delivery resolves names and checks the resolved address, not the name") {
  destination_policy p;
  p.allowed_hosts = {"localhost"};
  // "localhost" is on the list, but it resolves to loopback: refused until loopback is allowed.
  const auto refused = resolve_destination(p, "http://localhost:9/x");
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::destination_refused);
  CHECK(refused.err().message.find("loopback") != std::string::npos);
  // So is a URL that does not parse: the delivery must not use it either.
  const auto malformed = resolve_destination(p, "http://user:pw@localhost:9/x");
  REQUIRE_FALSE(malformed);
  CHECK(malformed.err().code == errc::destination_refused);
  CHECK(malformed.err().message == "must not carry credentials");
  p.networks.loopback = true;
  auto d = resolve_destination(p, "http://localhost:9/x");
  REQUIRE(d);
  CHECK((d->address == "127.0.0.1" || d->address == "::1"));
  CHECK(d->url.port == 9);
}

TEST_CASE("webhook bodies and the retry schedule") {
  quire::storage::webhook_delivery d;
  d.id = "msg_x_succeeded";
  d.event = "job.succeeded";
  d.created_at = quire::storage::time_point{} + std::chrono::milliseconds(1614265330123);
  const auto body = nlohmann::json::parse(event_body(d, {{"job_id", "x"}, {"status", "succeeded"}}));
  CHECK(body["type"] == "job.succeeded");
  CHECK(body["timestamp"] == "2021-02-25T15:02:10.123Z");
  CHECK(body["data"]["job_id"] == "x");

  delivery_settings s;
  s.backoff = 5s;
  s.backoff_max = 1h;
  CHECK(retry_delay(s, 1) == 5s);
  CHECK(retry_delay(s, 2) == 10s);
  CHECK(retry_delay(s, 5) == 80s);
  CHECK(retry_delay(s, 30) == 1h);
}
