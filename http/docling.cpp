// docling-serve options and response shapes; see docling.hpp.
#include "http/docling.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

namespace quire::http::docling {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// pydantic's lenient booleans, which is what docling-serve accepts in a form ("True" is what
// Python's requests sends for True).
std::optional<bool> parse_bool(std::string_view v) {
  static const std::set<std::string> yes{"true", "1", "yes", "on", "t", "y"}, no{"false", "0", "no", "off", "f", "n"};
  const auto l = lower(trim(v));
  if (yes.count(l)) return true;
  if (no.count(l)) return false;
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view v) {
  const auto t = trim(v);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// Values given as a list, one per field or comma-separated in one ("md,text" from a client that
// joins them), trimmed, empty ones dropped.
std::vector<std::string> list_of(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      auto item = trim(std::string_view(v).substr(start, comma - start));
      if (!item.empty()) out.push_back(std::move(item));
      start = comma + 1;
    }
  }
  return out;
}

const std::string* single(const option_values& in, const std::string& name) {
  auto it = in.find(name);
  if (it == in.end() || it->second.empty()) return nullptr;
  return &it->second.back();
}

// Options that change nothing in what quire produces: the engines and models docling picks
// between (quire has one engine), knobs of those models, and what only matters for other input
// formats or for batches. Accepted silently: a client sending its defaults is not told off.
const std::set<std::string>& no_effect() {
  static const std::set<std::string> s{
      "from_formats", "pdf_backend", "table_mode", "table_cell_matching", "images_scale", "abort_on_error",
      "ocr_preset", "layout_preset", "table_structure_preset", "code_formula_preset", "picture_classification_preset",
      "picture_description_preset", "vlm_pipeline_preset", "picture_description_area_threshold",
      "do_pdf_heading_hierarchy", "pdf_heading_hierarchy_options", "chunking_options", "chunking_preset",
      "return_as_file", "ocr_custom_config", "layout_custom_config", "table_structure_custom_config"};
  return s;
}

// Enrichments quire does not run: reported when asked for (true).
const std::set<std::string>& enrichments() {
  static const std::set<std::string> s{"do_code_enrichment",     "do_formula_enrichment",   "do_picture_classification",
                                       "do_picture_description", "do_chart_extraction",     "include_page_images"};
  return s;
}

// Model configurations quire has no use for: reported when given a value.
const std::set<std::string>& model_configs() {
  static const std::set<std::string> s{"picture_description_local",
                                       "picture_description_api",
                                       "vlm_pipeline_model",
                                       "vlm_pipeline_model_local",
                                       "vlm_pipeline_model_api",
                                       "vlm_pipeline_custom_config",
                                       "picture_description_custom_config",
                                       "code_formula_custom_config",
                                       "picture_classification_custom_config"};
  return s;
}

bool blank(const std::vector<std::string>& values) {
  for (const auto& v : values) {
    const auto t = trim(v);
    if (!t.empty() && t != "null" && t != "{}" && t != "[]") return false;
  }
  return true;
}

}  // namespace

quire::expected<option_values, field_problem> from_json(const json& options) {
  option_values out;
  if (options.is_null()) return out;
  if (!options.is_object()) return field_problem{"options", "must be an object"};
  for (const auto& [name, v] : options.items()) {
    auto& values = out[name];
    auto add = [&values](const json& x) {
      if (x.is_string()) values.push_back(x.get<std::string>());
      else if (x.is_null()) values.emplace_back("null");
      else values.push_back(x.dump());
    };
    if (v.is_array())
      for (const auto& x : v) add(x);
    else
      add(v);
  }
  return out;
}

