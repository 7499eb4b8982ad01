// The webhook HTTP client (libcurl easy interface); see sender.hpp.
#include "notify/sender.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace quire::notify {
namespace {

struct sink {
  std::size_t received = 0;
  std::size_t limit = 0;
  bool too_large = false;
};

// The answer's body is read and dropped; past the limit the transfer is aborted.
std::size_t on_body(char*, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<sink*>(user);
  s->received += size * n;
  if (s->received > s->limit) {
    s->too_large = true;
    return 0;  // CURLE_WRITE_ERROR
  }
  return size * n;
}

}  // namespace

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

post_outcome post(const post_request& r) {
  post_outcome out;
  std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) {
    out.error = "curl_easy_init failed";
    return out;
  }
  CURL* c = h.get();
  // "host:port:address": libcurl connects to the checked address and asks no resolver.
  const bool v6 = r.to.address.find(':') != std::string::npos;
  const std::string pin = r.to.url.host + ":" + std::to_string(r.to.url.port) + ":" +
                          (v6 ? "[" + r.to.address + "]" : r.to.address);
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> resolve(curl_slist_append(nullptr, pin.c_str()), curl_slist_free_all);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  for (const auto& [k, v] : r.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_guard(headers, curl_slist_free_all);
  sink body;
  body.limit = r.max_response_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // ignore http_proxy & co: the pinned address is the destination
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_response_bytes));
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "quire-webhooks/1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out.http_status = static_cast<int>(status);
  if (body.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    out.error = "response body larger than " + std::to_string(r.max_response_bytes) + " bytes";
  else if (rc != CURLE_OK)
    out.error = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
  return out;
}

}  // namespace quire::notify
