#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "base/prometheus_text.h"
#include "base/result.h"
#include "connect/sparkplug/decoder.h"
#include "connect/sparkplug/group_config.h"
#include "http/handlers/config_collection.h"
#include "storage/engine.h"

namespace liandu::app {

// Sparkplug B into storage. Messages on spBv1.0/<group>/... whose group has
// an entry in the config collection /api/v1/sparkplug (persisted as a JSON
// array in `path`) are decoded by connect::sparkplug::decoder; the publisher
// must be allowed to write the entry's database; the data, state and error
// points of one message are written in one durable batch before the broker
// acknowledges it. Rebirth requests (NCMD) go out through the publisher
// function, set once the MQTT server exists.
//
// Thread safety: all methods may be called from any thread.
class sparkplug_ingest final : public http::handlers::config_collection {
 public:
  // Publishes one message on the local broker (QoS 0, not retained).
  using publisher = std::function<void(std::string topic, std::string payload)>;
  // Whether the publisher may write database `db`: ok, or the refusal.
  using authorizer = std::function<status(const std::string& db)>;

  sparkplug_ingest(storage::engine& engine, std::string path);

  status load();  // reads the saved entries (missing file: none)

  // config_collection: entries {"name", "database", "group", "retention_policy"?}
  std::vector<nlohmann::json> list() const override;
  status put(const nlohmann::json& entry) override;
  status remove(std::string_view name) override;

  void set_publisher(publisher p);

  // nullopt: not a message for Sparkplug ingest (not spBv1.0, no entry for
  // its group, STATE or a command); the caller's other rules apply.
  // Otherwise the status to answer the publisher with: ok; parse_error when
  // the message was stored but had problems (they are sparkplug_errors
  // points); the refusal; or a storage failure (not to be acknowledged).
  std::optional<status> on_publish(std::string_view topic, std::string_view payload,
                                   const authorizer& authorize);

  void append_metrics(prometheus::text_writer& w) const;  // for /metrics

 private:
  status save_locked() const;

  storage::engine& engine_;
  const std::string path_;
  mutable std::shared_mutex mu_;
  connect::sparkplug::group_table groups_;
  connect::sparkplug::decoder decoder_;
  std::mutex publisher_mu_;
  publisher publish_;
  std::atomic<uint64_t> stored_{0}, refused_{0}, store_errors_{0};
};

}  // namespace liandu::app