std::string tesseract_language(std::string_view docling_name) {
  static const std::map<std::string, std::string> iso{
      {"af", "afr"}, {"ar", "ara"}, {"be", "bel"}, {"bg", "bul"}, {"bn", "ben"}, {"ca", "cat"}, {"cs", "ces"},
      {"cy", "cym"}, {"da", "dan"}, {"de", "deu"}, {"el", "ell"}, {"en", "eng"}, {"eo", "epo"}, {"es", "spa"},
      {"et", "est"}, {"eu", "eus"}, {"fa", "fas"}, {"fi", "fin"}, {"fr", "fra"}, {"ga", "gle"}, {"gl", "glg"},
      {"he", "heb"}, {"hi", "hin"}, {"hr", "hrv"}, {"hu", "hun"}, {"id", "ind"}, {"is", "isl"}, {"it", "ita"},
      {"ja", "jpn"}, {"ko", "kor"}, {"la", "lat"}, {"lt", "lit"}, {"lv", "lav"}, {"mk", "mkd"}, {"ms", "msa"},
      {"mt", "mlt"}, {"nl", "nld"}, {"no", "nor"}, {"pl", "pol"}, {"pt", "por"}, {"ro", "ron"}, {"ru", "rus"},
      {"sk", "slk"}, {"sl", "slv"}, {"sq", "sqi"}, {"sr", "srp"}, {"sv", "swe"}, {"sw", "swa"}, {"ta", "tam"},
      {"th", "tha"}, {"tr", "tur"}, {"uk", "ukr"}, {"ur", "urd"}, {"vi", "vie"}, {"zh", "chi_sim"},
      {"zh-cn", "chi_sim"}, {"zh_cn", "chi_sim"}, {"zh-hans", "chi_sim"}, {"ch_sim", "chi_sim"},
      {"zh-tw", "chi_tra"}, {"zh_tw", "chi_tra"}, {"zh-hant", "chi_tra"}, {"ch_tra", "chi_tra"}};
  const auto l = lower(trim(docling_name));
  if (auto it = iso.find(l); it != iso.end()) return it->second;
  // Tesseract's own names: three letters, maybe a script suffix (chi_sim, deu_latf).
  if (l.size() >= 3 && l.size() <= 16 && l.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos &&
      l.find('_') != 0 && (l.size() == 3 || l[3] == '_'))
    return l;
  return {};
}

json error_item(const std::string& message, const std::string& component_type, const std::string& module_name) {
  return {{"component_type", component_type}, {"module_name", module_name}, {"error_message", message}};
}

