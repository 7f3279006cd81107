#include "toolbox/service/twin_service.h"

#include <chrono>
#include <cstdio>
#include <limits>

#include "base/clock.h"
#include "storage/fs/file_util.h"
#include "storage/write_batch.h"

namespace liandu::toolbox {

namespace {
constexpr std::string_view file_suffix = ".twins.json";

// The newest stored value of one parameter of a device.
struct stored_report {
  std::string param;
  storage::column point;  // one point
};

// What the device has already reported, read from storage: without it a
// twin created after its device reported would know nothing until the next
// point. The newest point of each desired parameter over every series of the
// device (it may carry other tags too).
std::vector<stored_report> latest_reported(const storage::engine& e, std::string_view db,
                                           const twin::definition& def) {
  std::vector<stored_report> out;
  auto series = e.series(db, def.measurement);
  if (!series.ok()) return out;  // no such database or measurement yet
  std::string measurement;
  std::vector<model::tag> tags;
  std::vector<uint32_t> ids;
  for (const auto& s : *series) {
    if (!model::parse_series_key(s.key, measurement, tags)) continue;
    for (const auto& t : tags) {
      if (t.key == def.device_tag && t.value == def.device) ids.push_back(s.id);
    }
  }
  for (const auto& [param, _] : def.desired) {
    stored_report best{param, {}};
    for (uint32_t id : ids) {
      storage::column c;
      if (!e.scan_edge(db, "", id, param, std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max(), /*newest=*/true, c)
               .ok() ||
          c.size() == 0) {
        continue;
      }
      if (best.point.size() == 0 || c.times[0] > best.point.times[0]) best.point = std::move(c);
    }
    if (best.point.size() > 0) out.push_back(std::move(best));
  }
  return out;
}

model::field_value_view first_value(const storage::column& c) {
  switch (c.type) {
    case model::field_type::float64: return c.floats[0];
    case model::field_type::int64: return c.integers[0];
    case model::field_type::uint64: return c.unsigneds[0];
    case model::field_type::boolean: return c.booleans[0] != 0;
    case model::field_type::string: return std::string_view(c.strings[0]);
  }
  return 0.0;
}
}  // namespace

twin_service::twin_service(storage::engine& engine, options opts)
    : storage_(engine), opts_(std::move(opts)) {}

twin_service::~twin_service() { stop(); }

std::string twin_service::drift_topic(std::string_view db, std::string_view device) {
  auto clean = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) {
      if (c == '/' || c == '+' || c == '#') c = '_';
    }
    return out;
  };
  return "liandu/" + clean(db) + "/twins/" + clean(device) + "/drift";
}

status twin_service::start() {
  LIANDU_RETURN_IF_ERROR(storage::fs::create_dirs(opts_.dir));
  auto names = storage::fs::list_dir(opts_.dir);
  if (!names.ok()) return names.error();
  {
    std::lock_guard lock(mu_);
    for (const auto& n : *names) {
      if (n.size() <= file_suffix.size() || !n.ends_with(file_suffix)) continue;
      std::string db = n.substr(0, n.size() - file_suffix.size());
      auto text = storage::fs::read_file(storage::fs::join(opts_.dir, n));
      if (!text.ok()) return text.error();
      auto [it, added] = dbs_.try_emplace(db, db_twins{twin::registry(opts_.default_tolerance)});
      status s = it->second.reg.deserialize(*text);
      if (!s.ok()) return error(s.code(), "twins of " + db + ": " + s.message());
      if (!it->second.reg.empty()) watched_.insert(db);
    }
  }
  {
    std::lock_guard lock(queue_mu_);
    started_ = true;
  }
  thread_ = std::thread([this] { loop(); });
  return {};
}

void twin_service::stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stop_ || !started_) {
      stop_ = true;
      return;
    }
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Points still queued are applied so that what was durable is reflected.
  std::deque<std::string> rest;
  {
    std::lock_guard lock(queue_mu_);
    rest.swap(queue_);
  }
  for (const auto& p : rest) process(p);
  std::lock_guard lock(mu_);
  for (auto& [db, d] : dbs_) {
    if (d.dirty) (void)save_locked(db, d);
  }
}

void twin_service::set_publisher(publisher p) {
  std::lock_guard lock(publish_mu_);
  opts_.publish = std::move(p);
}

void twin_service::on_batch(std::string_view payload) {
  storage::batch_reader reader(payload);
  {
    std::lock_guard lock(mu_);
    if (!watched_.contains(reader.db())) return;
  }
  {
    std::lock_guard lock(queue_mu_);
    if (stop_) return;
    if (queue_.size() >= opts_.max_queued_batches) {
      std::lock_guard s(mu_);
      ++stats_.dropped_batches;
      return;
    }
    queue_.emplace_back(payload);
  }
  queue_cv_.notify_one();
}

status twin_service::save_locked(const std::string& db, db_twins& d) {
  status s = storage::fs::write_file_atomic(storage::fs::join(opts_.dir, db + std::string(file_suffix)),
                                            d.reg.serialize());
  if (s.ok()) {
    d.dirty = false;
  } else {
    std::fprintf(stderr, "liandu: saving twins of %s: %s\n", db.c_str(), s.message().c_str());
  }
  return s;
}

