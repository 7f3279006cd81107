#include "app/sparkplug_ingest.h"

#include <cstdio>

#include "base/clock.h"
#include "storage/fs/file_util.h"
#include "storage/write_batch.h"

namespace liandu::app {

namespace spb = connect::sparkplug;

sparkplug_ingest::sparkplug_ingest(storage::engine& engine, std::string path)
    : engine_(engine), path_(std::move(path)) {}

status sparkplug_ingest::load() {
  auto text = storage::fs::read_file(path_);
  if (!text.ok()) return text.error().code() == errc::not_found ? status{} : text.error();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_array())
    return error(errc::invalid_argument, path_ + ": expected a JSON array of sparkplug entries");
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < j.size(); ++i) {
    auto e = spb::parse_group_entry(j[i]);
    if (!e.ok())
      return error(errc::invalid_argument,
                   path_ + ": entry " + std::to_string(i) + ": " + e.error().message());
    groups_.put(std::move(e).value());
  }
  return {};
}

status sparkplug_ingest::save_locked() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : groups_.entries()) j.push_back(spb::to_json(e));
  return storage::fs::write_file_atomic(path_, j.dump(2));
}

std::vector<nlohmann::json> sparkplug_ingest::list() const {
  std::shared_lock lock(mu_);
  std::vector<nlohmann::json> out;
  for (const auto& e : groups_.entries()) out.push_back(spb::to_json(e));
  return out;
}

status sparkplug_ingest::put(const nlohmann::json& entry) {
  auto e = spb::parse_group_entry(entry);
  if (!e.ok()) return e.error();
  std::unique_lock lock(mu_);
  groups_.put(std::move(e).value());
  return save_locked();
}

status sparkplug_ingest::remove(std::string_view name) {
  std::unique_lock lock(mu_);
  if (!groups_.remove(name)) return error(errc::not_found, "no sparkplug entry named " + std::string(name));
  return save_locked();
}

void sparkplug_ingest::set_publisher(publisher p) {
  std::lock_guard lock(publisher_mu_);
  publish_ = std::move(p);
}

std::optional<status> sparkplug_ingest::on_publish(std::string_view topic, std::string_view payload,
                                                   const authorizer& authorize) {
  if (!spb::is_sparkplug_topic(topic)) return std::nullopt;
  auto parsed = spb::parse_topic(topic);
  if (!parsed.ok() || parsed->type == spb::message_type::state || parsed->type == spb::message_type::ncmd ||
      parsed->type == spb::message_type::dcmd) {
    return std::nullopt;
  }
  std::string db, rp;
  {
    std::shared_lock lock(mu_);
    const spb::group_entry* e = groups_.match(parsed->group);
    if (e == nullptr) return std::nullopt;
    db = e->database;
    rp = e->retention_policy;
  }
  // Refused before decoding, so a refused message does not move the edge
  // node's session state.
  if (status s = authorize(db); !s.ok()) {
    ++refused_;
    return error(s.code(), "topic " + std::string(topic) + ": " + s.message());
  }
  auto d = decoder_.decode(topic, payload, now_ns());
  if (!d.ok()) return d.error();
  if (!d->rebirth_topic.empty()) {
    std::lock_guard lock(publisher_mu_);
    if (publish_) publish_(d->rebirth_topic, d->rebirth_payload);
  }
  if (!d->points.empty()) {
    storage::write_batch batch(db, rp);
    for (const auto& p : d->points) batch.add(p);
    auto w = engine_.write(batch);
    if (!w.st.ok()) {
      ++store_errors_;
      return error(w.st.code(), "topic " + std::string(topic) + ": " + w.st.message());
    }
    if (!w.rejected.empty()) {
      ++store_errors_;
      return error(errc::conflict, "topic " + std::string(topic) + ": " + w.rejected.front().message);
    }
  }
  ++stored_;
  if (!d->errors.empty()) return error(errc::parse_error, d->errors.front());
  return status{};
}

void sparkplug_ingest::append_metrics(prometheus::text_writer& w) const {
  const spb::decoder_stats& s = decoder_.stats();
  w.counter("liandu_sparkplug_messages_total", "Sparkplug B messages decoded.", s.messages.load());
  w.counter("liandu_sparkplug_stored_total", "Sparkplug B messages whose points were stored.",
            stored_.load());
  w.counter("liandu_sparkplug_metrics_total", "Sparkplug B metric values stored as fields.",
            s.metrics.load());
  w.counter("liandu_sparkplug_skipped_metrics_total",
            "Sparkplug B metrics skipped: null, transient or an unsupported datatype.",
            s.skipped_metrics.load());
  w.counter("liandu_sparkplug_births_total", "Sparkplug B NBIRTH and DBIRTH messages.", s.births.load());
  w.counter("liandu_sparkplug_deaths_total", "Sparkplug B NDEATH and DDEATH messages.", s.deaths.load());
  w.counter("liandu_sparkplug_seq_gaps_total", "Sparkplug B sequence number gaps.", s.seq_gaps.load());
  w.counter("liandu_sparkplug_unknown_aliases_total", "Sparkplug B metrics with an alias no birth defined.",
            s.unknown_aliases.load());
  w.counter("liandu_sparkplug_errors_total", "Sparkplug B problems written to sparkplug_errors.",
            s.errors.load());
  w.counter("liandu_sparkplug_rebirths_requested_total", "Sparkplug B rebirth NCMDs published.",
            s.rebirths_requested.load());
  w.counter("liandu_sparkplug_refused_total", "Sparkplug B messages refused: no write permission.",
            refused_.load());
  w.counter("liandu_sparkplug_store_errors_total", "Sparkplug B messages that could not be stored.",
            store_errors_.load());
}

}  // namespace liandu::app
