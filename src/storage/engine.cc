#include "storage/engine.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>

#include "base/bytes_equal.h"
#include "base/clock.h"
#include "base/coding.h"
#include "storage/block/block_reader.h"
#include "storage/block/block_writer.h"
#include "storage/compaction/compaction_policy.h"
#include "storage/fs/file_util.h"
#include "storage/head/head.h"
#include "storage/head/sharded_appender.h"
#include "storage/index/series_index.h"
#include "storage/wal/wal_writer.h"

namespace liandu::storage {

namespace {
constexpr int64_t hour_ns = 3600LL * 1000000000LL;
constexpr int64_t day_ns = 24 * hour_ns;
constexpr int64_t min_time = std::numeric_limits<int64_t>::min();
constexpr int64_t max_time = std::numeric_limits<int64_t>::max();

// A deleted range of one series that applies to sources (blocks, frozen heads)
// older than `seq_limit`; newer data was written after the delete.
struct tombstone {
  uint32_t series_id;
  int64_t min_time;
  int64_t max_time;
  uint64_t seq_limit;
};

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string seq_name(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu.blk", static_cast<unsigned long long>(seq));
  return buf;
}
}  // namespace

int64_t default_shard_duration(int64_t duration_ns) {
  // InfluxDB's shard group durations: < 2 days -> 1 h, < 6 months -> 1 day, else 7 days.
  if (duration_ns > 0 && duration_ns < 2 * day_ns) return hour_ns;
  if (duration_ns > 0 && duration_ns <= 180 * day_ns) return day_ns;
  return 7 * day_ns;
}

// measurement → field → type.
using field_type_map =
    std::map<std::string, std::map<std::string, model::field_type, std::less<>>, std::less<>>;

struct engine::partition {
  int64_t start = 0;
  int64_t end = 0;  // exclusive
  std::string dir;
  head::head active;
  struct frozen_head {
    std::shared_ptr<const head::head> data;
    uint64_t seq;
  };
  std::vector<frozen_head> frozen;  // being written as blocks by a checkpoint
  struct block_file {
    std::shared_ptr<const block::block_reader> reader;
    uint64_t seq;
  };
  std::vector<block_file> blocks;  // ascending seq
  // A field keeps one type per measurement and partition, as per shard in
  // InfluxDB: a type may change from one partition to the next, and
  // retention that drops a partition forgets its types. Persisted in
  // <dir>/fields.json at checkpoint; what came after is rebuilt by WAL replay.
  field_type_map fields;
  // Changes to `fields`, and the change fields.json last stored: a
  // checkpoint that fails anywhere leaves the file to the next one.
  uint64_t fields_version = 0;
  uint64_t fields_written = 0;
};

struct engine::rp_state {
  retention_policy info;
  std::map<int64_t, std::shared_ptr<partition>> partitions;  // by start
};

struct engine::database {
  std::string name;
  std::string dir;
  index::series_index index;
  std::map<std::string, rp_state, std::less<>> rps;
  std::string default_rp;
  std::vector<tombstone> tombstones;
  bool dropped = false;
};

namespace {

constexpr char fields_file[] = "fields.json";

std::string field_types_json(const field_type_map& types) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [m, fs_] : types) {
    for (const auto& [f, t] : fs_) j[m][f] = static_cast<int>(t);
  }
  return j.dump();
}

// A partition's field types: its fields.json, or (a data folder from before
// types were per partition, or a crash between a partition's first block and
// its first fields.json) what its blocks hold, written at the next checkpoint.
status load_field_types(const engine::database& db, engine::partition& p, bool has_file) {
  if (has_file) {
    auto text = fs::read_file(fs::join(p.dir, fields_file));
    if (!text.ok()) return text.error();
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object())
      return error(errc::corruption, fs::join(p.dir, fields_file) + " is not a JSON object");
    for (auto& [m, fs_] : j.items()) {
      if (!fs_.is_object()) continue;
      for (auto& [f, t] : fs_.items()) {
        if (t.is_number_integer()) p.fields[m][f] = static_cast<model::field_type>(t.get<int>());
      }
    }
    return {};
  }
  for (const auto& b : p.blocks) {
    for (const auto& e : b.reader->entries()) {
      if (!db.index.alive(e.series_id)) continue;
      p.fields[db.index.measurement_name_of(e.series_id)].emplace(e.field, e.type);
    }
  }
  if (!p.fields.empty()) p.fields_version = 1;
  return {};
}

}  // namespace

engine::engine(engine_options opts) : opts_(std::move(opts)) {}

engine::~engine() {
  {
    std::lock_guard lock(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
}

result<std::unique_ptr<engine>> engine::open(engine_options opts) {
  std::unique_ptr<engine> e(new engine(std::move(opts)));
  LIANDU_RETURN_IF_ERROR(e->load());
  if (e->opts_.background) e->bg_ = std::thread([p = e.get()] { p->background_loop(); });
  return e;
}

engine::database* engine::find_db_locked(std::string_view db) const {
  auto it = dbs_.find(db);
  return it == dbs_.end() ? nullptr : it->second.get();
}

// ---------------------------------------------------------------- metadata

status engine::save_meta_locked() {
  nlohmann::json j;
  j["version"] = 1;
  j["next_block_seq"] = next_block_seq_;
  j["databases"] = nlohmann::json::array();
  for (const auto& [name, db] : dbs_) {
    nlohmann::json d;
    d["name"] = name;
    d["default_rp"] = db->default_rp;
    d["rps"] = nlohmann::json::array();
    for (const auto& [rname, rp] : db->rps) {
      d["rps"].push_back({{"name", rname},
                          {"duration_ns", rp.info.duration_ns},
                          {"shard_duration_ns", rp.info.shard_duration_ns},
                          {"replication", rp.info.replication}});
    }
    j["databases"].push_back(d);
  }
  return fs::write_file_atomic(fs::join(opts_.data_dir, "meta.json"), j.dump(2));
}

namespace {

nlohmann::json tombstones_json(const std::vector<tombstone>& ts) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& t : ts) a.push_back({t.series_id, t.min_time, t.max_time, t.seq_limit});
  return a;
}

}  // namespace

