// Job spec validation; see job_spec.hpp. The accepted shape is documented in docs/api.md.
#include "http/job_spec.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "actors/result_formats.hpp"

namespace quire::http {
namespace {

using json = nlohmann::json;

bool fail(spec_problem& p, std::string field, std::string message) {
  p = {std::move(field), std::move(message)};
  return false;
}

bool only_known(const json& obj, const std::string& prefix, const std::set<std::string>& known, spec_problem& p) {
  if (!obj.is_object()) return fail(p, prefix.empty() ? "$" : prefix, "must be an object");
  for (const auto& [k, v] : obj.items()) {
    if (known.count(k)) continue;
    // An empty name is still named: a problem always has a field to point at.
    const std::string name = k.empty() ? "\"\"" : k;
    return fail(p, prefix.empty() ? name : prefix + "." + name, "unknown field");
  }
  return true;
}

bool get_int(const json& obj, const std::string& key, const std::string& path, long lo, long hi, long& out,
             spec_problem& p) {
  if (!obj.contains(key)) return true;
  const auto& v = obj[key];
  if (!v.is_number_integer()) return fail(p, path, "must be an integer");
  long x = v.get<long>();
  if (x < lo || x > hi)
    return fail(p, path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  out = x;
  return true;
}

bool get_bool(const json& obj, const std::string& key, const std::string& path, bool& out, spec_problem& p) {
  if (!obj.contains(key)) return true;
  if (!obj[key].is_boolean()) return fail(p, path, "must be a boolean");
  out = obj[key].get<bool>();
  return true;
}

bool get_enum(const json& obj, const std::string& key, const std::string& path, const std::set<std::string>& allowed,
              std::string& out, spec_problem& p) {
  if (!obj.contains(key)) return true;
  const auto& v = obj[key];
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  if (!v.is_string() || !allowed.count(v.get<std::string>())) return fail(p, path, "must be one of: " + list);
  out = v.get<std::string>();
  return true;
}

// Every '+'-joined name of `spec` must be in `installed`; else the problem lists what is missing
// and what this lane has, so a client can pick again without a second request.
bool unavailable_languages(const std::string& spec, const std::vector<std::string>& installed, spec_problem& p) {
  json missing = json::array();
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t plus = spec.find('+', start);
    if (plus == std::string::npos) plus = spec.size();
    const std::string name = spec.substr(start, plus - start);
    if (std::find(installed.begin(), installed.end(), name) == installed.end() &&
        std::find(missing.begin(), missing.end(), name) == missing.end())
      missing.push_back(name);
    start = plus + 1;
  }
  if (missing.empty()) return true;
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m.get<std::string>();
  fail(p, "conversion.ocr_languages",
       "OCR language(s) not installed on this service: " + list +
           " (GET /v1/info lists ocr_languages)");
  p.code = "ocr_language_unavailable";
  p.details = {{"missing", missing}, {"installed", installed}};
  return false;
}

// The path of the first key repeated within one object ("conversion.ocr"), "" when none. JSON
// leaves duplicates undefined and the parser keeps the last: the spec that runs would not be the
// one the client reviewed, so a repeated key is refused rather than guessed at.
class duplicate_keys {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        frames_.push_back({{}, key_path_});
        break;
      case json::parse_event_t::object_end:
        key_path_ = frames_.back().path;
        frames_.pop_back();
        break;
      case json::parse_event_t::key: {
        auto& f = frames_.back();
        auto k = parsed.get<std::string>();
        key_path_ = f.path.empty() ? k : f.path + "." + k;
        if (!f.keys.insert(std::move(k)).second && first_.empty()) first_ = key_path_;
        break;
      }
      default:
        break;
    }
    return true;
  }
  const std::string& first() const { return first_; }

 private:
  struct frame {
    std::set<std::string> keys;
    std::string path;
  };
  std::vector<frame> frames_;
  std::string key_path_, first_;
};

// notify: {"url": "https://..."}: an http(s) URL whose host the lane allows (check_url; the
// resolved addresses are checked again at every delivery attempt).
bool valid_notify(const json& notify, const spec_limits& limits, std::optional<std::string>& url, spec_problem& p) {
  if (!only_known(notify, "notify", {"url"}, p)) return false;
  if (!notify.contains("url") || !notify["url"].is_string()) return fail(p, "notify.url", "must be a URL string");
  const auto text = notify["url"].get<std::string>();
  std::string why;
  if (!notify::parse_url(text, why)) return fail(p, "notify.url", why);
  static const notify::destination_policy none;
  if (auto refused = notify::check_url(limits.webhooks ? *limits.webhooks : none, text)) {
    fail(p, "notify.url", *refused);
    p.code = "notify_url_not_allowed";
    return false;
  }
  url = text;
  return true;
}

// conversion.formats: an array of result format names (actors/result_formats.hpp), each at most
// once; canonical: in the table's order, "markdown" always first (it is always produced).
bool valid_formats(const json& conv, json& out, spec_problem& p) {
  if (!conv.contains("formats")) return true;
  const auto& v = conv["formats"];
  std::string list;
  json allowed = json::array();
  for (const auto& f : actors::result_formats) {
    list += (list.empty() ? "" : ", ") + std::string(f.name);
    allowed.push_back(std::string(f.name));
  }
  if (!v.is_array() || v.empty() || v.size() > actors::result_formats.size())
    return fail(p, "conversion.formats", "must be a non-empty array of: " + list);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string field = "conversion.formats[" + std::to_string(i) + "]";
    if (!v[i].is_string() || !actors::find_result_format(v[i].get<std::string>())) {
      fail(p, field, "must be one of: " + list);
      p.details = {{"allowed", allowed}};
      return false;
    }
    if (!seen.insert(v[i].get<std::string>()).second) return fail(p, field, "is given more than once");
  }
  out = json::array();
  for (const auto& f : actors::result_formats)
    if (f.name == "markdown" || seen.count(std::string(f.name))) out.push_back(std::string(f.name));
  return true;
}

}  // namespace

