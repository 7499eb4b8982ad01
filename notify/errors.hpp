// quire::notify — the webhook module's error codes (domain "notify", base/error.hpp). Add new codes
// at the end; never rename.
#pragma once

#include <string_view>

#include "base/expected.hpp"

namespace quire::notify {

enum class errc {
  invalid_settings,     // the settings cannot work (a malformed signing secret or allow-list)
  destination_refused,  // the URL, or every address its host resolves to, is outside the policy
  invalid_url,          // not an http(s) URL notify can use (malformed, credentials, a fragment…)
};

constexpr std::string_view to_string(errc code) {
  switch (code) {
    case errc::invalid_settings: return "invalid_settings";
    case errc::destination_refused: return "destination_refused";
    case errc::invalid_url: return "invalid_url";
  }
  return "invalid_settings";
}

}  // namespace quire::notify

QUIRE_ERROR_DOMAIN(notify, "notify")  // errc as the "notify" error domain (base/error.hpp)