status engine::load() {
  LIANDU_RETURN_IF_ERROR(fs::create_dirs(opts_.data_dir));
  auto meta = fs::read_file(fs::join(opts_.data_dir, "meta.json"));
  if (meta.ok()) {
    nlohmann::json j = nlohmann::json::parse(*meta, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return error(errc::corruption, "meta.json is not valid JSON");
    next_block_seq_ = j.value("next_block_seq", uint64_t{1});
    for (const auto& d : j["databases"]) {
      auto db = std::make_shared<database>();
      db->name = d["name"].get<std::string>();
      db->default_rp = d["default_rp"].get<std::string>();
      db->dir = fs::join(fs::join(opts_.data_dir, "db"), db->name);
      LIANDU_RETURN_IF_ERROR(db->index.open(db->dir));
      for (const auto& r : d["rps"]) {
        rp_state rp;
        rp.info.name = r["name"].get<std::string>();
        rp.info.duration_ns = r["duration_ns"].get<int64_t>();
        rp.info.shard_duration_ns = r["shard_duration_ns"].get<int64_t>();
        rp.info.replication = r["replication"].get<int>();
        std::string rp_dir = fs::join(db->dir, rp.info.name);
        auto parts = fs::list_dir(rp_dir);
        if (!parts.ok()) return parts.error();
        for (const auto& pname : *parts) {
          auto dash = pname.find('_');
          if (dash == std::string::npos) continue;
          auto p = std::make_shared<partition>();
          p->start = std::stoll(pname.substr(0, dash));
          p->end = std::stoll(pname.substr(dash + 1));
          p->dir = fs::join(rp_dir, pname);
          auto files = fs::list_dir(p->dir);
          if (!files.ok()) return files.error();
          bool has_fields_file = false;
          for (const auto& f : *files) {
            if (f == fields_file) {
              has_fields_file = true;
              continue;
            }
            if (f.size() != 24 || f.substr(20) != ".blk") {
              if (f.ends_with(".tmp")) (void)fs::remove_file(fs::join(p->dir, f));  // unfinished write
              continue;
            }
            auto reader = block::block_reader::open(fs::join(p->dir, f));
            if (!reader.ok()) {
              recovery_.messages.push_back("skipped unreadable block " + f + ": " + reader.error().message());
              continue;
            }
            uint64_t seq = std::strtoull(f.c_str(), nullptr, 10);
            next_block_seq_ = std::max(next_block_seq_, seq + 1);
            p->blocks.push_back({std::shared_ptr<const block::block_reader>(std::move(reader).value()), seq});
          }
          LIANDU_RETURN_IF_ERROR(load_field_types(*db, *p, has_fields_file));
          rp.partitions[p->start] = p;
        }
        db->rps.emplace(rp.info.name, std::move(rp));
      }
      // Before field types were kept per partition they were one file per
      // database; each partition has rebuilt its own from its blocks above.
      (void)fs::remove_file(fs::join(db->dir, fields_file));
      auto tombs = fs::read_file(fs::join(db->dir, "tombstones.json"));
      if (tombs.ok()) {
        nlohmann::json tj = nlohmann::json::parse(*tombs, nullptr, false);
        if (tj.is_array()) {
          for (const auto& t : tj) {
            db->tombstones.push_back(
                {t[0].get<uint32_t>(), t[1].get<int64_t>(), t[2].get<int64_t>(), t[3].get<uint64_t>()});
          }
        }
      }
      dbs_[db->name] = db;
    }
  } else if (meta.error().code() != errc::not_found) {
    return meta.error();
  }

  wal::writer::options wopts;
  wopts.segment_bytes = opts_.wal_segment_bytes;
  auto w = wal::writer::open(fs::join(opts_.data_dir, "wal"), wopts);
  if (!w.ok()) return w.error();
  wal_ = std::move(w).value();
  wal::replay_report report;
  {
    // Records are decoded here and their values appended to the heads on
    // one thread per core. String values point into the segment's mapping,
    // so a segment stays mapped until its values are applied: it is released
    // at the end of the next segment, by when that has long happened, so
    // neither side waits for the other to drain (that idled both at every
    // segment end). Declared before the appender, which finishes when it
    // goes, on an early return too.
    std::deque<std::pair<uint64_t, std::unique_ptr<fs::mapped_file>>> mapped;
    head::sharded_appender appender(std::max(1u, std::thread::hardware_concurrency()));
    LIANDU_RETURN_IF_ERROR(wal_->replay(
        [&](wal::record_type t, std::string_view payload) {
          replay_record(static_cast<uint8_t>(t), payload, appender);
        },
        report,
        [&](std::unique_ptr<fs::mapped_file> segment) {
          mapped.emplace_back(appender.mark(), std::move(segment));
          while (mapped.size() > 1) {
            appender.wait_applied(mapped.front().first);
            mapped.pop_front();
          }
        }));
    appender.finish();
  }
  size_t replayed_head_bytes = 0;
  for (const auto& [_, db] : dbs_) {
    for (const auto& [_, rp] : db->rps) {
      for (const auto& [_, p] : rp.partitions) replayed_head_bytes += p->active.memory_bytes();
    }
  }
  head_bytes_ = replayed_head_bytes;
  recovery_.wal_records = report.records;
  for (auto& m : report.messages) recovery_.messages.push_back(std::move(m));
  for (const auto& [_, db] : dbs_) recovery_.series += db->index.series_count();
  return {};
}

void engine::replay_record(uint8_t type, std::string_view payload, head::sharded_appender& appender) {
  if (type == static_cast<uint8_t>(wal::record_type::write)) {
    batch_reader r(payload);
    if (!r.header_status().ok()) {
      recovery_.messages.push_back("skipped WAL write record: " + r.header_status().message());
      return;
    }
    database* db = find_db_locked(r.db());
    if (db == nullptr) return;  // dropped since
    auto rit = db->rps.find(r.rp().empty() ? std::string_view(db->default_rp) : r.rp());
    if (rit == db->rps.end()) return;
    size_t points = 0, values = 0;
    apply_batch_locked(*db, rit->second, payload, nullptr, nullptr, nullptr, false, points, values,
                       &appender);
    recovery_.points += points;
  } else if (type == static_cast<uint8_t>(wal::record_type::delete_)) {
    std::string_view in = payload;
    std::string_view dbname;
    uint64_t zmin, zmax, n;
    if (!get_string(in, dbname) || !get_varint(in, zmin) || !get_varint(in, zmax) || !get_varint(in, n))
      return;
    database* db = find_db_locked(dbname);
    if (db == nullptr) return;
    appender.finish();  // the delete applies to every value before it
    std::vector<uint32_t> ids;
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view key;
      if (!get_string(in, key)) return;
      uint32_t id = db->index.find(key);
      if (id != 0) ids.push_back(id);
    }
    apply_delete_locked(*db, ids, zigzag_decode(zmin), zigzag_decode(zmax));
  }
}

// ---------------------------------------------------------------- databases

std::vector<std::string> engine::databases() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, _] : dbs_) out.push_back(n);
  return out;
}

bool engine::has_database(std::string_view db) const {
  std::shared_lock lock(mu_);
  return find_db_locked(db) != nullptr;
}

status engine::create_database(std::string_view name, const retention_policy* rp_in) {
  if (name.empty()) return error(errc::invalid_argument, "database name required");
  if (name.find('/') != std::string_view::npos || name == "." || name == "..") {
    return error(errc::invalid_argument, "invalid database name");
  }
  std::unique_lock lock(mu_);
  if (find_db_locked(name) != nullptr) return {};
  auto db = std::make_shared<database>();
  db->name = std::string(name);
  db->dir = fs::join(fs::join(opts_.data_dir, "db"), db->name);
  LIANDU_RETURN_IF_ERROR(db->index.open(db->dir));
  rp_state rp;
  rp.info.name = "autogen";
  if (rp_in != nullptr) rp.info = *rp_in;
  if (rp.info.name.empty()) rp.info.name = "autogen";
  if (rp.info.shard_duration_ns <= 0) rp.info.shard_duration_ns = default_shard_duration(rp.info.duration_ns);
  db->default_rp = rp.info.name;
  db->rps.emplace(rp.info.name, std::move(rp));
  dbs_[db->name] = db;
  return save_meta_locked();
}

status engine::drop_database(std::string_view name) {
  std::shared_ptr<database> db;
  {
    std::unique_lock lock(mu_);
    auto it = dbs_.find(name);
    if (it == dbs_.end()) return {};
    db = it->second;
    db->dropped = true;
    for (auto& [_, rp] : db->rps) {
      for (auto& [_, p] : rp.partitions) head_bytes_ -= p->active.memory_bytes();
    }
    dbs_.erase(it);
    LIANDU_RETURN_IF_ERROR(save_meta_locked());
  }
  // Remove the WAL records of the dropped database before its name can be
  // reused, so a replay never brings its points back.
  LIANDU_RETURN_IF_ERROR(checkpoint());
  std::lock_guard ck(checkpoint_mu_);
  return fs::remove_all(db->dir);
}

result<std::vector<std::pair<retention_policy, bool>>> engine::retention_policies(
    std::string_view name) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  std::vector<std::pair<retention_policy, bool>> out;
  for (const auto& [n, rp] : db->rps) out.emplace_back(rp.info, n == db->default_rp);
  return out;
}

status engine::create_retention_policy(std::string_view name, const retention_policy& rp, bool make_default) {
  if (rp.name.empty() || rp.name.find('/') != std::string::npos) {
    return error(errc::invalid_argument, "invalid retention policy name");
  }
  std::unique_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  auto it = db->rps.find(rp.name);
  if (it != db->rps.end()) {
    if (it->second.info.duration_ns == rp.duration_ns) return {};
    return error(errc::conflict, "retention policy already exists");
  }
  rp_state s;
  s.info = rp;
  if (s.info.shard_duration_ns <= 0) s.info.shard_duration_ns = default_shard_duration(rp.duration_ns);
  db->rps.emplace(rp.name, std::move(s));
  if (make_default) db->default_rp = rp.name;
  return save_meta_locked();
}

