// quire::actors — the result format table now lives with the job spec (api/result_formats.hpp),
// below actors and http; these names keep the actors' and routes' spelling of it.
#pragma once

#include "api/result_formats.hpp"

namespace quire::actors {
using api::find_result_format;
using api::formats_of;
using api::result_format;
using api::result_formats;
}  // namespace quire::actors
