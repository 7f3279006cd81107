#include "query/testing/memory_storage.h"

#include <algorithm>
#include <limits>
#include <set>

namespace liandu::query::testing {

namespace {

status db_not_found(std::string_view db) {
  return error(errc::not_found, "database not found: " + std::string(db));
}

}  // namespace

memory_storage::database* memory_storage::find_db(std::string_view db) {
  auto it = dbs_.find(db);
  return it == dbs_.end() ? nullptr : &it->second;
}

std::string memory_storage::resolve_rp(const database& d, std::string_view rp) const {
  if (!rp.empty()) return std::string(rp);
  for (const auto& r : d.rps) {
    if (r.is_default) return r.name;
  }
  return "autogen";
}

std::vector<std::string> memory_storage::databases() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, d] : dbs_) out.push_back(name);
  return out;
}

status memory_storage::create_database(std::string_view db) {
  std::lock_guard lock(mu_);
  if (find_db(db)) return {};
  database d;
  retention_policy_info rp;
  rp.name = "autogen";
  rp.shard_duration_ns = 7 * 24 * 3600 * 1000000000LL;
  rp.is_default = true;
  d.rps.push_back(rp);
  dbs_.emplace(std::string(db), std::move(d));
  return {};
}

status memory_storage::drop_database(std::string_view db) {
  std::lock_guard lock(mu_);
  auto it = dbs_.find(db);
  if (it != dbs_.end()) dbs_.erase(it);
  return {};
}

result<std::vector<retention_policy_info>> memory_storage::retention_policies(std::string_view db) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  return d->rps;
}

status memory_storage::create_retention_policy(std::string_view db, const retention_policy_info& rp) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  for (const auto& r : d->rps) {
    if (r.name == rp.name) return error(errc::already_exists, "retention policy already exists");
  }
  if (rp.is_default) {
    for (auto& r : d->rps) r.is_default = false;
  }
  d->rps.push_back(rp);
  return {};
}

status memory_storage::alter_retention_policy(std::string_view db, const retention_policy_info& rp) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  for (auto& r : d->rps) {
    if (r.name == rp.name) {
      if (rp.is_default) {
        for (auto& o : d->rps) o.is_default = false;
      }
      r = rp;
      return {};
    }
  }
  return error(errc::not_found, "retention policy not found: " + rp.name);
}

status memory_storage::drop_retention_policy(std::string_view db, std::string_view rp) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::erase_if(d->rps, [&](const retention_policy_info& r) { return r.name == rp; });
  for (auto& s : d->series) s.data.erase(std::string(rp));
  return {};
}

result<std::vector<std::string>> memory_storage::measurements(std::string_view db) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::set<std::string> names;
  for (const auto& s : d->series) names.insert(s.info.measurement);
  return std::vector<std::string>(names.begin(), names.end());
}

result<std::vector<std::pair<std::string, model::field_type>>> memory_storage::field_keys(
    std::string_view db, std::string_view measurement) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::map<std::string, model::field_type> keys;
  for (const auto& s : d->series) {
    if (s.info.measurement != measurement) continue;
    for (const auto& [rp, fields] : s.data) {
      for (const auto& [name, points] : fields) {
        if (!points.empty()) keys.emplace(name, model::type_of(points.front().value));
      }
    }
  }
  return std::vector<std::pair<std::string, model::field_type>>(keys.begin(), keys.end());
}

result<std::vector<std::string>> memory_storage::tag_keys(std::string_view db, std::string_view measurement) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::set<std::string> keys;
  for (const auto& s : d->series) {
    if (s.info.measurement != measurement) continue;
    for (const auto& t : s.info.tags) keys.insert(t.key);
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

result<std::vector<series_info>> memory_storage::series(std::string_view db, std::string_view measurement) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::vector<const series_data*> found;
  for (const auto& s : d->series) {
    if (s.info.measurement == measurement) found.push_back(&s);
  }
  std::sort(found.begin(), found.end(),
            [](const series_data* a, const series_data* b) { return a->key < b->key; });
  std::vector<series_info> out;
  for (const auto* s : found) out.push_back(s->info);
  return out;
}

result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> memory_storage::tag_values(
    std::string_view db, std::string_view measurement, std::string_view key) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::map<std::string, std::vector<uint64_t>> values;
  for (const auto& s : d->series) {
    if (s.info.measurement != measurement) continue;
    for (const auto& t : s.info.tags) {
      if (t.key == key) values[t.value].push_back(s.info.id);
    }
  }
  std::vector<std::pair<std::string, std::vector<uint64_t>>> out;
  for (auto& [v, ids] : values) {
    std::sort(ids.begin(), ids.end());
    out.emplace_back(v, std::move(ids));
  }
  return out;
}