status engine::alter_retention_policy(std::string_view name, const retention_policy& rp, bool make_default) {
  std::unique_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  auto it = db->rps.find(rp.name);
  if (it == db->rps.end()) return error(errc::not_found, "retention policy not found: " + rp.name);
  if (rp.duration_ns >= 0) it->second.info.duration_ns = rp.duration_ns;
  if (rp.shard_duration_ns > 0) it->second.info.shard_duration_ns = rp.shard_duration_ns;
  if (rp.replication > 0) it->second.info.replication = rp.replication;
  if (make_default) db->default_rp = rp.name;
  return save_meta_locked();
}

status engine::drop_retention_policy(std::string_view name, std::string_view rpname) {
  std::string dir;
  {
    std::unique_lock lock(mu_);
    database* db = find_db_locked(name);
    if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
    auto it = db->rps.find(rpname);
    if (it == db->rps.end()) return {};
    for (auto& [_, p] : it->second.partitions) head_bytes_ -= p->active.memory_bytes();
    db->rps.erase(it);
    if (db->default_rp == rpname) db->default_rp = db->rps.empty() ? "" : db->rps.begin()->first;
    LIANDU_RETURN_IF_ERROR(save_meta_locked());
    dir = fs::join(db->dir, rpname);
  }
  LIANDU_RETURN_IF_ERROR(checkpoint());
  std::lock_guard ck(checkpoint_mu_);
  return fs::remove_all(dir);
}

// ---------------------------------------------------------------- writes

void engine::apply_batch_locked(database& db, rp_state& rp, std::string_view payload, const write_batch* live,
                                std::vector<rejected_point>* rejected,
                                std::vector<std::pair<size_t, size_t>>* keep, bool enforce_limits,
                                size_t& points, size_t& values, head::sharded_appender* appender) {
  batch_reader r(payload);
  std::string measurement;
  size_t head_before = 0;
  std::shared_ptr<partition> part;
  const int64_t width = rp.info.shard_duration_ns > 0 ? rp.info.shard_duration_ns : 7 * day_ns;
  // The field types of the measurements in the current partition, by the
  // index's name of each: a batch usually carries a few measurements, often
  // alternating (a machine's sensors, then its counters and state), and one
  // partition. The index's names stay put until it creates a series, so the
  // same pointer means the same name without comparing or copying bytes.
  using field_types = std::map<std::string, model::field_type, std::less<>>;
  // Each also keeps the map entries of the first fields its points named
  // (the map's nodes stay put), compared as bytes: a tree walk of string
  // compares per field and point was 6% of factory ingest's instructions.
  struct recent_measurement {
    const std::string* name = nullptr;
    field_types* fields = nullptr;
    std::array<const field_types::value_type*, 4> seen{};
    size_t seen_count = 0;

    const field_types::value_type* find(std::string_view key) {
      for (size_t i = 0; i < seen_count; ++i) {
        if (bytes_equal(seen[i]->first, key)) return seen[i];
      }
      auto it = fields->find(key);
      if (it == fields->end()) return nullptr;
      if (seen_count < seen.size()) seen[seen_count++] = &*it;
      return &*it;
    }
  };
  std::array<recent_measurement, 4> recent{};
  size_t recent_next = 0;
  auto forget_recent = [&] { recent.fill({}); };
  // The measurement's entry among the recent ones. A name not from the index
  // (a new measurement, `measurement` below) is not kept: it gets `fresh`.
  recent_measurement fresh;
  auto recent_of = [&](const std::string* mname, bool from_index) -> recent_measurement& {
    if (!from_index) return fresh = {mname, &part->fields[*mname]};
    for (recent_measurement& m : recent) {
      if (m.name == mname) return m;
    }
    return recent[recent_next++ % recent.size()] = {mname, &part->fields[*mname]};
  };

  // Applies point `index` of the batch; key_hash is index::series_index::key_hash of its key,
  // known_id its series id when a lookup ahead found it (0: look it up).
  auto apply_point = [&](const batch_point& p, uint32_t key_hash, uint32_t known_id, size_t index) {
    uint32_t id = known_id != 0 ? known_id : db.index.find(p.series_key, key_hash);
    const std::string* mname;
    if (id != 0) {
      mname = &db.index.measurement_name_of(id);
    } else {
      measurement_of(p.series_key, measurement);
      mname = &measurement;
      if (enforce_limits && db.index.series_count() >= opts_.max_series_per_database) {
        rejected->push_back({index, "max-series-per-database limit exceeded: (" +
                                        std::to_string(opts_.max_series_per_database) + ")"});
        return;
      }
    }
    if (!part || p.time < part->start || p.time >= part->end) {
      if (part) head_bytes_ += part->active.memory_bytes() - head_before;
      int64_t start = floor_div(p.time, width) * width;
      auto& slot = rp.partitions[start];
      if (!slot) {
        slot = std::make_shared<partition>();
        slot->start = start;
        slot->end = (start > max_time - width) ? max_time : start + width;
        slot->dir = fs::join(fs::join(db.dir, rp.info.name),
                             std::to_string(slot->start) + "_" + std::to_string(slot->end));
      }
      part = slot;
      head_before = part->active.memory_bytes();
      forget_recent();
    }
    // A conflicting point is refused whole, with InfluxDB's message.
    recent_measurement& rm = recent_of(mname, mname != &measurement);
    field_types& mfields = *rm.fields;
    bool new_field = false;
    for (const auto& f : p.fields) {
      const field_types::value_type* known = rm.find(f.key);
      if (known == nullptr) {
        new_field = true;
        continue;
      }
      model::field_type t = model::type_of(f.value);
      if (known->second != t) {
        if (rejected != nullptr) {
          rejected->push_back({index, "field type conflict: input field \"" + std::string(f.key) +
                                          "\" on measurement \"" + *mname + "\" is type " +
                                          model::field_type_name(t) + ", already exists as type " +
                                          model::field_type_name(known->second)});
        }
        return;
      }
    }
    if (new_field) {
      for (const auto& f : p.fields) {
        if (mfields.find(f.key) == mfields.end())
          mfields.emplace(std::string(f.key), model::type_of(f.value));
      }
      ++part->fields_version;
    }
    if (id == 0) {
      id = db.index.find_or_create(p.series_key);
      forget_recent();  // a new measurement may have moved the index's names
    }

    if (appender != nullptr) {
      for (const auto& f : p.fields) appender->add(part->active, id, f.key, f.value, p.time);
    } else {
      for (const auto& f : p.fields) part->active.append(id, f.key, f.value, p.time);
    }
    ++points;
    values += p.fields.size();
    // Byte ranges of the applied points, adjacent ones merged: a batch
    // without refusals is one range instead of a pair per point.
    if (keep != nullptr) {
      if (!keep->empty() && keep->back().second == p.offset) {
        keep->back().second = p.end;
      } else {
        keep->emplace_back(p.offset, p.end);
      }
    }
  };

  // Points are decoded `lookahead` ahead of the one applied, and the cache
  // misses of each point are asked for in steps, each a few points before the
  // step that reads what it loads: the index's table slot (16 ahead), key
  // entry (14) and key bytes (11); then the lookup itself (9), which gives
  // the series id and so its slot in the head; its field list (6); the tails
  // of its columns (3). A batch touches thousands of series, more than stay in
  // cache, and taking those misses one after another was most of the time
  // per point. Ids found ahead stay right: the batch holds the exclusive
  // lock and only adds series, so a found key keeps its id; a key not found
  // ahead (it may be created by an earlier point of the batch) is looked up
  // again when applied. The head steps go to the partition of the point
  // applied last when the point falls in it (nearly always); replay appends
  // on other threads (appender) and skips them.
  constexpr size_t lookahead = 16;
  constexpr size_t entry_ahead = 14, key_ahead = 11, find_ahead = 9, fields_ahead = 6, tails_ahead = 3;
  std::array<batch_point, lookahead> ring;
  std::array<uint32_t, lookahead> hashes{};
  std::array<uint32_t, lookahead> ids{};  // found ahead; 0: not (yet) found
  size_t queued = 0;                      // decoded, not yet applied
  bool more = true;
  size_t decoded = 0;
  // A live batch whose points all came with their key hashes lists its
  // points as written (write_batch::live_point); otherwise the bytes are
  // decoded and each key hashed.
  if (live != nullptr && !live->has_live_points()) live = nullptr;
  auto decode_into = [&](size_t slot) {
    if (!more) return false;
    if (live != nullptr) {
      if (decoded == live->point_count()) return more = false;
      live->live_point(decoded++, ring[slot], hashes[slot]);
    } else {
      if (!r.next(ring[slot])) return more = false;
      hashes[slot] = index::series_index::key_hash(ring[slot].series_key);
    }
    // A wrong hash would miss the key's series and create a second one.
    assert(hashes[slot] == index::series_index::key_hash(ring[slot].series_key));
    ids[slot] = 0;
    db.index.prefetch(hashes[slot]);
    return true;
  };
  // The head the point in `slot` will most likely go to, if any.
  auto head_for = [&](size_t slot) -> const head::head* {
    if (appender != nullptr || !part || ids[slot] == 0) return nullptr;
    int64_t t = ring[slot].time;
    return t >= part->start && t < part->end ? &part->active : nullptr;
  };
  while (queued < lookahead && decode_into(queued)) ++queued;
  for (size_t at = 0, index = 0; queued > 0; at = (at + 1) % lookahead, ++index) {
    if (queued > entry_ahead) db.index.prefetch_entry(hashes[(at + entry_ahead) % lookahead]);
    if (queued > key_ahead) db.index.prefetch_key(hashes[(at + key_ahead) % lookahead]);
    if (queued > find_ahead) {
      size_t s = (at + find_ahead) % lookahead;
      ids[s] = db.index.find(ring[s].series_key, hashes[s]);
      if (const head::head* h = head_for(s)) h->prefetch_slot(ids[s]);
    }
    if (queued > fields_ahead) {
      size_t s = (at + fields_ahead) % lookahead;
      if (const head::head* h = head_for(s)) h->prefetch_fields(ids[s]);
    }
    if (queued > tails_ahead) {
      size_t s = (at + tails_ahead) % lookahead;
      if (const head::head* h = head_for(s)) h->prefetch_tails(ids[s]);
    }
    apply_point(ring[at], hashes[at], ids[at], index);
    if (!decode_into(at)) --queued;  // the ring keeps its order: `at` is now the last point
  }
  if (part) head_bytes_ += part->active.memory_bytes() - head_before;
}

