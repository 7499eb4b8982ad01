// The result bundle's zip archive (libzip, in memory) and the Markdown with images as data URIs;
// see bundle.hpp.
#include "http/bundle.hpp"

#include <openssl/evp.h>
#include <zip.h>

#include <cstdio>
#include <unordered_map>

namespace quire::http {
namespace {

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

// libzip's message for `err`, released.
std::string message_of(zip_error_t* err) {
  std::string m = zip_error_strerror(err);
  zip_error_fini(err);
  return m;
}

}  // namespace

actors::api_result<std::string> make_zip(const std::vector<zip_entry>& entries) {
  auto failed = [](const std::string& why) { return actors::api_error{"internal_error", "cannot build the bundle: " + why}; };
  zip_error_t err;
  zip_error_init(&err);
  // The archive is written into this growing buffer; kept (zip_source_keep) past zip_close so
  // its bytes can be read back.
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!buffer) return failed(message_of(&err));
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &err);
  if (!archive) {
    zip_source_free(buffer);
    return failed(message_of(&err));
  }
  zip_error_fini(&err);
  zip_source_keep(buffer);
  auto give_up = [&] {
    auto e = failed(zip_strerror(archive));
    zip_discard(archive);
    zip_source_free(buffer);
    return e;
  };
  for (const auto& e : entries) {
    // No copy: libzip reads the caller's bytes when the archive is written (zip_close).
    zip_source_t* file = zip_source_buffer(archive, e.bytes.data(), e.bytes.size(), 0);
    if (!file) return give_up();
    const zip_int64_t index = zip_file_add(archive, e.name.c_str(), file, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (index < 0) {
      zip_source_free(file);
      return give_up();
    }
    if (zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), e.compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                 0) < 0)
      return give_up();
  }
  if (zip_close(archive) < 0) return give_up();

  std::string out;
  bool read_ok = zip_source_open(buffer) == 0;
  if (read_ok) {
    read_ok = zip_source_seek(buffer, 0, SEEK_END) == 0;
    const zip_int64_t size = read_ok ? zip_source_tell(buffer) : -1;
    read_ok = size >= 0 && zip_source_seek(buffer, 0, SEEK_SET) == 0;
    if (read_ok) {
      out.resize(static_cast<std::size_t>(size));
      read_ok = zip_source_read(buffer, out.data(), static_cast<zip_uint64_t>(size)) == size;
    }
    zip_source_close(buffer);
  }
  const std::string why = read_ok ? "" : zip_error_strerror(zip_source_error(buffer));
  zip_source_free(buffer);
  if (!read_ok) return failed(why);
  return out;
}

std::string embed_images(std::string_view markdown, const std::vector<embedded_image>& images, std::string_view prefix) {
  std::unordered_map<std::string_view, const embedded_image*> by_name;
  for (const auto& i : images) by_name.emplace(i.name, &i);
  const std::string open = "](" + std::string(prefix);
  std::string out;
  out.reserve(markdown.size());
  std::size_t at = 0;
  for (std::size_t hit = markdown.find(open); hit != std::string_view::npos; hit = markdown.find(open, at)) {
    const std::size_t name_at = hit + open.size();
    const std::size_t close = markdown.find(')', name_at);
    const auto found = close == std::string_view::npos ? by_name.end() : by_name.find(markdown.substr(name_at, close - name_at));
    if (found == by_name.end()) {  // not one of the images: as it is
      out.append(markdown.substr(at, name_at - at));
      at = name_at;
      continue;
    }
    out.append(markdown.substr(at, hit - at));
    out += "](data:" + found->second->media_type + ";base64," + base64(found->second->bytes) + ")";
    at = close + 1;
  }
  out.append(markdown.substr(at));
  return out;
}

}  // namespace quire::http
