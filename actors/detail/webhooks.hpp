// quire::actors — the service's webhook delivery (notify::delivery_loop) wired to this lane's
// configuration, the API's job document (api/job_document.hpp, the same renderer as the
// job routes') and the metrics registry.
#pragma once

#include <memory>

#include "actors/config.hpp"
#include "notify/delivery_loop.hpp"
#include "storage/job_store.hpp"

namespace quire::actors {

// nullptr when no webhook secret is configured (webhooks are then refused at submit anyway).
// Throws std::runtime_error when the settings cannot work.
std::unique_ptr<notify::delivery_loop> start_webhook_delivery(const service_config& cfg,
                                                              const storage::store_options& store);

}  // namespace quire::actors