write_result engine::write(const write_batch& batch) {
  write_result res;
  batch_reader header(batch.data());
  if (!header.header_status().ok()) {
    res.st = header.header_status();
    return res;
  }
  uint64_t seq = 0;
  std::string filtered;
  {
    std::unique_lock lock(mu_);
    database* db = find_db_locked(header.db());
    if (db == nullptr) {
      res.st = error(errc::not_found, "database not found: \"" + std::string(header.db()) + "\"");
      return res;
    }
    auto rit = db->rps.find(header.rp().empty() ? std::string_view(db->default_rp) : header.rp());
    if (rit == db->rps.end()) {
      res.st = error(errc::not_found, "retention policy not found: " + std::string(header.rp()));
      return res;
    }
    if (head_bytes_.load() > opts_.head_memory_limit) {
      res.st = error(errc::limit_exceeded, "engine: cache-max-memory-size exceeded: (" +
                                               std::to_string(head_bytes_.load()) + "/" +
                                               std::to_string(opts_.head_memory_limit) + ")");
      bg_cv_.notify_all();
      return res;
    }
    size_t points = 0, values = 0;
    std::vector<std::pair<size_t, size_t>> keep;
    apply_batch_locked(*db, rit->second, batch.data(), &batch, &res.rejected, &keep, true, points, values);
    if (points == 0) return res;
    // Borrowed, not copied: batch and filtered outlive the sync below.
    if (res.rejected.empty()) {
      seq = wal_->append_borrowed(wal::record_type::write, batch.data());
    } else {
      // Log only the accepted points, so replay matches what was applied.
      filtered = batch.data().substr(0, header.header_bytes());
      for (auto [b, e] : keep) filtered.append(batch.data(), b, e - b);
      seq = wal_->append_borrowed(wal::record_type::write, filtered);
    }
    res.points_written = points;
    points_written_ += points;
    values_written_ += values;
    bytes_written_ += batch.data().size();
  }
  wal_->sync(seq);
  if (observer_)
    observer_(res.rejected.empty() ? std::string_view(batch.data()) : std::string_view(filtered));
  if (head_bytes_.load() > opts_.checkpoint_bytes) bg_cv_.notify_all();
  return res;
}

// ---------------------------------------------------------------- index

result<std::vector<std::string>> engine::measurements(std::string_view name) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  return db->index.measurements();
}

result<std::vector<std::pair<std::string, model::field_type>>> engine::field_keys(
    std::string_view name, std::string_view measurement) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  // Every partition's types: a field whose type changed from one partition
  // to another is listed once per type, as InfluxDB lists it across shards.
  // Types of one name in read precedence, so the first is the one reads use.
  auto order = [](const std::pair<std::string_view, model::field_type>& a,
                  const std::pair<std::string_view, model::field_type>& b) {
    if (a.first != b.first) return a.first < b.first;
    return read_precedence(a.second) < read_precedence(b.second);
  };
  std::set<std::pair<std::string_view, model::field_type>, decltype(order)> seen(order);
  for (const auto& [_, rp] : db->rps) {
    for (const auto& [_, p] : rp.partitions) {
      auto it = p->fields.find(measurement);
      if (it == p->fields.end()) continue;
      for (const auto& [f, t] : it->second) seen.emplace(f, t);
    }
  }
  std::vector<std::pair<std::string, model::field_type>> out;
  out.reserve(seen.size());
  for (const auto& [f, t] : seen) out.emplace_back(std::string(f), t);
  return out;
}

result<std::vector<std::string>> engine::tag_keys(std::string_view name, std::string_view measurement) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  return db->index.tag_keys(measurement);
}

result<std::vector<series_ref>> engine::series(std::string_view name, std::string_view measurement) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  std::vector<series_ref> out;
  for (uint32_t id : db->index.series_of(measurement)) out.push_back({id, std::string(db->index.key_of(id))});
  std::sort(out.begin(), out.end(), [](const series_ref& a, const series_ref& b) { return a.key < b.key; });
  return out;
}

result<uint64_t> engine::series_generation(std::string_view name) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  return db->index.generation();
}

result<std::vector<std::pair<std::string, std::vector<uint32_t>>>> engine::tag_values(
    std::string_view name, std::string_view measurement, std::string_view key) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  return db->index.tag_values(measurement, key);
}

result<std::vector<uint32_t>> engine::series_with_tag(std::string_view name, std::string_view measurement,
                                                      std::string_view key, std::string_view value) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  return db->index.series_with_tag(measurement, key, value);
}

// ---------------------------------------------------------------- reads

namespace {

bool deleted(const std::vector<tombstone>& ts, uint64_t seq, int64_t t) {
  for (const auto& tb : ts) {
    if (seq < tb.seq_limit && t >= tb.min_time && t <= tb.max_time) return true;
  }
  return false;
}

// [begin, end) of a sorted vector of times within [lo, hi].
std::pair<size_t, size_t> sorted_range(std::span<const int64_t> times, int64_t lo, int64_t hi) {
  auto b = std::lower_bound(times.begin(), times.end(), lo);
  auto e = std::upper_bound(b, times.end(), hi);
  return {static_cast<size_t>(b - times.begin()), static_cast<size_t>(e - times.begin())};
}

// The number of distinct times in sorted, duplicate-free spans. Sources of
// one series overlap only a little (blocks cut while several writers'
// batches interleave, a late point in the head), so only the times at or
// below the highest time of the spans before are looked up in those spans;
// the rest are new. Sorting all times instead cost the first count(*)
// after a load as much as the scan.
uint64_t count_distinct_sorted(std::vector<std::span<const int64_t>>& spans) {
  std::erase_if(spans, [](auto sp) { return sp.empty(); });
  std::sort(spans.begin(), spans.end(), [](auto a, auto b) { return a.front() < b.front(); });
  uint64_t n = 0;
  int64_t hi = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    std::span<const int64_t> sp = spans[i];
    size_t seen = i == 0 ? 0 : static_cast<size_t>(std::upper_bound(sp.begin(), sp.end(), hi) - sp.begin());
    n += sp.size() - seen;
    for (size_t k = 0; k < seen; ++k) {
      int64_t t = sp[k];
      bool dup = false;
      for (size_t j = 0; j < i && !dup; ++j) {
        std::span<const int64_t> before = spans[j];
        dup = t <= before.back() && std::binary_search(before.begin(), before.end(), t);
      }
      if (!dup) ++n;
    }
    hi = i == 0 ? sp.back() : std::max(hi, sp.back());
  }
  return n;
}

