#include "storage/wal/wal_writer.h"

#include <chrono>
#include <cstdio>

#include "base/coding.h"
#include "base/crc32c.h"

namespace liandu::storage::wal {

std::string writer::segment_path(uint64_t id) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.wal", static_cast<unsigned long long>(id));
  return fs::join(dir_, name);
}

result<std::unique_ptr<writer>> writer::open(const std::string& dir, options opts) {
  LIANDU_RETURN_IF_ERROR(fs::create_dirs(dir));
  std::unique_ptr<writer> w(new writer(dir, opts));
  auto names = fs::list_dir(dir);
  if (!names.ok()) return names.error();
  uint64_t first = 0, last = 0;
  for (const auto& n : *names) {
    if (n.size() != 24 || n.substr(20) != ".wal") continue;
    uint64_t id = std::strtoull(n.c_str(), nullptr, 10);
    if (first == 0 || id < first) first = id;
    if (id > last) last = id;
  }
  w->first_segment_ = first == 0 ? 1 : first;
  w->segment_id_ = last;  // replay() opens the last (or a first) segment for append
  return w;
}

writer::~writer() {
  std::unique_lock lock(mu_);
  while (syncing_) cv_.wait(lock);
  if (!pending_.empty() && file_.is_open()) {
    write_pending_locked(lock);
  }
}

status writer::open_segment(uint64_t id) {
  LIANDU_RETURN_IF_ERROR(file_.open(segment_path(id)));
  segment_id_ = id;
  fs::must_fsync_dir(dir_);
  return {};
}

status writer::replay(const record_fn& fn, replay_report& total, const segment_done_fn& segment_done) {
  if (segment_id_ == 0) return open_segment(1);
  for (uint64_t id = first_segment_; id <= segment_id_; ++id) {
    std::string path = segment_path(id);
    if (!fs::exists(path)) continue;
    auto data = std::make_unique<fs::mapped_file>();
    LIANDU_RETURN_IF_ERROR(data->open(path));
    char name[32];
    std::snprintf(name, sizeof(name), "wal %020llu", static_cast<unsigned long long>(id));
    replay_report r = read_segment_pipelined(data->data(), name, fn);
    if (segment_done) segment_done(std::move(data));
    total.records += r.records;
    total.corrupt_records += r.corrupt_records;
    total.skipped_bytes += r.skipped_bytes;
    total.torn_tail = total.torn_tail || r.torn_tail;
    for (auto& m : r.messages) total.messages.push_back(std::move(m));
    if (id == segment_id_) {
      LIANDU_RETURN_IF_ERROR(file_.open(path));
      if (r.torn_tail) {
        // Drop the torn tail so new records follow the last good one.
        LIANDU_RETURN_IF_ERROR(file_.truncate(r.valid_end));
        file_.must_sync();
      }
    }
  }
  // Start a fresh segment: keeps replayed segments immutable.
  file_.close();
  return open_segment(segment_id_ + 1);
}

namespace {
uint32_t record_crc(uint8_t type, std::string_view payload) {
  return crc32c(payload.data(), payload.size(), crc32c(&type, 1));
}
void put_header(std::string& out, uint32_t crc, uint8_t type, size_t payload_size) {
  put_fixed32(out, crc);
  put_fixed32(out, static_cast<uint32_t>(payload_size));
  out.push_back(static_cast<char>(type));
}
}  // namespace

uint64_t writer::append(record_type type, std::string_view payload) {
  const auto t = static_cast<uint8_t>(type);
  const uint32_t crc = record_crc(t, payload);
  std::lock_guard lock(mu_);
  put_header(pending_, crc, t, payload.size());
  pending_.append(payload);
  return ++appended_seq_;
}

uint64_t writer::append_borrowed(record_type type, std::string_view payload) {
  const auto t = static_cast<uint8_t>(type);
  const uint32_t crc = record_crc(t, payload);
  std::lock_guard lock(mu_);
  put_header(pending_, crc, t, payload.size());
  borrowed_.push_back({pending_.size(), payload});
  return ++appended_seq_;
}

