#include "storage/write_batch.h"

#include <bit>
#include <cstring>

#include "base/coding.h"

namespace liandu::storage {

write_batch::write_batch(std::string_view db, std::string_view rp) {
  put_string(data_, db);
  put_string(data_, rp);
}

namespace {

void put_field(std::string& out, std::string_view key, const model::field_value_view& v) {
  put_string(out, key);
  out.push_back(static_cast<char>(model::type_of(v)));
  switch (v.index()) {
    case 0: {
      uint64_t bits;
      double d = std::get<0>(v);
      std::memcpy(&bits, &d, 8);
      put_fixed64(out, bits);
      break;
    }
    case 1: put_varint(out, zigzag_encode(std::get<1>(v))); break;
    case 2: put_varint(out, std::get<2>(v)); break;
    case 3: out.push_back(std::get<3>(v) ? 1 : 0); break;
    case 4: put_string(out, std::get<4>(v)); break;
  }
}

}  // namespace

void write_batch::add(std::string_view measurement, const model::tag_view* tags, size_t tag_count,
                      const model::field_view* fields, size_t field_count, int64_t time, bool names_plain) {
  // The series key is written in place after a length we patch afterwards;
  // keys are short, so reserve one varint byte and move the key if longer.
  size_t len_pos = data_.size();
  data_.push_back('\0');
  size_t key_start = data_.size();
  model::append_series_key(data_, measurement, tags, tag_count, names_plain);
  size_t key_len = data_.size() - key_start;
  if (key_len < 0x80) {
    data_[len_pos] = static_cast<char>(key_len);
  } else {
    std::string key = data_.substr(key_start);
    data_.resize(len_pos);
    put_string(data_, key);
  }
  add_fields(fields, field_count, time);
}

void write_batch::add_keyed(std::string_view series_key, const model::field_view* fields, size_t field_count,
                            int64_t time) {
  put_string(data_, series_key);
  add_fields(fields, field_count, time);
}

void write_batch::add_fields(const model::field_view* fields, size_t field_count, int64_t time) {
  put_varint(data_, zigzag_encode(time));
  put_varint(data_, field_count);
  for (size_t i = 0; i < field_count; ++i) put_field(data_, fields[i].key, fields[i].value);
  ++points_;
  fields_ += field_count;
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
    // Most varints here are one byte (lengths, counts, small integers).
    if (pos < end && static_cast<int8_t>(*pos) >= 0) {
      v = static_cast<uint8_t>(*pos++);
      return true;
    }
    v = 0;
    for (int shift = 0; shift <= 63 && pos < end; shift += 7) {
      uint64_t byte = static_cast<uint8_t>(*pos++);
      if (shift == 63 && byte > 1) return false;
      v |= (byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
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
