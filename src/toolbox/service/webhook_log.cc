#include "toolbox/service/webhook_log.h"

#include <algorithm>
#include <climits>

#include "base/coding.h"
#include "storage/wal/wal_reader.h"
#include "toolbox/rules/webhook_delivery.h"
#include "toolbox/service/framed_record.h"

namespace liandu::toolbox {
namespace {

// Record types; payloads (docs/formats/webhook_log.md):
//   enqueue     id:varint attempts:varint delivery_id:string target:string body:string
//   end         id:varint how:u8 (webhook_log::end_kind)
//   attempt     id:varint attempts:varint
//   enqueue_v1  id:varint attempts:varint target:string body:string (read only)
constexpr uint8_t type_enqueue_v1 = 1;
constexpr uint8_t type_end = 2;
constexpr uint8_t type_attempt = 3;
constexpr uint8_t type_enqueue = 4;

std::string enqueue_record(const webhook_log::delivery& d) {
  std::string p;
  put_varint(p, d.id);
  put_varint(p, static_cast<uint64_t>(d.attempts));
  put_string(p, d.delivery_id);
  put_string(p, d.target);
  put_string(p, d.body);
  return framed_record(type_enqueue, p);
}

size_t varint_bytes(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// enqueue_record(d).size(), without encoding it.
uint64_t enqueue_record_bytes(const webhook_log::delivery& d) {
  return storage::wal::record_header_bytes + varint_bytes(d.id) +
         varint_bytes(static_cast<uint64_t>(d.attempts)) + varint_bytes(d.delivery_id.size()) +
         d.delivery_id.size() + varint_bytes(d.target.size()) + d.target.size() +
         varint_bytes(d.body.size()) + d.body.size();
}

std::string attempt_record(uint64_t id, int attempts) {
  std::string p;
  put_varint(p, id);
  put_varint(p, static_cast<uint64_t>(attempts));
  return framed_record(type_attempt, p);
}

std::string end_record(uint64_t id, webhook_log::end_kind how) {
  std::string p;
  put_varint(p, id);
  p.push_back(static_cast<char>(how));
  return framed_record(type_end, p);
}

}  // namespace

result<std::unique_ptr<webhook_log>> webhook_log::open(const std::string& path, options o) {
  std::unique_ptr<webhook_log> log(new webhook_log(path, o));
  std::lock_guard lock(log->mu_);
  uint64_t file_bytes = 0;
  bool v1 = false;  // a pending delivery was read from a version 1 record
  auto data = storage::fs::read_file(path);
  if (data.ok()) {
    file_bytes = data->size();
    uint64_t offset = 0;  // of the record being replayed, for messages
    auto bad = [&](const char* what) {
      log->messages_.push_back(path + ": " + what + " in the record at offset " + std::to_string(offset) +
                               " (record dropped)");
    };
    storage::wal::replay_report report =
        storage::wal::read_segment(*data, path, [&](storage::wal::record_type t, std::string_view in) {
          offset = static_cast<uint64_t>(in.data() - data->data()) - storage::wal::record_header_bytes;
          uint64_t id = 0, attempts = 0;
          if (!get_varint(in, id) || id == 0) return bad("bad id");
          log->next_id_ = std::max(log->next_id_, id + 1);
          const uint8_t type = static_cast<uint8_t>(t);
          if (type == type_enqueue || type == type_enqueue_v1) {
            std::string_view delivery_id, target, body;
            if (!get_varint(in, attempts) ||
                (type == type_enqueue && (!get_string(in, delivery_id) || delivery_id.empty())) ||
                !get_string(in, target) || !get_string(in, body) || !in.empty())
              return bad("bad enqueue record");
            delivery d{id, std::string(target), std::string(body),
                       static_cast<int>(std::min<uint64_t>(attempts, INT_MAX)), std::string(delivery_id)};
            if (auto it = log->pending_.find(id); it != log->pending_.end())
              log->pending_bytes_ -= enqueue_record_bytes(it->second);
            log->pending_bytes_ += enqueue_record_bytes(d);
            log->pending_[id] = std::move(d);
          } else if (type == type_end) {
            if (in.size() != 1) return bad("bad end record");
            if (auto it = log->pending_.find(id); it != log->pending_.end()) {
              log->pending_bytes_ -= enqueue_record_bytes(it->second);
              log->pending_.erase(it);
            }
          } else if (type == type_attempt) {
            if (!get_varint(in, attempts) || !in.empty()) return bad("bad attempt record");
            if (auto it = log->pending_.find(id); it != log->pending_.end()) {
              log->pending_bytes_ -= enqueue_record_bytes(it->second);
              it->second.attempts = static_cast<int>(std::min<uint64_t>(attempts, INT_MAX));
              log->pending_bytes_ += enqueue_record_bytes(it->second);
            }
          } else {
            bad("unknown record type");
          }
        });
    for (auto& m : report.messages) log->messages_.push_back(std::move(m));
  } else if (data.error().code() != errc::not_found) {
    return data.error();
  }
  // A version 1 delivery gets its delivery id now; the rewrite below keeps
  // it (a delivery id given to the sender is on disk before).
  for (auto& [id, d] : log->pending_) {
    if (!d.delivery_id.empty()) continue;
    v1 = true;
    log->pending_bytes_ -= enqueue_record_bytes(d);
    d.delivery_id = rules::new_delivery_id();
    log->pending_bytes_ += enqueue_record_bytes(d);
  }
  for (const auto& [id, d] : log->pending_) log->restored_.push_back(d);
  log->stats_.pending = log->pending_.size();
  // Anything besides the pending deliveries (ended ones, damaged bytes,
  // version 1 records) is dropped now, so new records never follow a damaged
  // one.
  if (v1 || file_bytes != log->pending_bytes_) {
    LIANDU_RETURN_IF_ERROR(log->compact_locked());
  } else {
    LIANDU_RETURN_IF_ERROR(log->file_.open(path));
    log->stats_.file_bytes = log->file_.size();
  }
  return log;
}

// Rewrites the file with the pending deliveries only and appends to it from
// then on. write_file_atomic writes it whole under a temporary name first and
// renames it over the old one: a crash leaves either. On failure the old file
// stays open for appending, and compaction is tried again at the next end().
status webhook_log::compact_locked() {
  std::string out;
  out.reserve(pending_bytes_);
  for (const auto& [id, d] : pending_) out += enqueue_record(d);
  LIANDU_RETURN_IF_ERROR(storage::fs::write_file_atomic(path_, out));
  pending_bytes_ = out.size();
  unsynced_ = false;
  ++stats_.compactions;
  status s = file_.open(path_);
  stats_.file_bytes = file_.is_open() ? file_.size() : 0;
  return s;
}

result<uint64_t> webhook_log::append(std::string_view target, std::string_view body,
                                     std::string_view delivery_id) {
  if (delivery_id.empty()) return error(errc::invalid_argument, "webhook log: empty delivery id");
  std::lock_guard lock(mu_);
  if (!file_.is_open()) return error(errc::io_error, path_ + ": not open");
  delivery d{next_id_, std::string(target), std::string(body), 0, std::string(delivery_id)};
  std::string record = enqueue_record(d);
  const uint64_t before = file_.size();
  if (status s = file_.append(record); !s.ok()) {
    // Part of the record may be on disk: cut it off, so that the next record
    // follows the last whole one (replay would skip it anyway).
    (void)file_.truncate(before);
    return s;
  }
  file_.must_sync();  // also makes the end records written before durable
  unsynced_ = false;
  const uint64_t id = next_id_++;
  pending_bytes_ += record.size();
  pending_.emplace(id, std::move(d));
  ++stats_.appended;
  stats_.pending = pending_.size();
  stats_.file_bytes = file_.size();
  return id;
}

status webhook_log::attempted(uint64_t id, int attempts) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return {};
  // The record grows by a byte when attempts passes 127.
  pending_bytes_ -= enqueue_record_bytes(it->second);
  it->second.attempts = attempts;
  pending_bytes_ += enqueue_record_bytes(it->second);
  return append_unsynced_locked(attempt_record(id, attempts));
}

status webhook_log::end(uint64_t id, end_kind how) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return {};
  pending_bytes_ -= enqueue_record_bytes(it->second);
  pending_.erase(it);
  ++stats_.ended;
  stats_.pending = pending_.size();
  return append_unsynced_locked(end_record(id, how));
}

status webhook_log::append_unsynced_locked(std::string_view record) {
  if (!file_.is_open()) return error(errc::io_error, path_ + ": not open");
  LIANDU_RETURN_IF_ERROR(file_.append(record));
  unsynced_ = true;
  stats_.file_bytes = file_.size();
  // Only end and attempt records make the file hold more than the pending
  // deliveries.
  if (file_.size() > options_.compact_bytes && file_.size() > 2 * pending_bytes_) return compact_locked();
  return {};
}

void webhook_log::sync() {
  std::lock_guard lock(mu_);
  if (unsynced_ && file_.is_open()) file_.must_sync();
  unsynced_ = false;
}

webhook_log::counters webhook_log::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace liandu::toolbox
