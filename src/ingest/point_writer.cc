#include "ingest/point_writer.h"

namespace liandu::ingest {

write_outcome write_line_protocol(storage::engine& engine, std::string_view db, std::string_view rp,
                                  model::precision precision, std::string_view body, int64_t now_ns,
                                  const line_protocol_limits& limits) {
  write_outcome out;
  line_protocol_parser parser(precision, limits);
  // One cache of series keys per thread: a connection's or client's
  // requests carry the same series again and again, and each thread parses
  // one body at a time.
  thread_local series_key_cache key_cache;
  parser.use_key_cache(&key_cache, /*tags_wanted=*/false);  // the batch takes the series key
  storage::write_batch batch(db, rp);
  // The encoding is about as long as the line protocol; one allocation
  // instead of a doubling series (and its copies) per batch. Lines are
  // rarely under 32 bytes: room for the key hash of each.
  batch.reserve(body.size() + body.size() / 4, body.size() / 32);
  // Points without a timestamp get the server's time at the precision asked for.
  int64_t mult = model::precision_multiplier(precision);
  int64_t now = now_ns - (now_ns % mult);
  parser.parse(
      body, now,
      [&](const point_ref& p) {
        if (p.series_key_hash_known) {
          batch.add_keyed(p.series_key, p.series_key_hash, p.fields, p.field_count, p.time);
        } else if (!p.series_key.empty()) {
          batch.add_keyed(p.series_key, p.fields, p.field_count, p.time);
        } else {
          batch.add(p.measurement, p.tags, p.tag_count, p.fields, p.field_count, p.time, p.names_plain);
        }
      },
      out.parse_errors);
  if (batch.empty()) return out;
  storage::write_result r = engine.write(batch);
  out.st = r.st;
  if (!r.st.ok()) return out;
  out.points_written = r.points_written;
  out.points_dropped = r.rejected.size();
  for (const auto& rej : r.rejected) out.storage_errors.push_back(rej.message);
  return out;
}

std::string write_outcome::partial_message(std::string_view body) const {
  (void)body;
  std::string reasons;
  auto add = [&](const std::string& s) {
    if (!reasons.empty()) reasons.push_back('\n');
    reasons += s;
  };
  for (const auto& e : parse_errors) {
    add(e.message + " (line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ")");
  }
  // Storage refusals are usually many of one kind: name the first and count.
  if (!storage_errors.empty()) add(storage_errors.front());
  return "partial write: " + reasons + " dropped=" + std::to_string(points_dropped + parse_errors.size());
}

}  // namespace liandu::ingest