// Applies one batch and emits the drift events it caused.
void twin_service::process(std::string_view payload) {
  std::lock_guard order(emit_mu_);
  std::vector<twin::drift_event> events;
  std::string db;
  {
    std::lock_guard lock(mu_);
    ++stats_.batches;
    storage::batch_reader reader(payload);
    auto it = dbs_.find(reader.db());
    if (it == dbs_.end() || it->second.reg.empty()) return;
    db = it->first;
    db_twins& d = it->second;
    storage::batch_point p;
    std::string measurement;
    std::vector<model::tag> tags;
    while (reader.next(p)) {
      storage::measurement_of(p.series_key, measurement);
      if (!d.reg.watches(measurement)) continue;
      if (!model::parse_series_key(p.series_key, measurement, tags)) continue;
      if (d.reg.observe(measurement, tags, p.fields, p.time, events)) d.dirty = true;
    }
    // A drift state change is saved before it is announced, so a restart
    // does not announce it again.
    if (!events.empty()) (void)save_locked(db, d);
  }
  emit(db, std::move(events));
}

void twin_service::emit(const std::string& db, std::vector<twin::drift_event> events) {
  if (events.empty()) return;
  storage::write_batch batch(db, "");
  uint64_t published = 0, publish_errors = 0;
  for (const auto& e : events) {
    batch.add(twin::to_point(e));
    std::lock_guard lock(publish_mu_);
    if (!opts_.publish) continue;
    nlohmann::json body = twin::to_json(e);
    body["db"] = db;
    status s = opts_.publish(drift_topic(db, e.device), body.dump(), 1, false);
    if (s.ok()) {
      ++published;
    } else {
      ++publish_errors;
    }
  }
  auto r = storage_.write(batch);
  std::lock_guard lock(mu_);
  stats_.drift_events += events.size();
  stats_.mqtt_published += published;
  stats_.mqtt_errors += publish_errors;
  if (!r.st.ok() || !r.rejected.empty()) {
    ++stats_.write_errors;
    std::fprintf(stderr, "liandu: writing twin drift events to %s: %s\n", db.c_str(),
                 r.st.ok() ? r.rejected.front().message.c_str() : r.st.message().c_str());
  }
}

void twin_service::loop() {
  auto last_save = std::chrono::steady_clock::now();
  for (;;) {
    std::string payload;
    bool have = false;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      if (!queue_.empty()) {
        payload = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      }
    }
    if (have) process(payload);
    auto now = std::chrono::steady_clock::now();
    if (now - last_save >= std::chrono::milliseconds(opts_.save_interval_ms)) {
      last_save = now;
      std::lock_guard lock(mu_);
      for (auto& [db, d] : dbs_) {
        if (d.dirty) (void)save_locked(db, d);
      }
    }
  }
}

result<nlohmann::json> twin_service::put(std::string_view db, std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error(errc::invalid_argument, "twin: not valid JSON");
  auto def = twin::parse_definition(j);
  if (!def.ok()) return def.error();
  std::string device = def->device;
  std::vector<stored_report> stored = latest_reported(storage_, db, *def);
  std::string measurement = def->measurement;
  std::vector<model::tag> device_tags{{def->device_tag, device}};
  std::lock_guard order(emit_mu_);
  std::vector<twin::drift_event> events;
  nlohmann::json out;
  {
    std::lock_guard lock(mu_);
    auto [it, added] = dbs_.try_emplace(std::string(db), db_twins{twin::registry(opts_.default_tolerance)});
    db_twins& d = it->second;
    std::string before = d.reg.serialize();
    LIANDU_RETURN_IF_ERROR(d.reg.put(std::move(*def), now_ns(), events));
    // Reported values kept from earlier are replaced only by newer stored ones.
    for (const auto& r : stored) {
      std::vector<model::field_view> fields{{r.param, first_value(r.point)}};
      d.reg.observe(measurement, device_tags, fields, r.point.times[0], events);
    }
    status s = save_locked(it->first, d);
    if (!s.ok()) {
      (void)d.reg.deserialize(before);  // keep what is on disk
      return s;
    }
    watched_.insert(it->first);
    out = twin::twin_to_json(*d.reg.find(device));
  }
  emit(std::string(db), std::move(events));
  return out;
}

status twin_service::remove(std::string_view db, std::string_view device) {
  std::lock_guard order(emit_mu_);
  std::vector<twin::drift_event> events;
  {
    std::lock_guard lock(mu_);
    auto it = dbs_.find(db);
    if (it == dbs_.end() || !it->second.reg.remove(device, now_ns(), events)) {
      return error(errc::not_found, "twin not found: " + std::string(device));
    }
    LIANDU_RETURN_IF_ERROR(save_locked(it->first, it->second));
    if (it->second.reg.empty()) watched_.erase(it->first);
  }
  emit(std::string(db), std::move(events));
  return {};
}

std::vector<nlohmann::json> twin_service::list(std::string_view db) {
  std::lock_guard lock(mu_);
  std::vector<nlohmann::json> out;
  auto it = dbs_.find(db);
  if (it == dbs_.end()) return out;
  for (const auto& [device, t] : it->second.reg.twins()) out.push_back(twin::twin_to_json(t));
  return out;
}

result<nlohmann::json> twin_service::get(std::string_view db, std::string_view device) {
  std::lock_guard lock(mu_);
  auto it = dbs_.find(db);
  const twin::twin* t = it == dbs_.end() ? nullptr : it->second.reg.find(device);
  if (t == nullptr) return error(errc::not_found, "twin not found: " + std::string(device));
  return twin::twin_to_json(*t);
}

twin_service::counters twin_service::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace liandu::toolbox
