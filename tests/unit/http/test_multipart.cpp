#include <catch2/catch.hpp>

#include "http/multipart.hpp"

using namespace quire::http;

TEST_CASE("boundary from the content type") {
  CHECK(form_boundary("multipart/form-data; boundary=abc") == std::optional<std::string>("abc"));
  CHECK(form_boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"") == std::optional<std::string>("a b"));
  CHECK_FALSE(form_boundary("application/pdf"));
  CHECK_FALSE(form_boundary("multipart/form-data"));
}

TEST_CASE("parts keep binary bodies intact") {
  std::string payload("a\0b\r\n--notit\r\nc", 15);
  std::string body = "preamble\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.pdf\"\r\n"
                     "Content-Type: Application/PDF\r\n\r\n" + payload + "\r\n--B\r\n"
                     "Content-Disposition: form-data; name=\"job_spec\"\r\n\r\n{}\r\n--B--\r\n";
  auto parts = parse_form(body, "B");
  REQUIRE(parts);
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[0].name == "file");
  CHECK((*parts)[0].filename == "x.pdf");
  CHECK((*parts)[0].content_type == "application/pdf");
  CHECK((*parts)[0].body == payload);
  CHECK((*parts)[1].body == "{}");
  CHECK_FALSE(parse_form("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "B"));
  CHECK_FALSE(parse_form("no delimiter", "B"));
  // Part headers are bounded (16 KiB), like request headers.
  const std::string pad = "X-Pad: " + std::string(17000, 'p') + "\r\n";
  CHECK_FALSE(parse_form("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n" + pad + "\r\nx\r\n--B--\r\n", "B"));
  CHECK(parse_form("--B\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + std::string(1000, 'p') +
                   "\r\n\r\nx\r\n--B--\r\n", "B"));
}

TEST_CASE("a backslash in a quoted filename escapes only a quote or a backslash") {
  auto filename = [](const std::string& quoted) {
    auto parts = parse_form("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=" + quoted +
                                "\r\n\r\nx\r\n--B--\r\n",
                            "B");
    REQUIRE(parts);
    REQUIRE(parts->size() == 1);
    return (*parts)[0].filename;
  };
  // What browsers send for a Windows path: the backslashes are part of the name.
  CHECK(filename(R"("C:\temp\..\evil.pdf")") == R"(C:\temp\..\evil.pdf)");
  CHECK(filename(R"("C:\\temp\\evil.pdf")") == R"(C:\temp\evil.pdf)");
  CHECK(filename(R"("say \"hi\".pdf")") == R"(say "hi".pdf)");
}