quire::expected<translation, field_problem> translate(const option_values& in, const translate_limits& limits) {
  translation t;
  auto fail = [](std::string field, std::string message) {
    return field_problem{std::move(field), std::move(message)};
  };
  auto report = [&t](const std::string& m) { t.errors.push_back(error_item(m)); };
  auto boolean = [&](const std::string& name, bool fallback, bool& out) {
    out = fallback;
    const auto* v = single(in, name);
    if (v == nullptr || trim(*v) == "null") return true;
    auto b = parse_bool(*v);
    if (!b) return false;
    out = *b;
    return true;
  };
  json conv = json::object(), exec = json::object();

  // to_formats: what the answer's document carries.
  static const std::set<std::string> known_formats{"md",   "json", "yaml",  "html", "html_split_page", "text",
                                                   "doctags", "vtt", "doclang", "dclx", "chunks"};
  if (auto it = in.find("to_formats"); it != in.end()) {
    t.want_markdown = false;
    for (const auto& f : list_of(it->second)) {
      const auto l = lower(f);
      if (!known_formats.count(l))
        return fail("to_formats", "'" + f.substr(0, 32) + "' is not an output format (md, json, text, html, doctags, …)");
      if (l == "md") t.want_markdown = true;
      else if (l == "json") t.want_json = true;
      else if (l == "text") t.want_text = true;
      else report("to_formats: '" + l + "' is not produced by quire (md, json and text are); its field is null");
    }
  }

  // Images: placeholder (none in the Markdown), embedded (data: URIs), referenced (links to the
  // job's artifacts). include_images=false means no images whatever the mode.
  if (const auto* v = single(in, "image_export_mode")) {
    const auto l = lower(trim(*v));
    if (l == "placeholder") t.images = image_mode::placeholder;
    else if (l == "embedded") t.images = image_mode::embedded;
    else if (l == "referenced") t.images = image_mode::referenced;
    else return fail("image_export_mode", "must be one of placeholder, embedded, referenced");
  }
  bool include_images = true;
  if (!boolean("include_images", true, include_images)) return fail("include_images", "must be a boolean");
  if (!include_images) t.images = image_mode::placeholder;
  conv["extract_images"] = t.images != image_mode::placeholder;

  // OCR: quire runs Tesseract where a page has no usable text (auto), never (off) or on every
  // page (force).
  bool do_ocr = true, force_ocr = false;
  if (!boolean("do_ocr", true, do_ocr)) return fail("do_ocr", "must be a boolean");
  if (!boolean("force_ocr", false, force_ocr)) return fail("force_ocr", "must be a boolean");
  conv["ocr"] = force_ocr ? "force" : do_ocr ? "auto" : "off";
  if (force_ocr && !do_ocr) report("force_ocr: true overrides do_ocr: false (every page is OCR'd)");
  if (const auto* v = single(in, "ocr_engine")) {
    const auto l = lower(trim(*v));
    if (!l.empty() && l != "null" && l != "auto" && l != "tesseract" && l != "tesseract_cli")
      report("ocr_engine: '" + l.substr(0, 32) + "' is not available; quire's OCR is Tesseract");
  }
  if (auto it = in.find("ocr_lang"); it != in.end()) {
    std::string langs;
    for (const auto& name : list_of(it->second)) {
      if (name == "null") continue;
      const auto tess = tesseract_language(name);
      const bool installed = !tess.empty() && (limits.ocr_languages == nullptr ||
                                               std::find(limits.ocr_languages->begin(), limits.ocr_languages->end(),
                                                         tess) != limits.ocr_languages->end());
      if (!installed) {
        report("ocr_lang: '" + name.substr(0, 32) + "' is not an OCR language installed here" +
               (tess.empty() ? std::string() : " (Tesseract model " + tess + ")") + "; it is not used");
        continue;
      }
      if (("+" + langs + "+").find("+" + tess + "+") == std::string::npos) langs += (langs.empty() ? "" : "+") + tess;
    }
    if (!langs.empty()) conv["ocr_languages"] = langs;
  }

  // page_range: [first, last], 1-based and inclusive; docling's default end is sys.maxsize.
  if (auto it = in.find("page_range"); it != in.end()) {
    const auto items = list_of(it->second);
    std::vector<double> pages;
    for (const auto& s : items) {
      // "[1, 5]" as one value (a JSON text in a form field)
      std::string digits;
      for (char c : s)
        if (c != '[' && c != ']' && c != '(' && c != ')') digits += c;
      if (trim(digits).empty()) continue;
      auto n = parse_number(digits);
      if (!n || *n < 1 || *n != std::floor(*n)) return fail("page_range", "must be two page numbers from 1, [first, last]");
      pages.push_back(*n);
    }
    if (pages.size() != 2 || pages[1] < pages[0])
      return fail("page_range", "must be two page numbers from 1, [first, last], first <= last");
    constexpr double kMaxPage = 1000000;
    if (pages[0] > kMaxPage) return fail("page_range", "first page must be at most 1000000");
    conv["first_page"] = static_cast<long>(pages[0]);
    conv["last_page"] = pages[1] >= kMaxPage ? 0L : static_cast<long>(pages[1]);
  }

  if (const auto* v = single(in, "document_timeout"); v != nullptr && trim(*v) != "null") {
    auto d = parse_number(*v);
    if (!d || *d <= 0) return fail("document_timeout", "must be a positive number of seconds");
    long secs = static_cast<long>(std::ceil(std::min(*d, 1e9)));
    if (secs > limits.max_timeout_seconds) {
      report("document_timeout: " + std::to_string(secs) + " s is over this service's limit; " +
             std::to_string(limits.max_timeout_seconds) + " s applies");
      secs = limits.max_timeout_seconds;
    }
    exec["document_timeout_seconds"] = secs;
  }

  bool tables = true;
  if (!boolean("do_table_structure", true, tables)) return fail("do_table_structure", "must be a boolean");
  if (!tables) report("do_table_structure: false is not honoured; quire always renders tables it detects");
  if (const auto* v = single(in, "pipeline")) {
    const auto l = lower(trim(*v));
    if (!l.empty() && l != "null" && l != "standard" && l != "legacy")
      report("pipeline: '" + l.substr(0, 32) + "' is not available; quire's rules-based pipeline ran");
  }
  if (const auto* v = single(in, "md_page_break_placeholder"); v != nullptr && !v->empty() && *v != "null")
    report("md_page_break_placeholder is not supported; the Markdown has no page breaks");
  if (const auto* v = single(in, "target_type")) {
    const auto l = lower(trim(*v));
    if (l != "inbody" && l != "in_body")
      return fail("target_type", "only 'inbody' is supported (the result is answered in the body)");
  }
  if (auto it = in.find("callbacks"); it != in.end() && !blank(it->second))
    report("callbacks are not supported on this API; use a native job's notify.url (docs/api.md)");

  for (const auto& [name, values] : in) {
    if (enrichments().count(name)) {
      bool on = false;
      if (!boolean(name, false, on)) return fail(name, "must be a boolean");
      if (on) report(name + ": not available in quire; ignored");
    } else if (model_configs().count(name)) {
      if (!blank(values)) report(name + ": not available in quire; ignored");
    }
  }
  static const std::set<std::string> handled{
      "to_formats", "image_export_mode", "include_images", "do_ocr", "force_ocr", "ocr_engine", "ocr_lang",
      "page_range", "document_timeout", "do_table_structure", "pipeline", "md_page_break_placeholder",
      "target_type", "callbacks"};
  for (const auto& [name, values] : in)
    if (!handled.count(name) && !no_effect().count(name) && !enrichments().count(name) && !model_configs().count(name))
      report(name.substr(0, 64) + ": unknown option; ignored");

  // JSON (quire's document model) and plain text are stored per job when asked for at submit.
  json formats = json::array();
  if (t.want_json) formats.push_back("json");
  if (t.want_text) formats.push_back("text");
  if (!formats.empty()) conv["formats"] = formats;
  t.job_spec = {{"conversion", conv}};
  if (!exec.empty()) t.job_spec["execution"] = exec;
  return t;
}