template <typename T, typename Keep>
void append_if(std::vector<int64_t>& out_times, std::vector<T>& out, const std::vector<int64_t>& times,
               const std::vector<T>& vals, Keep keep) {
  for (size_t i = 0; i < times.size(); ++i) {
    if (!keep(times[i])) continue;
    out_times.push_back(times[i]);
    out.push_back(vals[i]);
  }
}

// Appends the part of src within [lo, hi] that no tombstone removes: a
// sorted source as one range, otherwise point by point with the type
// switch outside the loop.
void append_filtered(column& out, const column& src, int64_t lo, int64_t hi, const std::vector<tombstone>& ts,
                     uint64_t seq) {
  if (ts.empty() && src.is_sorted_unique()) {
    auto [b, e] = sorted_range(src.times, lo, hi);
    out.append_range(src, b, e);
    return;
  }
  auto keep = [&](int64_t t) { return t >= lo && t <= hi && (ts.empty() || !deleted(ts, seq, t)); };
  switch (src.type) {
    case model::field_type::float64: append_if(out.times, out.floats, src.times, src.floats, keep); break;
    case model::field_type::int64: append_if(out.times, out.integers, src.times, src.integers, keep); break;
    case model::field_type::uint64:
      append_if(out.times, out.unsigneds, src.times, src.unsigneds, keep);
      break;
    case model::field_type::boolean: append_if(out.times, out.booleans, src.times, src.booleans, keep); break;
    case model::field_type::string: append_if(out.times, out.strings, src.times, src.strings, keep); break;
  }
}

}  // namespace

status engine::scan(std::string_view name, std::string_view rpname, uint32_t series_id,
                    std::string_view field, int64_t lo, int64_t hi, column& out) const {
  struct source {
    std::shared_ptr<const block::block_reader> block;
    const block::entry* entry = nullptr;
    std::shared_ptr<const head::head> frozen;
    uint64_t seq = 0;
  };
  struct part_sources {
    std::vector<source> sources;
    column active;  // copy of the active head's matching points
  };
  std::vector<part_sources> parts;
  std::vector<tombstone> ts;
  {
    std::shared_lock lock(mu_);
    database* db = find_db_locked(name);
    if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
    auto rit = db->rps.find(rpname.empty() ? std::string_view(db->default_rp) : rpname);
    if (rit == db->rps.end())
      return error(errc::not_found, "retention policy not found: " + std::string(rpname));
    for (const auto& t : db->tombstones) {
      if (t.series_id == series_id) ts.push_back(t);
    }
    for (const auto& [start, p] : rit->second.partitions) {
      if (p->end <= lo || p->start > hi) continue;
      part_sources ps;
      for (const auto& b : p->blocks) {
        if (!b.reader->overlaps(lo, hi)) continue;
        b.reader->for_each_entry_of(series_id, field, [&](const block::entry& e) {
          if (e.max_time < lo || e.min_time > hi) return;  // pruned by the index
          ps.sources.push_back({b.reader, &e, nullptr, b.seq});
        });
      }
      for (const auto& f : p->frozen) {
        if (f.data->find(series_id, field) != nullptr)
          ps.sources.push_back({nullptr, nullptr, f.data, f.seq});
      }
      if (const head::head_column* c = p->active.find(series_id, field)) {
        ps.active.type = c->type();
        c->append_range_to(ps.active, lo, hi);
      }
      if (!ps.sources.empty() || ps.active.size() > 0) parts.push_back(std::move(ps));
    }
  }
  // Each partition's points, merged; partitions hold disjoint, ascending
  // time ranges, so they are concatenated.
  std::vector<column> per_part;
  per_part.reserve(parts.size());
  for (auto& ps : parts) {
    column merged;
    if (ps.sources.size() == 1 && ps.sources[0].block && ps.active.size() == 0 && ts.empty()) {
      // The common case for older data: one block, nothing to merge or
      // delete. A block column is sorted and unique: slice it, no copy.
      LIANDU_RETURN_IF_ERROR(ps.sources[0].block->read(*ps.sources[0].entry, merged));
      size_t b = static_cast<size_t>(std::lower_bound(merged.times.begin(), merged.times.end(), lo) -
                                     merged.times.begin());
      size_t e = static_cast<size_t>(std::upper_bound(merged.times.begin(), merged.times.end(), hi) -
                                     merged.times.begin());
      if (b != 0 || e != merged.size()) merged.keep_range(b, e);
      if (merged.size() > 0) per_part.push_back(std::move(merged));
      continue;
    }
    // A field has one type within a partition; a source of another type
    // (data written before types were per partition) is left out.
    bool first = true;
    for (const auto& s : ps.sources) {
      column piece;
      if (s.block) {
        LIANDU_RETURN_IF_ERROR(s.block->read(*s.entry, piece));
      } else {
        const head::head_column* c = s.frozen->find(series_id, field);
        piece.type = c->type();
        c->append_all_to(piece);
      }
      if (first) {
        merged.type = piece.type;
        first = false;
      }
      if (piece.type != merged.type) continue;
      append_filtered(merged, piece, lo, hi, ts, s.seq);
    }
    if (ps.active.size() > 0) {
      if (first) merged.type = ps.active.type;
      if (ps.active.type == merged.type) merged.append_all(ps.active);
    }
    merged.sort_and_dedup();
    if (merged.size() > 0) per_part.push_back(std::move(merged));
  }
  if (per_part.empty()) return {};
  model::field_type type = per_part[0].type;
  for (const auto& c : per_part) {
    if (read_precedence(c.type) < read_precedence(type)) type = c.type;
  }
  if (out.size() > 0) type = out.type;  // appending to what the caller has
  for (auto& c : per_part) {
    if (c.type != type && !convert_numeric(c, type)) continue;
    if (out.size() == 0) {
      out = std::move(c);
    } else {
      out.append_all(c);
    }
  }
  return {};
}

// ---------------------------------------------------------------- first/last and count

// What plan_read() gathers: per partition overlapping the range (ascending
// time), its block columns and frozen head columns of the field in scan()'s
// merge order (on equal times the later source wins); the active head comes
// after them and is looked at by the caller's on_active under the lock.
struct engine::read_plan {
  struct source {
    std::shared_ptr<const block::block_reader> block;
    const block::entry* entry = nullptr;
    std::shared_ptr<const head::head> frozen;  // keeps col alive
    const head::head_column* col = nullptr;
    uint64_t seq = 0;
    model::field_type type() const { return entry ? entry->type : col->type(); }
  };
  struct part {
    std::vector<source> sources;
    // Filled by on_active.
    column active;                      // scan_edge: the active head's candidate point
    bool active_sorted = true;          // count: the active column is sorted and unique
    std::vector<int64_t> active_times;  // count: its times in range
  };
  std::vector<part> parts;
  std::vector<tombstone> ts;              // of this series
  std::optional<model::field_type> type;  // of the first source
  bool uniform = true;                    // every source has that type
};

