#include "storage/write_batch.h"

#include <bit>
#include <cstring>
#include <limits>

#include "base/coding.h"

namespace liandu::storage {

write_batch::write_batch(std::string_view db, std::string_view rp) {
  char* p = data_.room_for(2 * max_varint_bytes + db.size() + rp.size());
  p = encode_string(p, db);
  data_.commit(encode_string(p, rp));
}

namespace {

// The most bytes encode_fields can write for these fields: a varint for the
// time and the count, and per field its key, type and largest value.
size_t fields_bound(const model::field_view* fields, size_t field_count) {
  size_t n = 2 * max_varint_bytes;
  for (size_t i = 0; i < field_count; ++i) {
    n += 2 * max_varint_bytes + 1 + fields[i].key.size();
    if (const auto* s = std::get_if<4>(&fields[i].value)) n += s->size();
  }
  return n;
}

}  // namespace

// Inlined into both callers: called, the listing variant cost 33
// instructions a point more than written out in encode_live_point (callgrind).
template <bool List>
[[gnu::always_inline]] inline char* write_batch::encode_fields(char* p, const char* base,
                                                               const model::field_view* fields,
                                                               size_t field_count, int64_t time) {
  // Offsets in the batch of what was just written (List only).
  auto offset_of = [base](const char* at) { return static_cast<uint32_t>(at - base); };
  p = encode_varint(p, zigzag_encode(time));
  p = encode_varint(p, field_count);
  for (size_t i = 0; i < field_count; ++i) {
    const model::field_value_view& v = fields[i].value;
    const model::field_type type = model::type_of(v);
    p = encode_string(p, fields[i].key);
    [[maybe_unused]] live_field_entry* f = nullptr;
    if constexpr (List) {
      f = &live_fields_.emplace_back();
      f->key_size = static_cast<uint32_t>(fields[i].key.size());
      f->key_offset = offset_of(p) - f->key_size;
      f->type = type;
    }
    *p++ = static_cast<char>(type);
    uint64_t word = 0;
    switch (v.index()) {
      case 0:
        word = std::bit_cast<uint64_t>(std::get<0>(v));
        p = encode_fixed64(p, word);
        break;
      case 1:
        word = static_cast<uint64_t>(std::get<1>(v));
        p = encode_varint(p, zigzag_encode(std::get<1>(v)));
        break;
      case 2:
        word = std::get<2>(v);
        p = encode_varint(p, word);
        break;
      case 3:
        word = std::get<3>(v) ? 1 : 0;
        *p++ = static_cast<char>(word);
        break;
      case 4: {
        std::string_view text = std::get<4>(v);
        p = encode_string(p, text);
        if constexpr (List)
          word = uint64_t{offset_of(p) - static_cast<uint32_t>(text.size())} << 32 | text.size();
        break;
      }
    }
    if constexpr (List) f->word = word;
  }
  ++points_;
  fields_ += field_count;
  return p;
}

void write_batch::add(std::string_view measurement, const model::tag_view* tags, size_t tag_count,
                      const model::field_view* fields, size_t field_count, int64_t time, bool names_plain) {
  // The key is built once into a reused buffer: its length prefix comes
  // before it, and escaping makes the length known only afterwards.
  thread_local std::string key;
  key.clear();
  model::append_series_key(key, measurement, tags, tag_count, names_plain);
  add_keyed(key, fields, field_count, time);
}

void write_batch::encode_point(std::string_view series_key, const model::field_view* fields,
                               size_t field_count, int64_t time) {
  char* p = data_.room_for(max_varint_bytes + series_key.size() + fields_bound(fields, field_count));
  p = encode_string(p, series_key);
  data_.commit(encode_fields<false>(p, nullptr, fields, field_count, time));
}

void write_batch::encode_live_point(std::string_view series_key, uint32_t key_hash,
                                    const model::field_view* fields, size_t field_count, int64_t time) {
  const size_t start = data_.size();
  const size_t bound = max_varint_bytes + series_key.size() + fields_bound(fields, field_count);
  if (start + bound > std::numeric_limits<uint32_t>::max()) {
    // Offsets are 32-bit: past that the engine decodes the bytes.
    hashes_complete_ = false;
    live_points_ = {};
    live_fields_ = {};
    return encode_point(series_key, fields, field_count, time);
  }
  char* p = data_.room_for(bound);
  const char* const base = p - start;
  p = encode_string(p, series_key);
  live_point_entry& e = live_points_.emplace_back();
  e.key_hash = key_hash;
  e.key_size = static_cast<uint32_t>(series_key.size());
  e.key_offset = static_cast<uint32_t>(p - base) - e.key_size;
  e.offset = static_cast<uint32_t>(start);
  e.first_field = static_cast<uint32_t>(live_fields_.size());
  e.time = time;
  p = encode_fields<true>(p, base, fields, field_count, time);
  e.end = static_cast<uint32_t>(p - base);
  data_.commit(p);
}

void write_batch::live_point(size_t i, batch_point& out, uint32_t& key_hash) const {
  const live_point_entry& e = live_points_[i];
  const char* base = data_.view().data();
  key_hash = e.key_hash;
  out.series_key = std::string_view(base + e.key_offset, e.key_size);
  out.time = e.time;
  out.offset = e.offset;
  out.end = e.end;
  const size_t last = i + 1 < live_points_.size() ? live_points_[i + 1].first_field : live_fields_.size();
  out.fields.resize(last - e.first_field);
  for (size_t k = e.first_field; k < last; ++k) {
    const live_field_entry& f = live_fields_[k];
    model::field_view& v = out.fields[k - e.first_field];
    v.key = std::string_view(base + f.key_offset, f.key_size);
    switch (f.type) {
      case model::field_type::float64: v.value = std::bit_cast<double>(f.word); break;
      case model::field_type::int64: v.value = static_cast<int64_t>(f.word); break;
      case model::field_type::uint64: v.value = f.word; break;
      case model::field_type::boolean: v.value = f.word != 0; break;
      case model::field_type::string:
        v.value = std::string_view(base + (f.word >> 32), static_cast<uint32_t>(f.word));
        break;
    }
  }
}

void write_batch::add(const model::point& p) {
  std::vector<model::tag_view> tags;
  tags.reserve(p.tags.size());
  for (const auto& t : p.tags) tags.push_back({t.key, t.value});
  std::vector<model::field_view> fields;
  fields.reserve(p.fields.size());
  for (const auto& f : p.fields) fields.push_back(model::view_of(f));
  add(p.measurement, tags.data(), tags.size(), fields.data(), fields.size(), p.time);
}

batch_reader::batch_reader(std::string_view data) : all_(data), in_(data) {
  if (!get_string(in_, db_) || !get_string(in_, rp_)) {
    status_ = error(errc::corruption, "write batch: truncated header");
    in_ = {};
  }
  header_bytes_ = data.size() - in_.size();
}

namespace {

// Decoding works on a local cursor (pos, end) rather than the reader's
// string_view member: stores into the member at every byte (the compiler
// cannot keep it in a register while p.fields is written) made this loop
// the largest cost of applying a batch.
struct cursor {
  const char* pos;
  const char* end;

