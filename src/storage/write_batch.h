#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_buffer.h"
#include "base/result.h"
#include "model/point.h"

namespace liandu::storage {

// A batch of points for one database and retention policy, kept in its
// encoded form: the same bytes are the WAL record payload, so a write costs
// one encoding and replay runs the same code as a live write.
//
//   batch  := db:string rp:string point*
//   point  := series_key:string time:zigzag-varint nfields:varint field*
//   field  := key:string type:u8 value
//   value  := float64: fixed64 bits | int64: zigzag varint | uint64: varint
//           | bool: u8 | string: string
//   string := length:varint bytes
//
// Byte-level spec: docs/formats/wal.md.
struct batch_point;

class write_batch {
 public:
  write_batch(std::string_view db, std::string_view rp);
  explicit write_batch(std::string_view encoded) : data_(encoded), hashes_complete_(false) {}

  // Adds a point; tags must be sorted by key with unique keys.
  void add(std::string_view measurement, const model::tag_view* tags, size_t tag_count,
           const model::field_view* fields, size_t field_count, int64_t time, bool names_plain = false);
  void add(const model::point& p);
  // Adds a point whose canonical series key (model::append_series_key's
  // form) the caller already has — the line-protocol parser hands out the
  // key bytes of a line that needs no escaping and has its tags in order.
  void add_keyed(std::string_view series_key, const model::field_view* fields, size_t field_count,
                 int64_t time) {
    hashes_complete_ = false;
    encode_point(series_key, fields, field_count, time);
  }
  // The same with the key's hash, index::series_index::key_hash of it, which
  // the parser's key cache already holds: the engine then does not hash the
  // key again. Only a live batch carries the hashes (the WAL keeps the bytes).
  // Inline: out of line, the call and the argument shuffling cost as many
  // instructions per point as the hash it saves.
  //
  // Such a point is also listed where its parts were written (live_point),
  // so that the engine applies a live batch without decoding its bytes
  // again: the decode was 8% of factory ingest's instructions. Replay, and
  // a batch with a point added otherwise, decode the bytes (batch_reader).
  void add_keyed(std::string_view series_key, uint32_t key_hash, const model::field_view* fields,
                 size_t field_count, int64_t time) {
    if (hashes_complete_) return encode_live_point(series_key, key_hash, fields, field_count, time);
    encode_point(series_key, fields, field_count, time);
  }
  // Whether every point came with its key hash, so that live_point() serves.
  bool has_live_points() const { return points_ > 0 && hashes_complete_; }
  // Point i (< point_count(), has_live_points()) as batch_reader::next would
  // decode it, views into data(); and its key hash.
  void live_point(size_t i, batch_point& out, uint32_t& key_hash) const;

  void reserve(size_t bytes, size_t points = 0) {
    data_.reserve(data_.size() + bytes);
    live_points_.reserve(live_points_.size() + points);
    live_fields_.reserve(live_fields_.size() + points);
  }
  std::string_view data() const { return data_.view(); }
  size_t point_count() const { return points_; }
  size_t field_count() const { return fields_; }
  bool empty() const { return points_ == 0; }

 private:
  // Writes a point's time and fields at p (room_for their bound), returns the
  // end. List: also lists each field (live_fields_), base being where the
  // batch's bytes start.
  template <bool List>
  char* encode_fields(char* p, const char* base, const model::field_view* fields, size_t field_count,
                      int64_t time);
  void encode_point(std::string_view series_key, const model::field_view* fields, size_t field_count,
                    int64_t time);
  void encode_live_point(std::string_view series_key, uint32_t key_hash, const model::field_view* fields,
                         size_t field_count, int64_t time);

  // Offsets into data_, which moves as it grows.
  struct live_point_entry {
    uint32_t key_hash;
    uint32_t key_offset;
    uint32_t key_size;
    uint32_t offset;  // of the point
    uint32_t end;
    uint32_t first_field;  // in live_fields_
    int64_t time;
  };
  struct live_field_entry {
    uint32_t key_offset;
    uint32_t key_size;
    uint64_t word;  // the value's bits; a string's offset << 32 | size
    model::field_type type;
  };
  byte_buffer data_;
  // One per point while every point came with its hash (and the batch stays
  // under 4 GiB); not added to once one came without.
  std::vector<live_point_entry> live_points_;
  std::vector<live_field_entry> live_fields_;
  bool hashes_complete_ = true;
  size_t points_ = 0;
  size_t fields_ = 0;
};

// A decoded view of one point in a batch; views point into the batch bytes.
struct batch_point {
  std::string_view series_key;
  int64_t time = 0;
  std::vector<model::field_view> fields;  // reused between points
  size_t offset = 0;                      // of the point in the batch
  size_t end = 0;                         // offset just past it
};

// Iterates the points of an encoded batch. Errors are corruption (the bytes
// come from our own encoder or from a checksummed WAL record).
class batch_reader {
 public:
  explicit batch_reader(std::string_view data);
  const status& header_status() const { return status_; }
  std::string_view db() const { return db_; }
  std::string_view rp() const { return rp_; }
  size_t header_bytes() const { return header_bytes_; }
  // Returns false at the end or on corruption (then status() is not ok).
  bool next(batch_point& p);
  const status& status_of_read() const { return status_; }

 private:
  std::string_view all_;
  std::string_view in_;
  std::string_view db_, rp_;
  size_t header_bytes_ = 0;
  status status_;
};

// The measurement of a canonical series key (the part before the first
// unescaped comma), unescaped into out.
void measurement_of(std::string_view series_key, std::string& out);

}  // namespace liandu::storage