status engine::plan_read(
    std::string_view name, std::string_view rpname, uint32_t series_id, std::string_view field, int64_t lo,
    int64_t hi, read_plan& plan,
    const std::function<void(size_t part, const head::head_column& active)>& on_active) const {
  std::shared_lock lock(mu_);
  database* db = find_db_locked(name);
  if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
  auto rit = db->rps.find(rpname.empty() ? std::string_view(db->default_rp) : rpname);
  if (rit == db->rps.end())
    return error(errc::not_found, "retention policy not found: " + std::string(rpname));
  for (const auto& t : db->tombstones) {
    if (t.series_id == series_id) plan.ts.push_back(t);
  }
  auto note_type = [&](model::field_type t) {
    if (!plan.type) plan.type = t;
    if (*plan.type != t) plan.uniform = false;
  };
  for (const auto& [start, p] : rit->second.partitions) {
    if (p->end <= lo || p->start > hi) continue;
    read_plan::part ps;
    for (const auto& b : p->blocks) {
      if (!b.reader->overlaps(lo, hi)) continue;
      b.reader->for_each_entry_of(series_id, field, [&](const block::entry& e) {
        if (e.max_time < lo || e.min_time > hi) return;
        ps.sources.push_back({b.reader, &e, nullptr, nullptr, b.seq});
        note_type(e.type);
      });
    }
    for (const auto& f : p->frozen) {
      if (const head::head_column* c = f.data->find(series_id, field)) {
        ps.sources.push_back({nullptr, nullptr, f.data, c, f.seq});
        note_type(c->type());
      }
    }
    const head::head_column* active = p->active.find(series_id, field);
    if (active != nullptr) note_type(active->type());
    if (ps.sources.empty() && active == nullptr) continue;
    plan.parts.push_back(std::move(ps));
    if (active != nullptr) on_active(plan.parts.size() - 1, *active);
  }
  return {};
}

namespace {

constexpr size_t npos = static_cast<size_t>(-1);

// The newest (oldest) of the n times ts within [lo, hi]; of equal times the
// last written, as sort_and_dedup keeps. ts may be unsorted (a head column).
size_t edge_index(const int64_t* ts, size_t n, int64_t lo, int64_t hi, bool newest) {
  // The edge time first (a branch-free pass the compiler vectorises), then
  // the last index holding it.
  bool any = false;
  int64_t edge = newest ? lo : hi;
  for (size_t i = 0; i < n; ++i) {
    bool in = ts[i] >= lo && ts[i] <= hi;
    any |= in;
    edge = newest ? (in && ts[i] > edge ? ts[i] : edge) : (in && ts[i] < edge ? ts[i] : edge);
  }
  if (!any) return npos;
  for (size_t i = n; i-- > 0;) {
    if (ts[i] == edge) return i;
  }
  return npos;
}

// The newest (oldest) point of a sorted, unique column within [lo, hi].
size_t sorted_edge_index(const column& c, int64_t lo, int64_t hi, bool newest) {
  if (newest) {
    size_t i = static_cast<size_t>(std::upper_bound(c.times.begin(), c.times.end(), hi) - c.times.begin());
    return i == 0 || c.times[i - 1] < lo ? npos : i - 1;
  }
  size_t i = static_cast<size_t>(std::lower_bound(c.times.begin(), c.times.end(), lo) - c.times.begin());
  return i == c.size() || c.times[i] > hi ? npos : i;
}

}  // namespace

status engine::scan_edge(std::string_view name, std::string_view rpname, uint32_t series_id,
                         std::string_view field, int64_t lo, int64_t hi, bool newest, column& out) const {
  out = column{};
  read_plan plan;
  LIANDU_RETURN_IF_ERROR(
      plan_read(name, rpname, series_id, field, lo, hi, plan, [&](size_t k, const head::head_column& c) {
        size_t i = edge_index(c.times(), c.size(), lo, hi, newest);
        if (i == npos) return;
        plan.parts[k].active.type = c.type();
        c.append_point_to(plan.parts[k].active, i);
      }));
  if (!plan.ts.empty() || !plan.uniform) {
    // Deletes or a field whose type changed between sources: take the point
    // from the full merge.
    column all;
    LIANDU_RETURN_IF_ERROR(scan(name, rpname, series_id, field, lo, hi, all));
    if (all.size() > 0) {
      out.type = all.type;
      out.append_from(all, newest ? all.size() - 1 : 0);
    }
    return {};
  }
  // Partitions hold disjoint time ranges: the first one (from the end wanted)
  // with a point in range has the answer. Within one, the point is the
  // newest (oldest) of its sources; on equal times the later source wins.
  for (size_t n = 0; n < plan.parts.size(); ++n) {
    read_plan::part& ps = plan.parts[newest ? plan.parts.size() - 1 - n : n];
    const size_t active_order = ps.sources.size();
    bool found = ps.active.size() > 0;
    int64_t best_time = found ? ps.active.times[0] : 0;
    size_t best_order = active_order;
    column best = std::move(ps.active);
    auto better = [&](int64_t t, size_t order) {
      if (!found) return true;
      if (t != best_time) return newest ? t > best_time : t < best_time;
      return order > best_order;
    };
    for (size_t k = 0; k < ps.sources.size(); ++k) {
      const auto& s = ps.sources[k];
      if (s.col == nullptr) continue;
      size_t i = edge_index(s.col->times(), s.col->size(), lo, hi, newest);
      if (i == npos || !better(s.col->time(i), k)) continue;
      best.clear();
      best.type = s.col->type();
      s.col->append_point_to(best, i);
      found = true;
      best_time = s.col->time(i);
      best_order = k;
    }
    // Block columns, the most promising first; one is decoded only when the
    // index says it may beat the best point so far.
    std::vector<std::pair<int64_t, size_t>> blocks;  // (bound on its edge time, source)
    for (size_t k = 0; k < ps.sources.size(); ++k) {
      const auto& s = ps.sources[k];
      if (s.entry == nullptr) continue;
      blocks.emplace_back(newest ? std::min(s.entry->max_time, hi) : std::max(s.entry->min_time, lo), k);
    }
    std::sort(blocks.begin(), blocks.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return newest ? a.first > b.first : a.first < b.first;
      return a.second > b.second;
    });
    column decoded;
    for (const auto& [bound_time, k] : blocks) {
      if (!better(bound_time, k)) continue;
      const auto& s = ps.sources[k];
      decoded.clear();
      LIANDU_RETURN_IF_ERROR(s.block->read(*s.entry, decoded));
      size_t i = sorted_edge_index(decoded, lo, hi, newest);
      if (i == npos || !better(decoded.times[i], k)) continue;
      best.clear();
      best.type = decoded.type;
      best.append_from(decoded, i);
      found = true;
      best_time = decoded.times[i];
      best_order = k;
    }
    if (found) {
      out = std::move(best);
      return {};
    }
  }
  return {};
}

