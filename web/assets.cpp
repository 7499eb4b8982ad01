#include "web/assets.hpp"

namespace quire::web {

const asset* find_asset(std::string_view url) {
  for (const auto& a : assets())
    if (a.url == url) return &a;
  return nullptr;
}

}  // namespace quire::web