  bool varint(uint64_t& v) {
    const char* after = decode_varint(pos, end, v);
    if (after == nullptr) return false;
    pos = after;
    return true;
  }
  bool string(std::string_view& s) {
    uint64_t n;
    if (!varint(n) || n > static_cast<uint64_t>(end - pos)) return false;
    s = std::string_view(pos, n);
    pos += n;
    return true;
  }
};

}  // namespace

bool batch_reader::next(batch_point& p) {
  if (in_.empty()) return false;
  p.offset = all_.size() - in_.size();
  auto fail = [&](const char* what) {
    status_ = error(errc::corruption,
                    std::string("write batch: ") + what + " at offset " + std::to_string(p.offset));
    in_ = {};
    return false;
  };
  cursor c{in_.data(), in_.data() + in_.size()};
  uint64_t zt, nfields;
  if (!c.string(p.series_key) || !c.varint(zt) || !c.varint(nfields)) return fail("truncated point");
  if (nfields > static_cast<uint64_t>(c.end - c.pos)) return fail("bad field count");
  p.time = zigzag_decode(zt);
  p.fields.resize(nfields);
  for (uint64_t i = 0; i < nfields; ++i) {
    model::field_view& f = p.fields[i];
    if (!c.string(f.key) || c.pos == c.end) return fail("truncated field");
    auto type = static_cast<uint8_t>(*c.pos++);
    switch (static_cast<model::field_type>(type)) {
      case model::field_type::float64: {
        if (c.end - c.pos < 8) return fail("truncated float");
        f.value = std::bit_cast<double>(get_fixed64(c.pos));
        c.pos += 8;
        break;
      }
      case model::field_type::int64: {
        uint64_t z;
        if (!c.varint(z)) return fail("truncated integer");
        f.value = zigzag_decode(z);
        break;
      }
      case model::field_type::uint64: {
        uint64_t u;
        if (!c.varint(u)) return fail("truncated unsigned");
        f.value = u;
        break;
      }
      case model::field_type::boolean:
        if (c.pos == c.end) return fail("truncated boolean");
        f.value = *c.pos++ != 0;
        break;
      case model::field_type::string: {
        std::string_view sv;
        if (!c.string(sv)) return fail("truncated string");
        f.value = sv;
        break;
      }
      default: return fail("unknown field type");
    }
  }
  in_ = std::string_view(c.pos, static_cast<size_t>(c.end - c.pos));
  p.end = all_.size() - in_.size();
  return true;
}

void measurement_of(std::string_view key, std::string& out) {
  out.clear();
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '\\' && i + 1 < key.size() && (key[i + 1] == ',' || key[i + 1] == ' ')) {
      out.push_back(key[++i]);
      continue;
    }
    if (c == ',') return;
    out.push_back(c);
  }
}

}  // namespace liandu::storage
