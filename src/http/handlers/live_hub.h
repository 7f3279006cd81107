#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/handlers/live_filter.h"
#include "http/message.h"

namespace liandu::http::handlers {

// The in-process stream bus for WebSocket subscribers: the engine calls
// publish() with every batch once it is durable; each point that matches a
// subscription (database, optional measurement, tag equalities) is sent to
// that subscriber as one JSON text message (a subscription given as an
// InfluxQL SELECT also filters on its condition and keeps only its fields):
//   {"database":"plant","measurement":"machine","tags":{"line":"l1"},
//    "fields":{"temperature":61.5},"time":1700000000000000000}
// A slow subscriber never holds up ingest: its channel drops the oldest
// messages past a bound and counts them.
class live_hub {
 public:
  struct subscription {
    std::string database;
    std::string measurement;  // empty: every measurement
    std::vector<std::pair<std::string, std::string>> tags;
    std::shared_ptr<const live_filter> filter;  // q=SELECT …: measurement, condition, fields
    std::shared_ptr<live_channel> channel;
  };

  void add(subscription s);
  void publish(std::string_view batch_payload);

  size_t subscribers() const { return count_.load(); }
  uint64_t dropped_total() const;
  uint64_t sent_total() const { return sent_.load(); }

 private:
  mutable std::mutex mu_;
  std::vector<subscription> subs_;
  std::atomic<size_t> count_{0};
  std::atomic<uint64_t> sent_{0};
  uint64_t dropped_by_closed_ = 0;  // dropped counts of channels already removed
};

}  // namespace liandu::http::handlers
