// The job spec's parser, canonical form and engine options; see job_spec.hpp. The accepted shape
// is documented in docs/api.md.
#include "api/job_spec.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "api/result_formats.hpp"

namespace quire::api {
namespace {

using json = nlohmann::json;

bool fail(field_problem& p, std::string field, std::string message) {
  p = {std::move(field), std::move(message)};
  return false;
}

bool only_known(const json& obj, const std::string& prefix, const std::set<std::string>& known, field_problem& p) {
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
             field_problem& p) {
  if (!obj.contains(key)) return true;
  const auto& v = obj[key];
  if (!v.is_number_integer()) return fail(p, path, "must be an integer");
  long x = v.get<long>();
  if (x < lo || x > hi)
    return fail(p, path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  out = x;
  return true;
}

bool get_bool(const json& obj, const std::string& key, const std::string& path, bool& out, field_problem& p) {
  if (!obj.contains(key)) return true;
  if (!obj[key].is_boolean()) return fail(p, path, "must be a boolean");
  out = obj[key].get<bool>();
  return true;
}

bool get_enum(const json& obj, const std::string& key, const std::string& path, const std::set<std::string>& allowed,
              std::string& out, field_problem& p) {
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
bool unavailable_languages(const std::string& spec, const std::vector<std::string>& installed, field_problem& p) {
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
bool valid_notify(const json& notify, const spec_limits& limits, bool stored, std::optional<std::string>& url,
                  field_problem& p) {
  if (!only_known(notify, "notify", {"url"}, p)) return false;
  if (!notify.contains("url") || !notify["url"].is_string()) return fail(p, "notify.url", "must be a URL string");
  const auto text = notify["url"].get<std::string>();
  if (auto u = notify::parse_url(text); !u) return fail(p, "notify.url", u.err().message);
  static const notify::destination_policy none;
  if (stored) {
    url = text;
    return true;
  }
  if (auto allowed = notify::check_url(limits.webhooks ? *limits.webhooks : none, text); !allowed) {
    fail(p, "notify.url", allowed.err().message);
    p.code = "notify_url_not_allowed";
    return false;
  }
  url = text;
  return true;
}

// conversion.formats: an array of result format names (api/result_formats.hpp), each at most
// once; canonical: in the table's order, "markdown" always first (it is always produced).
bool valid_formats(const json& conv, json& out, field_problem& p) {
  if (!conv.contains("formats")) return true;
  const auto& v = conv["formats"];
  std::string list;
  json allowed = json::array();
  for (const auto& f : result_formats) {
    list += (list.empty() ? "" : ", ") + std::string(f.name);
    allowed.push_back(std::string(f.name));
  }
  if (!v.is_array() || v.empty() || v.size() > result_formats.size())
    return fail(p, "conversion.formats", "must be a non-empty array of: " + list);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string field = "conversion.formats[" + std::to_string(i) + "]";
    if (!v[i].is_string() || !find_result_format(v[i].get<std::string>())) {
      fail(p, field, "must be one of: " + list);
      p.details = {{"allowed", allowed}};
      return false;
    }
    if (!seen.insert(v[i].get<std::string>()).second) return fail(p, field, "is given more than once");
  }
  out = json::array();
  for (const auto& f : result_formats)
    if (f.name == "markdown" || seen.count(std::string(f.name))) out.push_back(std::string(f.name));
  return true;
}

// The spec in `in`, checked and with its defaults filled in. `stored`: a spec that was admitted
// before (a job row, the worker's copy), so the lane's admission checks are not made again.
// The helpers above write the first problem into `p` and answer false; this answers it.
quire::expected<job_spec, field_problem> parse_object(const json& in, const spec_limits& limits, bool stored) {
  field_problem p;
  if (!only_known(in, "", {"conversion", "execution", "retention", "notify"}, p)) return p;

  const json conv = in.value("conversion", json::object());
  const json exec = in.value("execution", json::object());
  const json ret = in.value("retention", json::object());
  job_spec s;
  s.execution.acceleration = limits.default_policy;
  s.execution.document_timeout_seconds = limits.max_timeout_seconds;
  long first = s.conversion.first_page, last = s.conversion.last_page, chunk_size = s.conversion.chunks.limit;
  long timeout = s.execution.document_timeout_seconds, priority = s.execution.priority;
  std::string ocr(to_string(s.conversion.ocr)), chunk_unit(to_string(s.conversion.chunks.unit));
  std::string policy(convert::to_string(s.execution.acceleration));
  json formats = json::array({"markdown"});

  std::set<std::string> ocr_modes, units, policies;
  for (auto m : {convert::ocr_mode::automatic, convert::ocr_mode::off, convert::ocr_mode::force})
    ocr_modes.insert(std::string(to_string(m)));
  for (auto u : {convert::chunk_unit::characters, convert::chunk_unit::tokens}) units.insert(std::string(to_string(u)));
  for (auto a : convert::acceleration_policies) policies.insert(std::string(convert::to_string(a)));

  if (!only_known(conv, "conversion",
                  {"first_page", "last_page", "extract_images", "ocr", "ocr_languages", "formats", "page_markers",
                   "chunk_size", "chunk_unit"},
                  p) ||
      !get_int(conv, "first_page", "conversion.first_page", 1, 1000000, first, p) ||
      !get_int(conv, "last_page", "conversion.last_page", 0, 1000000, last, p) ||
      !get_bool(conv, "extract_images", "conversion.extract_images", s.conversion.extract_images, p) ||
      !get_enum(conv, "ocr", "conversion.ocr", ocr_modes, ocr, p) || !valid_formats(conv, formats, p) ||
      !get_bool(conv, "page_markers", "conversion.page_markers", s.conversion.page_markers, p) ||
      !get_int(conv, "chunk_size", "conversion.chunk_size", 1, 1000000, chunk_size, p) ||
      !get_enum(conv, "chunk_unit", "conversion.chunk_unit", units, chunk_unit, p))
    return p;
  const bool chunks = std::find(formats.begin(), formats.end(), "chunks") != formats.end();
  for (const char* key : {"chunk_size", "chunk_unit"})
    if (conv.contains(key) && !chunks) {
      fail(p, std::string("conversion.") + key, "applies only when conversion.formats includes \"chunks\"");
      return p;
    }
  if (conv.contains("ocr_languages")) {
    const auto& v = conv["ocr_languages"];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 64 ||
        v.get<std::string>().find_first_not_of("abcdefghijklmnopqrstuvwxyz_+") != std::string::npos ||
        v.get<std::string>().front() == '+' || v.get<std::string>().back() == '+' ||
        v.get<std::string>().find("++") != std::string::npos) {
      fail(p, "conversion.ocr_languages", "must be tesseract language codes joined by '+', e.g. \"eng+deu\"");
      return p;
    }
    s.conversion.ocr_languages = v.get<std::string>();
    if (!stored && limits.ocr_languages && !unavailable_languages(s.conversion.ocr_languages, *limits.ocr_languages, p))
      return p;
  }
  if (last != 0 && last < first) {
    fail(p, "conversion.last_page", "must be 0 (end of document) or >= first_page");
    return p;
  }
  // A stored spec keeps the timeout it was admitted with, even where the lane's ceiling was lowered
  // since (QUIRE_DOCUMENT_TIMEOUT_SECONDS' own range bounds it).
  const long max_timeout = stored ? std::max(limits.max_timeout_seconds, 86400) : limits.max_timeout_seconds;
  if (!only_known(exec, "execution", {"acceleration_policy", "document_timeout_seconds", "priority"}, p) ||
      !get_enum(exec, "acceleration_policy", "execution.acceleration_policy", policies, policy, p) ||
      !get_int(exec, "document_timeout_seconds", "execution.document_timeout_seconds", 1, max_timeout, timeout, p) ||
      !get_int(exec, "priority", "execution.priority", -100, 100, priority, p))
    return p;
  if (!only_known(ret, "retention", {"pin"}, p) || !get_bool(ret, "pin", "retention.pin", s.pin, p))
    return p;
  if (in.contains("notify") && !valid_notify(in["notify"], limits, stored, s.notify_url, p)) return p;

  s.conversion.first_page = static_cast<int>(first);
  s.conversion.last_page = static_cast<int>(last);
  parse_ocr_mode(ocr, &s.conversion.ocr);
  s.conversion.formats = formats.get<std::vector<std::string>>();
  if (chunks) {
    s.conversion.chunks.limit = static_cast<int>(chunk_size);
    parse_chunk_unit(chunk_unit, &s.conversion.chunks.unit);
  }
  if (auto a = convert::parse_acceleration_policy(policy)) s.execution.acceleration = *a;
  s.execution.document_timeout_seconds = static_cast<int>(timeout);
  s.execution.priority = static_cast<int>(priority);
  return s;
}

}  // namespace

bool job_spec::conversion_options::operator==(const conversion_options& o) const {
  return first_page == o.first_page && last_page == o.last_page && extract_images == o.extract_images &&
         ocr == o.ocr && ocr_languages == o.ocr_languages && formats == o.formats && page_markers == o.page_markers &&
         chunks.limit == o.chunks.limit && chunks.unit == o.chunks.unit;
}

bool job_spec::wants(std::string_view format) const {
  return std::find(conversion.formats.begin(), conversion.formats.end(), format) != conversion.formats.end();
}

std::string_view to_string(convert::ocr_mode mode) {
  switch (mode) {
    case convert::ocr_mode::automatic: return "auto";
    case convert::ocr_mode::off: return "off";
    case convert::ocr_mode::force: return "force";
  }
  return "auto";
}

bool parse_ocr_mode(std::string_view text, convert::ocr_mode* out) {
  for (auto m : {convert::ocr_mode::automatic, convert::ocr_mode::off, convert::ocr_mode::force})
    if (text == to_string(m)) {
      *out = m;
      return true;
    }
  return false;
}

std::string_view to_string(convert::chunk_unit unit) {
  return unit == convert::chunk_unit::tokens ? "tokens" : "characters";
}

bool parse_chunk_unit(std::string_view text, convert::chunk_unit* out) {
  for (auto u : {convert::chunk_unit::characters, convert::chunk_unit::tokens})
    if (text == to_string(u)) {
      *out = u;
      return true;
    }
  return false;
}

quire::expected<job_spec, field_problem> parse_job_spec(std::string_view text, const spec_limits& limits) {
  json in = json::object();
  if (!text.empty()) {
    auto dups = std::make_shared<duplicate_keys>();
    in = json::parse(text, [dups](int d, json::parse_event_t e, json& v) { return (*dups)(d, e, v); }, false);
    if (in.is_discarded()) return field_problem{"job_spec", "is not valid JSON"};
    if (!dups->first().empty()) return field_problem{dups->first().substr(0, 128), "is given more than once"};
  }
  return parse_object(in, limits, false);
}

quire::expected<job_spec, field_problem> read_stored_spec(const json& stored, const spec_limits& service) {
  return parse_object(stored, service, true);
}

json to_json(const job_spec& s) {
  const auto& c = s.conversion;
  json out{{"conversion",
            {{"first_page", c.first_page}, {"last_page", c.last_page}, {"extract_images", c.extract_images},
             {"ocr", std::string(to_string(c.ocr))}, {"ocr_languages", c.ocr_languages}}},
           {"execution",
            {{"acceleration_policy", std::string(convert::to_string(s.execution.acceleration))},
             {"document_timeout_seconds", s.execution.document_timeout_seconds},
             {"priority", s.execution.priority}}},
           {"retention", {{"pin", s.pin}}}};
  if (c.formats.size() > 1) out["conversion"]["formats"] = c.formats;
  if (s.wants("chunks")) {
    out["conversion"]["chunk_size"] = c.chunks.limit;
    out["conversion"]["chunk_unit"] = std::string(to_string(c.chunks.unit));
  }
  if (c.page_markers) out["conversion"]["page_markers"] = true;
  if (s.notify_url) out["notify"] = {{"url", *s.notify_url}};
  return out;
}

bool work_budget::operator==(const work_budget& o) const {
  return max_pages == o.max_pages && timeout_seconds == o.timeout_seconds &&
         limits.page_seconds == o.limits.page_seconds && limits.page_content_bytes == o.limits.page_content_bytes &&
         limits.document_content_bytes == o.limits.document_content_bytes &&
         limits.page_operators == o.limits.page_operators;
}

json to_json(const work_budget& b) {
  return {{"max_pages", b.max_pages},
          {"timeout_seconds", b.timeout_seconds},
          {"limits",
           {{"page_seconds", b.limits.page_seconds},
            {"page_content_bytes", b.limits.page_content_bytes},
            {"document_content_bytes", b.limits.document_content_bytes},
            {"page_operators", b.limits.page_operators}}}};
}

// Written by to_json above and read by the same binary (the parent and its worker): a missing field
// means "no limit", the engine's own default.
work_budget read_work_budget(const json& stored) {
  work_budget b;
  const json lim = stored.value("limits", json::object());
  b.max_pages = stored.value("max_pages", 0);
  b.timeout_seconds = stored.value("timeout_seconds", 0.0);
  b.limits.page_seconds = lim.value("page_seconds", 0.0);
  b.limits.page_content_bytes = lim.value("page_content_bytes", std::uint64_t{0});
  b.limits.document_content_bytes = lim.value("document_content_bytes", std::uint64_t{0});
  b.limits.page_operators = lim.value("page_operators", std::uint64_t{0});
  return b;
}

convert::options to_convert_options(const job_spec& spec, const work_budget& budget, std::string asset_prefix) {
  convert::options o;
  o.first_page = spec.conversion.first_page;
  o.last_page = spec.conversion.last_page;
  o.max_pages = budget.max_pages;
  o.limits = budget.limits;
  o.timeout_seconds = budget.timeout_seconds;
  o.extract_images = spec.conversion.extract_images;
  o.asset_prefix = std::move(asset_prefix);
  o.ocr = spec.conversion.ocr;
  o.ocr_languages = spec.conversion.ocr_languages;
  o.page_markers = spec.conversion.page_markers;
  o.acceleration = spec.execution.acceleration;
  return o;
}

}  // namespace quire::api
