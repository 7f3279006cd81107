#include "http/handlers/live_hub.h"

#include <algorithm>

#include "model/point.h"
#include "query/executor/result.h"
#include "storage/write_batch.h"

namespace liandu::http::handlers {

void live_hub::add(subscription s) {
  std::lock_guard lock(mu_);
  subs_.push_back(std::move(s));
  count_ = subs_.size();
}

uint64_t live_hub::dropped_total() const {
  std::lock_guard lock(mu_);
  uint64_t n = dropped_by_closed_;
  for (const auto& s : subs_) n += s.channel->dropped();
  return n;
}

namespace {

void append_field(std::string& out, const model::field_value_view& v) {
  switch (v.index()) {
    case 0: query::append_go_float(out, std::get<0>(v)); break;
    case 1: out += std::to_string(std::get<1>(v)); break;
    case 2: out += std::to_string(std::get<2>(v)); break;
    case 3: out += std::get<3>(v) ? "true" : "false"; break;
    case 4: query::append_json_string(out, std::get<4>(v)); break;
  }
}

}  // namespace

void live_hub::publish(std::string_view payload) {
  if (count_.load(std::memory_order_relaxed) == 0) return;  // the common case costs one load
  std::vector<subscription> subs;
  {
    std::lock_guard lock(mu_);
    // Forget subscribers that went away.
    for (auto it = subs_.begin(); it != subs_.end();) {
      if (!it->channel->is_open()) {
        dropped_by_closed_ += it->channel->dropped();
        it = subs_.erase(it);
      } else {
        ++it;
      }
    }
    count_ = subs_.size();
    storage::batch_reader header(payload);
    for (const auto& s : subs_) {
      if (s.database == header.db()) subs.push_back(s);
    }
  }
  if (subs.empty()) return;
  storage::batch_reader r(payload);
  storage::batch_point p;
  std::string measurement;
  std::vector<model::tag> tags;
  // The message of a point, with every field (shared by the subscribers
  // that take all fields) or with a filter's selected fields.
  auto build = [&](std::string& message, const std::string& measurement, const std::vector<model::tag>& tags,
                   const live_filter* only) {
    message = "{\"database\":";
    query::append_json_string(message, r.db());
    message += ",\"measurement\":";
    query::append_json_string(message, measurement);
    message += ",\"tags\":{";
    for (size_t i = 0; i < tags.size(); ++i) {
      if (i) message += ",";
      query::append_json_string(message, tags[i].key);
      message += ":";
      query::append_json_string(message, tags[i].value);
    }
    message += "},\"fields\":{";
    bool first = true;
    for (const auto& f : p.fields) {
      if (only != nullptr && !only->keeps_field(f.key)) continue;
      if (!first) message += ",";
      first = false;
      query::append_json_string(message, f.key);
      message += ":";
      append_field(message, f.value);
    }
    message += "},\"time\":" + std::to_string(p.time) + "}";
  };
  while (r.next(p)) {
    if (!model::parse_series_key(p.series_key, measurement, tags)) continue;
    std::string message, selected;
    for (const auto& s : subs) {
      if (!s.measurement.empty() && s.measurement != measurement) continue;
      if (s.filter && !s.filter->measurement_matches(measurement)) continue;
      bool match = std::all_of(s.tags.begin(), s.tags.end(), [&](const auto& want) {
        return std::any_of(tags.begin(), tags.end(), [&](const model::tag& t) {
          return t.key == want.first && t.value == want.second;
        });
      });
      if (!match) continue;
      if (s.filter && !s.filter->matches(tags, p.fields)) continue;
      bool all_fields = !s.filter || s.filter->keeps_all_fields();
      std::string& out = all_fields ? message : selected;
      if (!all_fields || message.empty())
        build(out, measurement, tags, all_fields ? nullptr : s.filter.get());
      if (s.channel->send(out)) ++sent_;
    }
  }
}

}  // namespace liandu::http::handlers