// Writes and fsyncs everything pending with mu_ released, as the group leader.
void writer::write_pending_locked(std::unique_lock<std::mutex>& lock) {
  syncing_ = true;
  std::string buf;
  buf.swap(pending_);
  // Appends go on into the spare buffer, which kept its capacity: a pending_
  // that started empty each time grew by doubling (copies, and fresh pages
  // the kernel had to fault in) for every group written.
  pending_.swap(spare_);
  std::vector<borrowed_payload> borrowed;
  borrowed.swap(borrowed_);
  borrowed_.swap(spare_borrowed_);
  uint64_t target = appended_seq_;
  lock.unlock();
  // The group in file order: the buffer's bytes with each borrowed payload
  // after its header.
  std::vector<std::string_view> pieces;
  pieces.reserve(2 * borrowed.size() + 1);
  size_t from = 0;
  size_t group_bytes = buf.size();
  for (const borrowed_payload& b : borrowed) {
    pieces.emplace_back(buf.data() + from, b.at - from);
    pieces.push_back(b.bytes);
    group_bytes += b.bytes.size();
    from = b.at;
  }
  pieces.emplace_back(buf.data() + from, buf.size() - from);
  status s = file_.append_all(pieces);
  if (!s.ok()) {
    std::fprintf(stderr, "liandu: fatal: %s\n", s.to_string().c_str());
    std::abort();
  }
  auto sync_start = std::chrono::steady_clock::now();
  file_.must_sync();
  auto sync_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - sync_start);
  lock.lock();
  fsync_nanos_ += static_cast<uint64_t>(sync_nanos.count());
  if (fsync_observer_) fsync_observer_(static_cast<uint64_t>(sync_nanos.count()));
  if (file_.size() >= opts_.segment_bytes) {
    // Still the leader (syncing_), so no one else touches file_.
    file_.close();
    status r = open_segment(segment_id_ + 1);
    if (!r.ok()) {
      std::fprintf(stderr, "liandu: fatal: %s\n", r.to_string().c_str());
      std::abort();
    }
  }
  bytes_written_ += group_bytes;
  if (buf.capacity() <= max_spare_bytes) {
    buf.clear();
    spare_.swap(buf);
  }
  borrowed.clear();
  spare_borrowed_.swap(borrowed);
  ++fsyncs_;
  durable_seq_ = target;
  syncing_ = false;
  cv_.notify_all();
}

void writer::sync(uint64_t seq) {
  std::unique_lock lock(mu_);
  while (durable_seq_ < seq) {
    if (!syncing_) {
      write_pending_locked(lock);
    } else {
      cv_.wait(lock);
    }
  }
}

uint64_t writer::rotate() {
  std::unique_lock lock(mu_);
  while (syncing_) cv_.wait(lock);
  if (!pending_.empty()) write_pending_locked(lock);
  while (syncing_) cv_.wait(lock);
  uint64_t closed = segment_id_;
  file_.close();
  status s = open_segment(closed + 1);
  if (!s.ok()) {
    std::fprintf(stderr, "liandu: fatal: %s\n", s.to_string().c_str());
    std::abort();
  }
  return closed;
}

status writer::remove_up_to(uint64_t last) {
  std::lock_guard lock(mu_);
  for (uint64_t id = first_segment_; id <= last && id < segment_id_; ++id) {
    LIANDU_RETURN_IF_ERROR(fs::remove_file(segment_path(id)));
    first_segment_ = id + 1;
  }
  return {};
}

uint64_t writer::segment_count() const {
  std::lock_guard lock(mu_);
  return segment_id_ - first_segment_ + 1;
}
uint64_t writer::bytes_written() const {
  std::lock_guard lock(mu_);
  return bytes_written_;
}
void writer::set_fsync_observer(std::function<void(uint64_t)> fn) {
  std::lock_guard lock(mu_);
  fsync_observer_ = std::move(fn);
}

uint64_t writer::fsync_nanos() const {
  std::lock_guard lock(mu_);
  return fsync_nanos_;
}
uint64_t writer::fsync_count() const {
  std::lock_guard lock(mu_);
  return fsyncs_;
}

}  // namespace liandu::storage::wal
