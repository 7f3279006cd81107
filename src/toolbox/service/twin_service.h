#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "storage/engine.h"
#include "toolbox/twin/twin.h"

namespace liandu::toolbox {

// Keeps the device twins of every database up to date from the stream of
// durable writes.
//
// The storage engine's write observer hands each durable batch to
// on_batch(), which keeps it only when its database has twins watching one
// of its measurements (checked under a small lock, no decoding of points
// beyond the header), in a bounded queue; ingest never waits on twins. One
// thread drains the queue, feeds each database's twin::registry and turns
// drift state changes into
//   - points in measurement `twin_drift` of the same database (tag device;
//     fields drifted, params, count), written through the ordinary write
//     path, so rules can alert on them and they can be queried;
//   - MQTT messages on liandu/<db>/twins/<device>/drift (QoS 1, not
//     retained) through the publisher, when one is set.
// Twins (definitions, reported values, drift state) are kept per database in
// <dir>/<db>.twins.json: saved at once when a definition or a drift state
// changes, and every save_interval_ms when only reported values changed. A
// crash may lose reported values newer than the last save; the next report
// of the device brings them back.
//
// Thread safety: every public method may be called from any thread.
class twin_service {
 public:
  using publisher =
      std::function<status(const std::string& topic, const std::string& payload, int qos, bool retain)>;
  struct options {
    std::string dir;
    double default_tolerance = 0;  // for numbers, when a twin names none
    publisher publish;
    size_t max_queued_batches = 10000;
    int64_t save_interval_ms = 5000;
  };
  struct counters {
    uint64_t batches = 0;
    uint64_t dropped_batches = 0;  // queue full: twins fell behind
    uint64_t drift_events = 0;
    uint64_t write_errors = 0;
    uint64_t mqtt_published = 0;
    uint64_t mqtt_errors = 0;
  };

  twin_service(storage::engine& engine, options opts);
  ~twin_service();

  status start();  // loads the saved twins, starts the thread
  void stop();     // stops the thread and saves

  void on_batch(std::string_view batch_payload);
  void set_publisher(publisher p);

  // body: see twin::parse_definition. Returns the twin as twin_to_json shows it.
  result<nlohmann::json> put(std::string_view db, std::string_view body);
  status remove(std::string_view db, std::string_view device);
  std::vector<nlohmann::json> list(std::string_view db);
  result<nlohmann::json> get(std::string_view db, std::string_view device);
  counters stats() const;

  // The MQTT topic of a device's drift events; '/', '+' and '#' in names
  // become '_'.
  static std::string drift_topic(std::string_view db, std::string_view device);

 private:
  struct db_twins {
    twin::registry reg;
    bool dirty = false;  // reported values changed since the last save
  };
  status save_locked(const std::string& db, db_twins& d);
  void process(std::string_view payload);
  void loop();
  void emit(const std::string& db, std::vector<twin::drift_event> events);

  storage::engine& storage_;
  options opts_;

  mutable std::mutex mu_;  // guards dbs_, watched_ and stats_
  std::map<std::string, db_twins, std::less<>> dbs_;
  std::set<std::string, std::less<>> watched_;  // databases with at least one twin
  counters stats_;

  std::mutex publish_mu_;  // guards opts_.publish
  std::mutex emit_mu_;     // keeps events of one database in order across threads

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace liandu::toolbox