std::optional<json> validate_job_spec(const std::string& text, const spec_limits& limits, spec_problem& p) {
  json in = json::object();
  if (!text.empty()) {
    auto dups = std::make_shared<duplicate_keys>();
    in = json::parse(text, [dups](int d, json::parse_event_t e, json& v) { return (*dups)(d, e, v); }, false);
    if (in.is_discarded()) {
      fail(p, "job_spec", "is not valid JSON");
      return std::nullopt;
    }
    if (!dups->first().empty()) {
      fail(p, dups->first().substr(0, 128), "is given more than once");
      return std::nullopt;
    }
  }
  if (!only_known(in, "", {"conversion", "execution", "retention", "notify"}, p)) return std::nullopt;

  json conv = in.value("conversion", json::object());
  json exec = in.value("execution", json::object());
  json ret = in.value("retention", json::object());
  long first = 1, last = 0, timeout = limits.max_timeout_seconds, priority = 0;
  long chunk_size = 2000;  // convert::chunk_options' default
  bool images = false, pin = false, page_markers = false;
  std::string ocr = "auto", langs = "eng", policy = limits.default_policy, chunk_unit = "characters";
  json formats = json::array({"markdown"});

  if (!only_known(conv, "conversion",
                  {"first_page", "last_page", "extract_images", "ocr", "ocr_languages", "formats", "page_markers",
                   "chunk_size", "chunk_unit"},
                  p) ||
      !get_int(conv, "first_page", "conversion.first_page", 1, 1000000, first, p) ||
      !get_int(conv, "last_page", "conversion.last_page", 0, 1000000, last, p) ||
      !get_bool(conv, "extract_images", "conversion.extract_images", images, p) ||
      !get_enum(conv, "ocr", "conversion.ocr", {"auto", "off", "force"}, ocr, p) ||
      !valid_formats(conv, formats, p) || !get_bool(conv, "page_markers", "conversion.page_markers", page_markers, p) ||
      !get_int(conv, "chunk_size", "conversion.chunk_size", 1, 1000000, chunk_size, p) ||
      !get_enum(conv, "chunk_unit", "conversion.chunk_unit", {"characters", "tokens"}, chunk_unit, p))
    return std::nullopt;
  const bool chunks = std::find(formats.begin(), formats.end(), "chunks") != formats.end();
  for (const char* key : {"chunk_size", "chunk_unit"})
    if (conv.contains(key) && !chunks) {
      fail(p, std::string("conversion.") + key, "applies only when conversion.formats includes \"chunks\"");
      return std::nullopt;
    }
  if (conv.contains("ocr_languages")) {
    const auto& v = conv["ocr_languages"];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 64 ||
        v.get<std::string>().find_first_not_of("abcdefghijklmnopqrstuvwxyz_+") != std::string::npos ||
        v.get<std::string>().front() == '+' || v.get<std::string>().back() == '+' ||
        v.get<std::string>().find("++") != std::string::npos) {
      fail(p, "conversion.ocr_languages", "must be tesseract language codes joined by '+', e.g. \"eng+deu\"");
      return std::nullopt;
    }
    langs = v.get<std::string>();
    if (limits.ocr_languages && !unavailable_languages(langs, *limits.ocr_languages, p)) return std::nullopt;
  }
  if (last != 0 && last < first) {
    fail(p, "conversion.last_page", "must be 0 (end of document) or >= first_page");
    return std::nullopt;
  }
  if (!only_known(exec, "execution", {"acceleration_policy", "document_timeout_seconds", "priority"}, p) ||
      !get_enum(exec, "acceleration_policy", "execution.acceleration_policy",
                {"gpu_required", "gpu_prefer", "cpu_only"}, policy, p) ||
      !get_int(exec, "document_timeout_seconds", "execution.document_timeout_seconds", 1,
               limits.max_timeout_seconds, timeout, p) ||
      !get_int(exec, "priority", "execution.priority", -100, 100, priority, p))
    return std::nullopt;
  if (!only_known(ret, "retention", {"pin"}, p) || !get_bool(ret, "pin", "retention.pin", pin, p))
    return std::nullopt;

  std::optional<std::string> notify_url;
  if (in.contains("notify") && !valid_notify(in["notify"], limits, notify_url, p)) return std::nullopt;

  json out{{"conversion",
               {{"first_page", first}, {"last_page", last}, {"extract_images", images}, {"ocr", ocr},
                {"ocr_languages", langs}}},
              {"execution",
               {{"acceleration_policy", policy}, {"document_timeout_seconds", timeout}, {"priority", priority}}},
              {"retention", {{"pin", pin}}}};
  // Only when they change something: a spec without them keeps the canonical form (and the
  // idempotency fingerprint) it always had.
  if (formats.size() > 1) out["conversion"]["formats"] = formats;
  if (chunks) {
    out["conversion"]["chunk_size"] = chunk_size;
    out["conversion"]["chunk_unit"] = chunk_unit;
  }
  if (page_markers) out["conversion"]["page_markers"] = true;
  if (notify_url) out["notify"] = {{"url", *notify_url}};
  return out;
}

}  // namespace quire::http