std::string task_status_of(const std::string& job_status) {
  if (job_status == "queued") return "pending";
  if (job_status == "running") return "started";
  if (job_status == "succeeded") return "success";
  return "failure";
}

std::string conversion_status_of(const std::string& job_status) {
  return job_status == "succeeded" ? "success" : "failure";
}

json task_status(const json& job) {
  const auto st = job.value("status", "");
  const bool finished = st != "queued" && st != "running";
  const bool ok = st == "succeeded";
  json error_message = nullptr;
  if (job.contains("error") && job["error"].is_object()) error_message = job["error"].value("message", "");
  else if (finished && !ok) error_message = "job " + st;
  return {{"task_id", job.value("job_id", "")},
          {"task_type", "convert"},
          {"task_status", task_status_of(st)},
          // quire does not number the queue; docling-serve also answers null once a task has left it.
          {"task_position", nullptr},
          {"task_meta",
           {{"num_docs", 1},
            {"num_processed", finished ? 1 : 0},
            {"num_succeeded", ok ? 1 : 0},
            {"num_failed", finished && !ok ? 1 : 0}}},
          {"error_message", error_message}};
}

double processing_seconds(const json& job) {
  auto parse = [](const json& v) -> std::optional<double> {
    if (!v.is_string()) return std::nullopt;
    std::tm tm{};
    int ms = 0;
    const auto s = v.get<std::string>();
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &ms) < 6)
      return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + ms / 1000.0;
  };
  auto a = parse(job.value("started_at", json(nullptr))), b = parse(job.value("finished_at", json(nullptr)));
  if (!a || !b || *b < *a) return 0;
  return *b - *a;
}

json convert_response(const document_parts& doc, const std::string& status, const json& errors,
                      double processing_time) {
  auto opt = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  return {{"document",
           {{"filename", doc.filename},
            {"md_content", opt(doc.markdown)},
            {"json_content", doc.json_content ? *doc.json_content : json(nullptr)},
            {"html_content", nullptr},
            {"text_content", opt(doc.text)},
            {"doctags_content", nullptr}}},
          {"status", status},
          {"errors", errors},
          {"processing_time", processing_time},
          {"timings", json::object()}};
}

std::string rewrite_image_links(const std::string& markdown,
                                const std::function<std::optional<std::string>(const std::string&)>& target) {
  static const std::string marker = "](assets/";
  std::string out;
  out.reserve(markdown.size());
  std::size_t pos = 0;
  for (;;) {
    const auto at = markdown.find(marker, pos);
    if (at == std::string::npos) break;
    const auto name_start = at + marker.size();
    const auto close = markdown.find(')', name_start);
    if (close == std::string::npos) break;
    const auto name = markdown.substr(name_start, close - name_start);
    auto to = name.find_first_of(" \n") == std::string::npos ? target(name) : std::nullopt;
    out.append(markdown, pos, at - pos);
    if (to) out.append("](").append(*to).append(")");
    else out.append(markdown, at, close + 1 - at);
    pos = close + 1;
  }
  out.append(markdown, pos, std::string::npos);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // OpenSSL's decoder skips whitespace and line breaks and checks the padding.
  std::string out(text.size() / 4 * 3 + 3, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  if (ctx == nullptr) return std::nullopt;
  EVP_DecodeInit(ctx);
  int n = 0, tail = 0;
  bool ok = true;
  std::size_t done = 0;
  // EVP_DecodeUpdate takes an int length: feed large documents in slices.
  constexpr std::size_t kSlice = 1 << 24;
  for (std::size_t at = 0; at < text.size() && ok; at += kSlice) {
    const auto len = static_cast<int>(std::min(kSlice, text.size() - at));
    ok = EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(out.data() + done), &n,
                          reinterpret_cast<const unsigned char*>(text.data() + at), len) >= 0;
    done += static_cast<std::size_t>(std::max(n, 0));
  }
  ok = ok && EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(out.data() + done), &tail) == 1;
  EVP_ENCODE_CTX_free(ctx);
  if (!ok) return std::nullopt;
  out.resize(done + static_cast<std::size_t>(tail));
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace quire::http::docling
