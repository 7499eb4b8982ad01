#include "convert/serialize.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

namespace quire::convert {
namespace {

using json = nlohmann::json;

double pt(float v) { return std::round(static_cast<double>(v) * 100.0) / 100.0; }  // 1/100 point

json box_json(const bbox& b) { return json::array({pt(b.x0), pt(b.y0), pt(b.x1), pt(b.y1)}); }

json parts_json(const std::vector<block_part>& parts) {
  json a = json::array();
  for (const auto& p : parts) a.push_back({{"page", p.page}, {"bbox", box_json(p.box)}});
  return a;
}

json block_json(const document_block& b) {
  json j = {{"id", b.id},
            {"type", std::string(to_string(b.type))},
            {"page", b.page()},
            {"bbox", box_json(b.parts.empty() ? bbox{} : b.parts.front().box)},
            {"parts", parts_json(b.parts)},
            {"text", b.text},
            {"markdown", b.markdown},
            {"heading_path", b.heading_path}};
  if (b.quote_depth > 0) j["quote_depth"] = b.quote_depth;
  switch (b.type) {
    case block_type::heading:
      j["level"] = b.level;
      break;
    case block_type::code:
      j["language"] = b.language;
      break;
    case block_type::list: {
      json items = json::array();
      for (const auto& it : b.items)
        items.push_back({{"text", it.text}, {"markdown", it.markdown}, {"marker", it.marker},
                         {"ordered", it.ordered}, {"level", it.level}, {"parts", parts_json(it.parts)}});
      j["items"] = std::move(items);
      break;
    }
    case block_type::table: {
      json rows = json::array();
      for (const auto& r : b.rows) {
        json cells = json::array();
        for (const auto& c : r) cells.push_back({{"text", c.text}, {"markdown", c.markdown}});
        rows.push_back(std::move(cells));
      }
      j["rows"] = std::move(rows);
      j["header_rows"] = b.rows.empty() ? 0 : 1;
      break;
    }
    case block_type::footnote:
      j["label"] = b.label;
      j["referenced"] = b.referenced;
      break;
    case block_type::image:
      j["asset"] = b.asset;
      break;
    default:
      break;
  }
  return j;
}

}  // namespace

std::string document_json(const conversion& c) {
  json pages = json::array();
  for (size_t i = 0; i < c.pages.size(); ++i) {
    const page_stats& p = c.pages[i];
    const page_info info = i < c.doc.pages.size() ? c.doc.pages[i] : page_info{p.number, 0, 0};
    pages.push_back({{"page", p.number}, {"width", pt(info.width)}, {"height", pt(info.height)},
                     {"chars", p.chars}, {"blocks", p.blocks}, {"no_text_layer", p.no_text_layer},
                     {"ocr_used", p.ocr_used}, {"text_rotation", p.text_rotation}, {"text_lost", p.text_lost},
                     {"milliseconds", p.milliseconds}, {"page_kind", p.page_kind}});
  }
  json blocks = json::array();
  for (const auto& b : c.doc.blocks) blocks.push_back(block_json(b));
  json assets = json::array();
  for (const auto& a : c.assets)
    assets.push_back({{"name", a.name}, {"media_type", a.media_type}, {"bytes", a.bytes.size()}});
  const json j = {{"schema_version", document_schema_version},
                  {"markdown", c.markdown},
                  {"page_count", c.page_count},
                  {"pages", pages},
                  {"furniture", "removed"},
                  {"blocks", blocks},
                  {"warnings", c.warnings},
                  {"assets", assets},
                  {"milliseconds", c.milliseconds},
                  {"acceleration_used", c.acceleration_used}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string chunks_json(const std::vector<chunk>& chunks, const chunk_options& opts) {
  json list = json::array();
  for (const auto& ch : chunks)
    list.push_back({{"id", ch.id},
                    {"text", ch.text},
                    {"heading_path", ch.heading_path},
                    {"pages", ch.pages},
                    {"block_ids", ch.block_ids},
                    {"size", measure(ch.text, opts.unit)}});
  const json j = {{"schema_version", document_schema_version},
                  {"limit", opts.limit},
                  {"unit", opts.unit == chunk_unit::tokens ? "tokens" : "characters"},
                  {"chunks", list}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace quire::convert