status engine::count(std::string_view name, std::string_view rpname, uint32_t series_id,
                     std::string_view field, int64_t lo, int64_t hi, model::field_type& type,
                     uint64_t& n) const {
  n = 0;
  read_plan plan;
  LIANDU_RETURN_IF_ERROR(
      plan_read(name, rpname, series_id, field, lo, hi, plan, [&](size_t k, const head::head_column& c) {
        read_plan::part& ps = plan.parts[k];
        ps.active_sorted = c.is_sorted_unique();
        std::span<const int64_t> times(c.times(), c.size());
        if (ps.active_sorted) {
          auto [b, e] = sorted_range(times, lo, hi);
          ps.active_times.assign(times.begin() + static_cast<std::ptrdiff_t>(b),
                                 times.begin() + static_cast<std::ptrdiff_t>(e));
          return;
        }
        for (int64_t t : times) {
          if (t >= lo && t <= hi) ps.active_times.push_back(t);
        }
      }));
  if (!plan.uniform) {
    column all;
    LIANDU_RETURN_IF_ERROR(scan(name, rpname, series_id, field, lo, hi, all));
    type = all.type;
    n = all.size();
    return {};
  }
  type = plan.type.value_or(model::field_type::float64);
  std::vector<int64_t> times;
  std::vector<std::pair<int64_t, int64_t>> extents;  // of each source's points in range
  // Block times read by the fast check, kept for the overlap count below
  // (an entry is never empty, so empty means not read yet).
  std::vector<std::vector<int64_t>> read;
  for (auto& ps : plan.parts) {
    if (read.size() < ps.sources.size()) read.resize(ps.sources.size());
    for (size_t k = 0; k < ps.sources.size(); ++k) read[k].clear();
    // Fast: sorted sources whose points in range do not overlap and no
    // delete: the counts add up.
    bool fast = plan.ts.empty() && ps.active_sorted;
    uint64_t sum = 0;
    extents.clear();
    if (ps.active_sorted && !ps.active_times.empty()) {
      sum += ps.active_times.size();
      extents.emplace_back(ps.active_times.front(), ps.active_times.back());
    }
    for (size_t k = 0; fast && k < ps.sources.size(); ++k) {
      const auto& s = ps.sources[k];
      if (s.entry != nullptr && s.entry->min_time >= lo && s.entry->max_time <= hi) {
        sum += s.entry->count;
        extents.emplace_back(s.entry->min_time, s.entry->max_time);
        continue;
      }
      std::span<const int64_t> ts;
      if (s.entry != nullptr) {
        LIANDU_RETURN_IF_ERROR(s.block->read_times(*s.entry, read[k]));
        ts = read[k];
      } else if (s.col->is_sorted_unique()) {
        ts = std::span<const int64_t>(s.col->times(), s.col->size());
      } else {
        fast = false;
        break;
      }
      auto [b, e] = sorted_range(ts, lo, hi);
      if (e > b) {
        sum += e - b;
        extents.emplace_back(ts[b], ts[e - 1]);
      }
    }
    if (fast) {
      std::sort(extents.begin(), extents.end());
      for (size_t k = 1; fast && k < extents.size(); ++k) fast = extents[k - 1].second < extents[k].first;
    }
    if (fast) {
      n += sum;
      continue;
    }
    // Sorted sources and no delete, only overlapping: count the distinct
    // times without sorting them all.
    if (plan.ts.empty() && ps.active_sorted && ps.sources.size() <= 16 &&
        std::all_of(ps.sources.begin(), ps.sources.end(),
                    [](const auto& s) { return s.entry != nullptr || s.col->is_sorted_unique(); })) {
      std::vector<std::span<const int64_t>> spans;
      for (size_t k = 0; k < ps.sources.size(); ++k) {
        const auto& s = ps.sources[k];
        std::span<const int64_t> ts;
        if (s.entry != nullptr) {
          if (read[k].empty()) LIANDU_RETURN_IF_ERROR(s.block->read_times(*s.entry, read[k]));
          ts = read[k];
        } else {
          ts = std::span<const int64_t>(s.col->times(), s.col->size());
        }
        auto [b, e] = sorted_range(ts, lo, hi);
        spans.push_back(ts.subspan(b, e - b));
      }
      spans.emplace_back(ps.active_times);
      n += count_distinct_sorted(spans);
      continue;
    }
    // Otherwise the distinct times that survive deletes, as scan() merges them.
    std::vector<int64_t> all;
    for (const auto& s : ps.sources) {
      std::span<const int64_t> ts;
      if (s.entry != nullptr) {
        times.clear();
        LIANDU_RETURN_IF_ERROR(s.block->read_times(*s.entry, times));
        ts = times;
      } else {
        ts = std::span<const int64_t>(s.col->times(), s.col->size());
      }
      for (int64_t t : ts) {
        if (t < lo || t > hi || (!plan.ts.empty() && deleted(plan.ts, s.seq, t))) continue;
        all.push_back(t);
      }
    }
    all.insert(all.end(), ps.active_times.begin(), ps.active_times.end());
    std::sort(all.begin(), all.end());
    n += static_cast<uint64_t>(std::unique(all.begin(), all.end()) - all.begin());
  }
  return {};
}

// ---------------------------------------------------------------- deletes

void engine::apply_delete_locked(database& db, const std::vector<uint32_t>& ids, int64_t lo, int64_t hi) {
  for (uint32_t id : ids) {
    for (auto& [_, rp] : db.rps) {
      for (auto& [_, p] : rp.partitions) {
        if (p->end <= lo || p->start > hi) continue;
        size_t before = p->active.memory_bytes();
        p->active.delete_range(id, lo, hi);
        head_bytes_ += p->active.memory_bytes() - before;
      }
    }
    db.tombstones.push_back({id, lo, hi, next_block_seq_});
    if (lo == min_time && hi == max_time) db.index.drop(id);
  }
  // Forget field types of measurements that no longer have series.
  auto ms = db.index.measurements();
  for (auto& [_, rp] : db.rps) {
    for (auto& [_, p] : rp.partitions) {
      size_t erased = std::erase_if(
          p->fields, [&](const auto& m) { return !std::binary_search(ms.begin(), ms.end(), m.first); });
      if (erased > 0) ++p->fields_version;
    }
  }
}

status engine::delete_series(std::string_view name, const std::vector<uint32_t>& ids, int64_t lo,
                             int64_t hi) {
  uint64_t seq;
  {
    std::unique_lock lock(mu_);
    database* db = find_db_locked(name);
    if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
    std::string payload;
    put_string(payload, name);
    put_varint(payload, zigzag_encode(lo));
    put_varint(payload, zigzag_encode(hi));
    std::vector<uint32_t> live;
    for (uint32_t id : ids) {
      if (db->index.alive(id)) live.push_back(id);
    }
    put_varint(payload, live.size());
    for (uint32_t id : live) put_string(payload, db->index.key_of(id));
    if (live.empty()) return {};
    seq = wal_->append(wal::record_type::delete_, payload);
    apply_delete_locked(*db, live, lo, hi);
  }
  wal_->sync(seq);
  return {};
}

status engine::drop_measurement(std::string_view name, std::string_view measurement) {
  std::vector<uint32_t> ids;
  {
    std::shared_lock lock(mu_);
    database* db = find_db_locked(name);
    if (db == nullptr) return error(errc::not_found, "database not found: " + std::string(name));
    ids = db->index.series_of(measurement);
  }
  return delete_series(name, ids, min_time, max_time);
}

// ---------------------------------------------------------------- checkpoint

status engine::checkpoint() {
  std::lock_guard ck(checkpoint_mu_);
  struct job {
    std::shared_ptr<database> db;
    std::shared_ptr<partition> part;
    std::shared_ptr<const head::head> data;
    uint64_t seq;
  };
  struct db_job {
    std::shared_ptr<database> db;
    std::string series_log;
    std::string tombstones;
  };
  struct fields_job {
    std::shared_ptr<database> db;
    std::shared_ptr<partition> part;
    std::string json;
    uint64_t version;
  };
  std::vector<job> jobs;
  std::vector<db_job> db_jobs;
  std::vector<fields_job> fields_jobs;
  uint64_t last_segment;
  {
    std::unique_lock lock(mu_);
    for (auto& [_, db] : dbs_) {
      for (auto& [_, rp] : db->rps) {
        for (auto& [_, p] : rp.partitions) {
          if (p->fields_version != p->fields_written) {
            fields_jobs.push_back({db, p, field_types_json(p->fields), p->fields_version});
          }
          if (p->active.empty()) continue;
          auto frozen = std::make_shared<head::head>(std::move(p->active));
          p->active = head::head();
          uint64_t seq = next_block_seq_++;
          p->frozen.push_back({frozen, seq});
          jobs.push_back({db, p, frozen, seq});
        }
      }
      db_jobs.push_back({db, db->index.take_pending_log(), tombstones_json(db->tombstones).dump()});
    }
    last_segment = wal_->rotate();
    if (!jobs.empty() || !db_jobs.empty()) LIANDU_RETURN_IF_ERROR(save_meta_locked());
  }

  // Write blocks with the lock released: writers go on into the fresh heads.
  std::vector<std::shared_ptr<const block::block_reader>> readers(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    const auto& jb = jobs[j];
    if (jb.db->dropped) continue;
    block::block_writer w;
    std::vector<const head::series_head::field*> fields;
    column c;
    jb.data->for_each_series([&](uint32_t id, const head::series_head& sh) {
      fields.clear();
      for (const auto& f : sh.fields) fields.push_back(&f);
      std::sort(fields.begin(), fields.end(), [&](auto* a, auto* b) {
        return jb.data->field_name(a->name) < jb.data->field_name(b->name);
      });
      for (const auto* f : fields) {
        if (f->col.size() == 0) continue;
        c.clear();
        c.type = f->col.type();
        f->col.append_all_to(c);
        if (!f->col.is_sorted_unique()) c.sort_and_dedup();
        w.add(id, jb.data->field_name(f->name), c);
      }
    });
    if (w.entry_count() == 0) continue;
    LIANDU_RETURN_IF_ERROR(fs::create_dirs(jb.part->dir));
    std::string path = fs::join(jb.part->dir, seq_name(jb.seq));
    LIANDU_RETURN_IF_ERROR(block::write_block_file(path, w.finish()));
    auto r = block::block_reader::open(path);
    if (!r.ok()) return r.error();
    readers[j] = std::shared_ptr<const block::block_reader>(std::move(r).value());
  }
  for (auto& dj : db_jobs) {
    if (dj.db->dropped) continue;
    LIANDU_RETURN_IF_ERROR(dj.db->index.write_log(dj.series_log));
    LIANDU_RETURN_IF_ERROR(fs::write_file_atomic(fs::join(dj.db->dir, "tombstones.json"), dj.tombstones));
  }
  for (const auto& fj : fields_jobs) {
    if (fj.db->dropped) continue;
    LIANDU_RETURN_IF_ERROR(fs::create_dirs(fj.part->dir));
    LIANDU_RETURN_IF_ERROR(fs::write_file_atomic(fs::join(fj.part->dir, fields_file), fj.json));
  }
  {
    std::unique_lock lock(mu_);
    for (const auto& fj : fields_jobs) fj.part->fields_written = fj.version;
    for (size_t j = 0; j < jobs.size(); ++j) {
      auto& p = *jobs[j].part;
      if (readers[j]) p.blocks.push_back({readers[j], jobs[j].seq});
      std::erase_if(p.frozen, [&](const partition::frozen_head& f) { return f.data == jobs[j].data; });
      head_bytes_ -= std::min<size_t>(head_bytes_.load(), jobs[j].data->memory_bytes());
    }
  }
  LIANDU_RETURN_IF_ERROR(wal_->remove_up_to(last_segment));
  ++checkpoints_;

  // Compact partitions that collected many small blocks.
  std::vector<std::pair<std::shared_ptr<partition>, std::shared_ptr<database>>> to_compact;
  {
    std::shared_lock lock(mu_);
    for (auto& [_, db] : dbs_) {
      for (auto& [_, rp] : db->rps) {
        for (auto& [_, p] : rp.partitions) {
          if (p->blocks.size() > opts_.compact_after_blocks) to_compact.emplace_back(p, db);
        }
      }
    }
  }
  for (auto& [p, db] : to_compact) LIANDU_RETURN_IF_ERROR(compact(p, db));
  return {};
}