status memory_storage::scan(std::string_view db, std::string_view rp, uint64_t series_id,
                            std::string_view field, int64_t min_time, int64_t max_time,
                            const batch_sink& sink) {
  std::vector<stored_point> points;
  {
    std::lock_guard lock(mu_);
    ++scans_;
    database* d = find_db(db);
    if (!d) return db_not_found(db);
    std::string rp_name = resolve_rp(*d, rp);
    for (const auto& s : d->series) {
      if (s.info.id != series_id) continue;
      auto r = s.data.find(rp_name);
      if (r == s.data.end()) return {};
      auto f = r->second.find(std::string(field));
      if (f == r->second.end()) return {};
      for (const auto& p : f->second) {
        if (p.time >= min_time && p.time <= max_time) points.push_back(p);
      }
    }
  }
  column_batch batch;
  auto flush = [&]() {
    if (batch.size() == 0) return true;
    bool more = sink(batch);
    batch = column_batch{};
    return more;
  };
  for (const auto& p : points) {
    model::field_type t = model::type_of(p.value);
    if (batch.size() > 0 && (batch.type != t || batch.size() >= batch_size_)) {
      if (!flush()) return {};
    }
    batch.type = t;
    batch.times.push_back(p.time);
    switch (t) {
      case model::field_type::float64: batch.floats.push_back(std::get<double>(p.value)); break;
      case model::field_type::int64: batch.integers.push_back(std::get<int64_t>(p.value)); break;
      case model::field_type::uint64: batch.unsigneds.push_back(std::get<uint64_t>(p.value)); break;
      case model::field_type::boolean: batch.booleans.push_back(std::get<bool>(p.value) ? 1 : 0); break;
      case model::field_type::string: batch.strings.push_back(std::get<std::string>(p.value)); break;
    }
  }
  flush();
  return {};
}

status memory_storage::write(std::string_view db, std::string_view rp,
                             const std::vector<model::point>& points) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::string rp_name = resolve_rp(*d, rp);
  bool rp_exists = false;
  for (const auto& r : d->rps) rp_exists = rp_exists || r.name == rp_name;
  if (!rp_exists) return error(errc::not_found, "retention policy not found: " + rp_name);
  for (const auto& p : points) {
    std::string key = model::series_key(p.measurement, p.tags);
    series_data* target = nullptr;
    for (auto& s : d->series) {
      if (s.key == key) target = &s;
    }
    if (!target) {
      series_data s;
      s.info.id = d->next_id++;
      s.info.measurement = p.measurement;
      s.info.tags = p.tags;
      s.key = key;
      d->series.push_back(std::move(s));
      target = &d->series.back();
    }
    for (const auto& f : p.fields) {
      auto& vec = target->data[rp_name][f.key];
      auto it = std::lower_bound(vec.begin(), vec.end(), p.time,
                                 [](const stored_point& a, int64_t t) { return a.time < t; });
      if (it != vec.end() && it->time == p.time) {
        it->value = f.value;
      } else {
        vec.insert(it, stored_point{p.time, f.value});
      }
    }
  }
  return {};
}

status memory_storage::delete_series(std::string_view db, const std::vector<uint64_t>& series_ids,
                                     int64_t min_time, int64_t max_time) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  bool whole =
      min_time == std::numeric_limits<int64_t>::min() && max_time == std::numeric_limits<int64_t>::max();
  for (uint64_t id : series_ids) {
    for (auto& s : d->series) {
      if (s.info.id != id) continue;
      for (auto& [rp, fields] : s.data) {
        for (auto& [name, points] : fields) {
          std::erase_if(points,
                        [&](const stored_point& p) { return p.time >= min_time && p.time <= max_time; });
        }
      }
    }
    if (whole) std::erase_if(d->series, [&](const series_data& s) { return s.info.id == id; });
  }
  return {};
}

status memory_storage::drop_measurement(std::string_view db, std::string_view measurement) {
  std::lock_guard lock(mu_);
  database* d = find_db(db);
  if (!d) return db_not_found(db);
  std::erase_if(d->series, [&](const series_data& s) { return s.info.measurement == measurement; });
  return {};
}

}  // namespace liandu::query::testing