// Merges the newest block files of a partition, as many as
// first_block_to_merge picks (all of them with compact_after_blocks 0),
// into one. Runs under checkpoint_mu_;
// writers are not blocked: compaction touches only blocks, never the head.
status engine::compact(const std::shared_ptr<partition>& p, const std::shared_ptr<database>& db) {
  std::vector<partition::block_file> blocks;
  std::vector<tombstone> ts;
  uint64_t seq;
  {
    std::unique_lock lock(mu_);
    std::vector<size_t> sizes;
    for (const auto& b : p->blocks) sizes.push_back(b.reader->file_bytes());
    size_t from = first_block_to_merge(sizes, opts_.compact_after_blocks);
    if (from + 1 >= p->blocks.size()) return {};
    blocks.assign(p->blocks.begin() + static_cast<std::ptrdiff_t>(from), p->blocks.end());
    ts = db->tombstones;
    seq = next_block_seq_++;
  }
  // (series, field) pairs in order across all blocks.
  std::map<std::pair<uint32_t, std::string>,
           std::vector<std::pair<const block::block_reader*, const block::entry*>>>
      groups;
  std::vector<uint64_t> seqs;
  for (const auto& b : blocks) {
    for (const auto& e : b.reader->entries()) groups[{e.series_id, e.field}].push_back({b.reader.get(), &e});
  }
  std::map<const block::block_reader*, uint64_t> seq_of;
  for (const auto& b : blocks) seq_of[b.reader.get()] = b.seq;
  block::block_writer w;
  for (const auto& [key, parts] : groups) {
    column merged;
    bool first = true;
    for (const auto& [r, e] : parts) {
      column piece;
      LIANDU_RETURN_IF_ERROR(r->read(*e, piece));
      if (first) merged.type = piece.type, first = false;
      if (piece.type != merged.type) continue;
      std::vector<tombstone> mine;
      for (const auto& t : ts) {
        if (t.series_id == key.first) mine.push_back(t);
      }
      append_filtered(merged, piece, min_time, max_time, mine, seq_of[r]);
    }
    merged.sort_and_dedup();
    if (merged.size() > 0) w.add(key.first, key.second, merged);
  }
  std::shared_ptr<const block::block_reader> reader;
  std::string path = fs::join(p->dir, seq_name(seq));
  if (w.entry_count() > 0) {
    LIANDU_RETURN_IF_ERROR(block::write_block_file(path, w.finish()));
    auto r = block::block_reader::open(path);
    if (!r.ok()) return r.error();
    reader = std::shared_ptr<const block::block_reader>(std::move(r).value());
  }
  {
    std::unique_lock lock(mu_);
    // The merged blocks were the newest (a suffix) and nothing was added
    // since (checkpoint_mu_ is held): the new block, with the highest seq,
    // takes their place at the end, where a reopen (blocks in seq order)
    // puts it too, so later sources still win on equal times.
    std::vector<partition::block_file> nb;
    for (const auto& b : p->blocks) {
      bool merged_in =
          std::any_of(blocks.begin(), blocks.end(), [&](const auto& x) { return x.seq == b.seq; });
      if (!merged_in) nb.push_back(b);
    }
    if (reader) nb.push_back({reader, seq});
    p->blocks = std::move(nb);
  }
  for (const auto& b : blocks) (void)fs::remove_file(b.reader->path());
  ++compactions_;
  return {};
}

status engine::enforce_retention(int64_t now) {
  std::vector<std::string> dirs;
  {
    std::unique_lock lock(mu_);
    for (auto& [_, db] : dbs_) {
      for (auto& [_, rp] : db->rps) {
        if (rp.info.duration_ns <= 0) continue;
        int64_t cutoff = now - rp.info.duration_ns;
        for (auto it = rp.partitions.begin(); it != rp.partitions.end();) {
          if (it->second->end <= cutoff) {
            head_bytes_ -= std::min<size_t>(head_bytes_.load(), it->second->active.memory_bytes());
            dirs.push_back(it->second->dir);
            it = rp.partitions.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
  }
  std::lock_guard ck(checkpoint_mu_);
  for (const auto& d : dirs) LIANDU_RETURN_IF_ERROR(fs::remove_all(d));
  return {};
}

void engine::background_loop() {
  std::unique_lock lock(bg_mu_);
  while (!stop_) {
    bg_cv_.wait_for(lock, std::chrono::milliseconds(opts_.background_interval_ms));
    if (stop_) break;
    lock.unlock();
    if (head_bytes_.load() > opts_.checkpoint_bytes) {
      status s = checkpoint();
      if (!s.ok()) std::fprintf(stderr, "liandu: checkpoint failed: %s\n", s.to_string().c_str());
    }
    status r = enforce_retention(now_ns());
    if (!r.ok()) std::fprintf(stderr, "liandu: retention failed: %s\n", r.to_string().c_str());
    lock.lock();
  }
}

void engine::set_fsync_observer(std::function<void(uint64_t)> fn) { wal_->set_fsync_observer(std::move(fn)); }

engine_stats engine::stats() const {
  engine_stats s;
  s.points_written = points_written_;
  s.values_written = values_written_;
  s.bytes_written = bytes_written_;
  s.wal_fsyncs = wal_->fsync_count();
  s.wal_fsync_nanos = wal_->fsync_nanos();
  s.wal_bytes = wal_->bytes_written();
  s.head_bytes = head_bytes_;
  s.checkpoints = checkpoints_;
  s.compactions = compactions_;
  std::shared_lock lock(mu_);
  for (const auto& [n, db] : dbs_) {
    s.series_per_database.emplace_back(n, db->index.series_count());
    s.index_bytes += db->index.memory_bytes();
    for (const auto& [_, rp] : db->rps) {
      for (const auto& [_, p] : rp.partitions) {
        s.block_files += p->blocks.size();
        for (const auto& b : p->blocks) s.block_bytes += b.reader->file_bytes();
      }
    }
  }
  return s;
}

size_t engine::head_bytes() const { return head_bytes_; }

}  // namespace liandu::storage
