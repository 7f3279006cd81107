#include "ingest/line_protocol.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <variant>

#include "base/find_byte.h"

namespace liandu::ingest {

namespace {

// Character classes, one bit per scanning context.
enum : uint8_t {
  measurement_stop = 1 << 0,  // '\\' ',' ' ' '\n': ends or escapes inside a measurement
  key_stop = 1 << 1,          // '\\' ',' ' ' '=' '\n': tag keys, tag values, field keys
  string_stop = 1 << 2,       // '\\' '"' '\n': inside a quoted string
  value_end = 1 << 3,         // ',' ' ' '\t' '\r' '\n': ends a field value or a timestamp
  blank = 1 << 4,             // ' ' '\t' '\r'
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  t['\\'] |= measurement_stop | key_stop | string_stop;
  t[','] |= measurement_stop | key_stop | value_end;
  t[' '] |= measurement_stop | key_stop | value_end | blank;
  t['\n'] |= measurement_stop | key_stop | string_stop | value_end;
  t['='] |= key_stop;
  t['"'] |= string_stop;
  t['\t'] |= value_end | blank;
  t['\r'] |= value_end | blank;
  return t;
}

alignas(64) constexpr std::array<uint8_t, 256> classes = make_classes();

inline uint8_t class_of(char c) { return classes[static_cast<unsigned char>(c)]; }
inline bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// Whether a backslash before c escapes it: ',' and ' ' everywhere, '=' in keys and tag values.
template <uint8_t Context>
inline bool escapable(char c) {
  if constexpr (Context == key_stop) {
    return c == ',' || c == ' ' || c == '=';
  } else {
    return c == ',' || c == ' ';
  }
}

// Returns the first byte in [p, e) of the class Context, or e. A table
// lookup per byte: tokens are short, and 16-byte SSE2 compares measured
// slower on typical lines.
template <uint8_t Context>
inline const char* find_stop(const char* p, const char* e) {
  while (p < e && !(class_of(*p) & Context)) ++p;
  return p;
}

// Scans a name from p to its first unescaped stop character (or e). Sets
// `escaped` when the name holds an escape and must be unescaped.
template <uint8_t Context>
inline const char* scan_name(const char* p, const char* e, bool& escaped) {
  for (;;) {
    p = find_stop<Context>(p, e);
    if (p == e || *p != '\\') return p;
    if (p + 1 < e && escapable<Context>(p[1])) {
      escaped = true;
      p += 2;
    } else {
      ++p;
    }
  }
}

template <uint8_t Context>
inline size_t unescape_name(const char* b, const char* e, char* out) {
  char* o = out;
  while (b < e) {
    if (*b == '\\' && b + 1 < e && escapable<Context>(b[1])) ++b;
    *o++ = *b++;
  }
  return static_cast<size_t>(o - out);
}

inline size_t unescape_string(const char* b, const char* e, char* out) {
  char* o = out;
  while (b < e) {
    if (*b == '\\' && b + 1 < e && (b[1] == '"' || b[1] == '\\')) ++b;
    *o++ = *b++;
  }
  return static_cast<size_t>(o - out);
}

// Reads 8 ASCII digits at p as one number, eight bytes at a time (SWAR);
// false when one of them is not a digit. Timestamps are 19 digits.
inline bool eight_digits(const char* p, uint64_t& out) {
  if constexpr (std::endian::native != std::endian::little) return false;
  uint64_t v;
  std::memcpy(&v, p, 8);
  constexpr uint64_t high = 0xF0F0F0F0F0F0F0F0;
  constexpr uint64_t zeros = 0x3030303030303030;
  // Every byte in 0x30..0x3F, and still there after adding 6 (so <= '9').
  if ((v & high) != zeros || ((v + 0x0606060606060606) & high) != zeros) return false;
  v -= zeros;             // eight values 0..9, the first digit in the lowest byte
  v = v * 10 + (v >> 8);  // byte pairs: 2-digit values in bytes 0, 2, 4, 6
  constexpr uint64_t mask = 0x000000FF000000FF;
  constexpr uint64_t mul1 = 100 + (1000000ULL << 32);
  constexpr uint64_t mul2 = 1 + (10000ULL << 32);
  out = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
  return true;
}

inline const char* skip_blanks(const char* p, const char* e) {
  while (p < e && (class_of(*p) & blank)) ++p;
  return p;
}

bool equals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// Finds the end of the line that starts at p without judging it, so that a
// bad line is skipped as a whole: a quoted string in a field value may hold
// newlines. Returns the position of the ending '\n' or e.
const char* find_line_end(const char* p, const char* e) {
  // Measurement and tags, up to the first unescaped space.
  while (p < e) {
    char c = *p;
    if (c == '\n') return p;
    if (c == ' ') break;
    if (c == '\\' && p + 1 < e && escapable<key_stop>(p[1])) {
      p += 2;
      continue;
    }
    ++p;
  }
  // Fields: a '"' inside a value opens a string, as in InfluxDB's scanner.
  while (p < e && *p == ' ') ++p;
  bool in_value = false;
  while (p < e) {
    char c = *p;
    if (c == '\n') return p;
    if (c == '\\' && p + 1 < e && escapable<key_stop>(p[1])) {
      p += 2;
      continue;
    }
    if (!in_value) {
      if (c == ' ') break;  // the timestamp follows
      if (c == '=') in_value = true;
      ++p;
      continue;
    }
    if (class_of(c) & blank) break;
    if (c == ',') {
      in_value = false;
    } else if (c == '"') {
      ++p;
      while (p < e && *p != '"') p += (*p == '\\' && p + 1 < e) ? 2 : 1;
      if (p >= e) return e;
    }
    ++p;
  }
  const void* nl = p < e ? std::memchr(p, '\n', static_cast<size_t>(e - p)) : nullptr;
  return nl ? static_cast<const char*>(nl) : e;
}

// Key order and equality with the first byte compared inline: keys of one
// line usually differ there, which saves the memcmp call.
// a < b, compared in place: tag keys are short and often share their first
// letters ("sensor", "site"), where a call to memcmp cost more than the
// comparison (a third of sorting the factory workload's tags).
inline bool key_less(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

inline bool key_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
}

constexpr size_t max_echoed_line = 256;

}  // namespace

line_protocol_parser::line_protocol_parser(model::precision p, line_protocol_limits limits)
    : precision_(p), multiplier_(model::precision_multiplier(p)), limits_(limits) {}

void line_protocol_parser::begin(std::string_view body, int64_t now_ns) {
  pos_ = body.data();
  end_ = body.data() + body.size();
  ahead_[0] = ahead_[1] = {};
  line_no_ = 1;
  now_ns_ = now_ns;
}

const char* line_protocol_parser::fail(const char* at, std::string_view reason) {
  err_at_ = at;
  err_reason_.assign(reason);
  return nullptr;
}

bool line_protocol_parser::unescape(const char* b, const char* e, token kind, std::string_view& out) {
  size_t n = static_cast<size_t>(e - b);
  if (!scratch_) scratch_ = std::make_unique_for_overwrite<char[]>(limits_.max_line_bytes);
  // Unescaped bytes never outnumber the line's bytes so far, so running out
  // of room means the line is over the limit; report() says so.
  if (n > limits_.max_line_bytes - scratch_used_) {
    fail(e, "line too long");
    return false;
  }
  char* dst = scratch_.get() + scratch_used_;
  size_t len = 0;
  switch (kind) {
    case token::measurement: len = unescape_name<measurement_stop>(b, e, dst); break;
    case token::key: len = unescape_name<key_stop>(b, e, dst); break;
    case token::string: len = unescape_string(b, e, dst); break;
  }
  scratch_used_ += len;
  out = {dst, len};
  return true;
}

bool line_protocol_parser::next(std::vector<line_error>& errors) {
  const char* const e = end_;
  while (pos_ < e) {
    const char* line = pos_;
    const char* p = skip_blanks(line, e);
    if (p == e) {
      pos_ = e;
      break;
    }
    if (*p == '\n' || *p == '#') {
      const void* nl = *p == '\n' ? p : std::memchr(p, '\n', static_cast<size_t>(e - p));
      pos_ = nl ? static_cast<const char*>(nl) + 1 : e;
      ++line_no_;
      continue;
    }
    line_newlines_ = 0;
    const char* stop = parse_line(p);
    if (stop != nullptr && static_cast<size_t>(stop - line) <= limits_.max_line_bytes) {
      point_.tags = point_.tags_omitted ? nullptr : tags_.data();
      point_.tag_count = point_.tags_omitted ? 0 : tags_.size();
      point_.fields = fields_.data();
      point_.field_count = fields_.size();
      pos_ = stop < e ? stop + 1 : e;
      line_no_ += 1 + line_newlines_;
      return true;
    }
    report(line, p, errors);
  }
  return false;
}

void line_protocol_parser::report(const char* line, const char* content, std::vector<line_error>& errors) {
  const char* const e = end_;
  const char* line_end = find_line_end(content, e);
  // The parser may have looked past the end the lenient scan found; the line
  // is whichever reaches further.
  if (err_at_ != nullptr && err_at_ > line_end) {
    const void* nl = err_at_ < e ? std::memchr(err_at_, '\n', static_cast<size_t>(e - err_at_)) : nullptr;
    line_end = nl ? static_cast<const char*>(nl) : e;
  }
  if (static_cast<size_t>(line_end - line) > limits_.max_line_bytes) {
    err_at_ = line + limits_.max_line_bytes;
    err_reason_ = "line too long: more than " + std::to_string(limits_.max_line_bytes) + " bytes";
  }
  const char* at = std::min(err_at_ != nullptr ? err_at_ : content, line_end);
  size_t physical = line_no_;
  const char* physical_start = line;
  for (const char* q = line; q < at; ++q) {
    if (*q == '\n') {
      ++physical;
      physical_start = q + 1;
    }
  }
  std::string_view text(content, static_cast<size_t>(line_end - content));
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  line_error err;
  err.line = physical;
  err.column = static_cast<size_t>(at - physical_start) + 1;
  err.message.reserve(24 + std::min(text.size(), max_echoed_line) + err_reason_.size());
  err.message += "unable to parse '";
  if (text.size() > max_echoed_line) {
    err.message.append(text.substr(0, max_echoed_line));
    err.message += "...";
  } else {
    err.message.append(text);
  }
  err.message += "': ";
  err.message += err_reason_;
  errors.push_back(std::move(err));

  line_no_ += 1 + static_cast<size_t>(std::count(line, line_end, '\n'));
  pos_ = line_end < e ? line_end + 1 : e;
  err_at_ = nullptr;
}

const char* line_protocol_parser::parse_series(const char* p) {
  const char* const e = end_;
  // Measurement. The caller skipped blanks, so p is on a byte of the line.
  bool escaped = false;
  const char* q = scan_name<measurement_stop>(p, e, escaped);
  if (q == p) return fail(p, "missing measurement");
  if (escaped) {
    if (!unescape(p, q, token::measurement, point_.measurement)) return nullptr;
  } else {
    point_.measurement = {p, static_cast<size_t>(q - p)};
  }
  if (q == e || *q == '\n') return fail(q, "missing fields");
  bool key_as_is = !escaped;

  // Tags.
  while (*q == ',') {
    const char* k = q + 1;
    bool key_escaped = false;
    const char* ke = scan_name<key_stop>(k, e, key_escaped);
    if (ke == k) return fail(k, "missing tag key");
    if (ke == e || *ke != '=') return fail(ke, "missing tag value");
    const char* v = ke + 1;
    bool value_escaped = false;
    const char* ve = scan_name<key_stop>(v, e, value_escaped);
    if (ve == v) return fail(v, "missing tag value");
    if (ve < e && *ve == '=') return fail(ve, "invalid tag format");
    if (tags_.size() == limits_.max_tags) {
      return fail(k, "too many tags: more than " + std::to_string(limits_.max_tags));
    }
    key_as_is = key_as_is && !key_escaped && !value_escaped;
    model::tag_view& t = tags_.emplace_back();
    if (key_escaped) {
      if (!unescape(k, ke, token::key, t.key)) return nullptr;
    } else {
      t.key = std::string_view(k, static_cast<size_t>(ke - k));
    }
    if (value_escaped) {
      if (!unescape(v, ve, token::key, t.value)) return nullptr;
    } else {
      t.value = std::string_view(v, static_cast<size_t>(ve - v));
    }
    q = ve;
    if (q == e || *q == '\n') return fail(q, "missing fields");
  }
  point_.names_plain = key_as_is;
  if (tags_.size() > 1 && !sort_tags()) key_as_is = false;
  point_.series_key = key_as_is ? std::string_view(p, static_cast<size_t>(q - p)) : std::string_view();
  return q;
}

line_protocol_parser::section_ahead line_protocol_parser::section_at(const char* start) const {
  section_ahead s;
  if (start == nullptr || start >= end_) return s;
  s.start = start;
  s.raw_end = find_byte(start, end_, ' ');
  if (s.raw_end != nullptr)
    s.hash = series_key_cache::hash_of({start, static_cast<size_t>(s.raw_end - start)});
  return s;
}

const char* line_protocol_parser::line_after(const section_ahead& s) const {
  if (s.raw_end == nullptr) return nullptr;
  const char* nl = find_byte(s.raw_end, end_, '\n');
  return nl != nullptr ? nl + 1 : nullptr;
}

const char* line_protocol_parser::parse_series_cached(const char* p) {
  series_key_cache& cache = *key_cache_;
  if (!cache.take_line()) return parse_series(p);
  // A section the cache holds has no space and no escape, so it ends at the
  // line's first space; the bytes before it either are such a section or
  // are not in the cache.
  //
  // The sections of the next two lines are found and hashed now: the next
  // line's entry and the one after's slot are prefetched, so the lookups
  // (thousands of sections, more than stay in cache) do not wait on memory.
  // A line is found by the first newline after the section of the one
  // before; when that guess is wrong (a string field holding a newline, a
  // blank or comment line) the section is found again when its line comes.
  const bool predicted = ahead_[0].start == p;
  const section_ahead cur = predicted ? ahead_[0] : section_at(p);
  if (cur.raw_end == nullptr) return parse_series(p);
  ahead_[0] = predicted && ahead_[1].start != nullptr ? ahead_[1] : section_at(line_after(cur));
  ahead_[1] = section_at(line_after(ahead_[0]));
  if (ahead_[0].raw_end != nullptr) cache.prefetch_entry(ahead_[0].hash);
  if (ahead_[1].raw_end != nullptr) cache.prefetch_slot(ahead_[1].hash);

  std::string_view raw(p, static_cast<size_t>(cur.raw_end - p));
  series_key_cache::entry en;
  if (const char* at = cache.find(raw, cur.hash, en); at != nullptr) {
    // A parser with a lower tag limit than the one that parsed the section
    // must still refuse it: take the long way, which reports the error. The
    // limit counts tags as written, repeated keys included.
    if (en.written_tags <= limits_.max_tags) {
      cache.fill(at, en, point_, tags_, cached_tags_wanted_);
      return cur.raw_end;
    }
  }
  const char* q = parse_series(p);
  // Only sections without escapes: their names are bytes of the line as
  // they are, so the key built from them (names_plain) is the canonical one.
  if (q == cur.raw_end && point_.names_plain) {
    // The section is its key when the parse kept the line's bytes as the key.
    const bool raw_is_key = !point_.series_key.empty();
    std::string_view key = cache.insert(raw, cur.hash, raw_is_key, point_.measurement, tags_.data(),
                                        tags_.size(), point_.series_key_hash);
    if (!key.empty()) {  // empty: too large to keep
      point_.series_key = key;
      point_.series_key_hash_known = true;
    }
  }
  return q;
}

const char* line_protocol_parser::parse_line(const char* p) {
  const char* const e = end_;
  tags_.clear();
  fields_.clear();
  scratch_used_ = 0;
  point_.series_key_hash_known = false;
  point_.tags_omitted = false;
  const char* q = key_cache_ != nullptr ? parse_series_cached(p) : parse_series(p);
  if (q == nullptr) return nullptr;

  // Fields. q is on the space after the key; only spaces separate sections,
  // so a field key may start with a tab.
  while (q < e && *q == ' ') ++q;
  if (q == e || *q == '\n') return fail(q, "missing fields");
  for (;;) {
    const char* k = q;
    bool key_escaped = false;
    const char* ke = scan_name<key_stop>(k, e, key_escaped);
    if (ke == e || *ke != '=') {
      if (fields_.empty() && skip_blanks(k, e) == ke && (ke == e || *ke == '\n')) {
        return fail(ke, "missing fields");  // only trailing blanks after the key
      }
      return fail(ke == k ? k : ke, ke == k ? "missing field key" : "invalid field format");
    }
    if (ke == k) return fail(k, "missing field key");
    if (fields_.size() == limits_.max_fields) {
      return fail(k, "too many fields: more than " + std::to_string(limits_.max_fields));
    }
    model::field_view& f = fields_.emplace_back();
    if (key_escaped) {
      if (!unescape(k, ke, token::key, f.key)) return nullptr;
    } else {
      f.key = std::string_view(k, static_cast<size_t>(ke - k));
    }

    const char* v = ke + 1;
    const char* ve;
    if (v == e) return fail(v, "missing field value");
    char c = *v;
    if (c == '"') {
      const char* s = v + 1;
      bool string_escaped = false;
      for (;;) {
        s = find_stop<string_stop>(s, e);
        if (s == e) return fail(v, "unbalanced quotes");
        if (*s == '"') break;
        if (*s == '\n') {
          ++line_newlines_;
          ++s;
        } else if (s + 1 < e && (s[1] == '"' || s[1] == '\\')) {
          string_escaped = true;
          s += 2;
        } else {
          ++s;
        }
      }
      if (string_escaped) {
        std::string_view text;
        if (!unescape(v + 1, s, token::string, text)) return nullptr;
        f.value = text;
      } else {
        f.value = std::string_view(v + 1, static_cast<size_t>(s - v - 1));
      }
      ve = s + 1;
      if (ve < e && !(class_of(*ve) & value_end)) return fail(ve, "invalid field format");
    } else if (is_digit(c) || c == '-' || c == '.' || c == '+') {
      ve = parse_number(v, f.value);
      if (ve == nullptr) return nullptr;
    } else {
      ve = v;
      while (ve < e && !(class_of(*ve) & value_end)) ++ve;
      std::string_view word(v, static_cast<size_t>(ve - v));
      if (word.empty()) return fail(v, "missing field value");
      bool value;
      if (word == "t" || word == "T" || word == "true" || word == "True" || word == "TRUE") {
        value = true;
      } else if (word == "f" || word == "F" || word == "false" || word == "False" || word == "FALSE") {
        value = false;
      } else if (equals_lower(word, "nan") || equals_lower(word, "inf") || equals_lower(word, "infinity")) {
        return fail(v, "invalid number");
      } else {
        return fail(v, "invalid boolean");
      }
      f.value = value;
    }

    if (ve < e && *ve == ',') {
      q = ve + 1;
      continue;
    }
    q = ve;
    break;
  }
  if (fields_.size() > 1) dedupe_fields();

  // Timestamp, then only blanks up to the end of the line.
  q = skip_blanks(q, e);
  point_.time = now_ns_;
  if (q == e || *q == '\n') return q;
  const char* ts = q;
  bool negative = *q == '-';
  q += negative;
  const char* digits = q;
  uint64_t magnitude = 0;
  uint64_t chunk;
  while (e - q >= 8 && eight_digits(q, chunk)) {  // wraps past 19 digits; checked below
    magnitude = magnitude * 100000000 + chunk;
    q += 8;
  }
  while (q < e && is_digit(*q)) {
    magnitude = magnitude * 10 + static_cast<uint64_t>(*q - '0');
    ++q;
  }
  if (q == digits || (q < e && !(class_of(*q) & value_end))) return fail(ts, "bad timestamp");
  int64_t t;
  if (q - digits <= 19) {  // 19 digits fit in uint64_t
    constexpr uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (magnitude > max + negative) return fail(ts, "bad timestamp");
    t = static_cast<int64_t>(negative ? 0 - magnitude : magnitude);
  } else {
    auto [ptr, ec] = std::from_chars(ts, q, t);
    if (ec != std::errc() || ptr != q) return fail(ts, "bad timestamp");
  }
  if (__builtin_mul_overflow(t, multiplier_, &point_.time)) return fail(ts, "time outside range");
  q = skip_blanks(q, e);
  if (q < e && *q != '\n') return fail(q, "bad timestamp");
  return q;
}

// Parses the number at v into out and returns its end, or fails.
// Grammar: [-] digits [. digits] [(e|E) [+|-] digits] with at least one
// mantissa digit; then 'i' (integer) or 'u' (unsigned) when there is neither
// a point nor an exponent.
//
// Common values take a fast path that gives the same double as strtod
// (Clinger): a mantissa of at most 2^53 and a power of ten of at most 10^22
// are both exact doubles, so one IEEE multiplication or division rounds
// correctly. Everything else goes to std::from_chars.
const char* line_protocol_parser::parse_number(const char* v, model::field_value_view& out) {
  const char* const e = end_;
  const char* s = v;
  bool negative = false;
  if (*s == '-') {
    negative = true;
    ++s;
  }
  uint64_t mantissa = 0;
  const char* digits = s;
  while (s < e && is_digit(*s)) {
    mantissa = mantissa * 10 + static_cast<uint64_t>(*s - '0');  // wraps past 19 digits; checked below
    ++s;
  }
  size_t int_digits = static_cast<size_t>(s - digits);
  size_t frac_digits = 0;
  bool fraction = false;
  bool exponent = false;
  if (s < e && *s == '.') {
    fraction = true;
    const char* f = ++s;
    while (s < e && is_digit(*s)) {
      mantissa = mantissa * 10 + static_cast<uint64_t>(*s - '0');
      ++s;
    }
    frac_digits = static_cast<size_t>(s - f);
  }
  size_t mantissa_digits = int_digits + frac_digits;
  if (mantissa_digits == 0) return fail(v, "invalid number");
  int64_t exp10 = 0;
  if (s < e && (*s == 'e' || *s == 'E')) {
    exponent = true;
    ++s;
    bool exp_negative = false;
    if (s < e && (*s == '+' || *s == '-')) exp_negative = *s++ == '-';
    const char* x = s;
    while (s < e && is_digit(*s)) {
      if (exp10 < 100000) exp10 = exp10 * 10 + (*s - '0');
      ++s;
    }
    if (s == x) return fail(v, "invalid number");
    if (exp_negative) exp10 = -exp10;
  }
  if (s == e || (class_of(*s) & value_end)) {
    static constexpr double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    exp10 -= static_cast<int64_t>(frac_digits);
    if (mantissa_digits <= 19 && mantissa <= (uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
      double d = static_cast<double>(mantissa);
      d = exp10 < 0 ? d / powers[-exp10] : d * powers[exp10];
      out = negative ? -d : d;
      return s;
    }
    double d;
    auto [ptr, ec] = std::from_chars(v, s, d);
    if (ptr != s) return fail(v, "invalid number");
    if (ec == std::errc::result_out_of_range) {
      // from_chars leaves d unset on overflow and on underflow; InfluxDB
      // rejects the first and reads the second as strtod does.
      std::string copy(v, s);
      d = std::strtod(copy.c_str(), nullptr);
      if (std::isinf(d)) return fail(v, "invalid float");
    } else if (ec != std::errc()) {
      return fail(v, "invalid number");
    }
    out = d;
    return s;
  }
  char suffix = *s;
  const char* end = s + 1;
  if ((suffix != 'i' && suffix != 'u') || fraction || exponent ||
      (end < e && !(class_of(*end) & value_end))) {
    return fail(v, "invalid number");
  }
  if (suffix == 'i') {
    constexpr uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (int_digits <= 19 && mantissa <= max + negative) {
      out = static_cast<int64_t>(negative ? 0 - mantissa : mantissa);
      return end;
    }
    int64_t n;
    auto [ptr, ec] = std::from_chars(v, s, n);
    if (ec == std::errc::result_out_of_range) {
      return fail(v, "unable to parse integer " + std::string(v, s) + ": value out of range");
    }
    if (ec != std::errc() || ptr != s) return fail(v, "invalid number");
    out = n;
  } else {
    if (negative) return fail(v, "invalid number");
    if (int_digits <= 19) {
      out = mantissa;
      return end;
    }
    uint64_t n;
    auto [ptr, ec] = std::from_chars(v, s, n);
    if (ec == std::errc::result_out_of_range) {
      return fail(v, "unable to parse unsigned " + std::string(v, s) + ": value out of range");
    }
    if (ec != std::errc() || ptr != s) return fail(v, "invalid number");
    out = n;
  }
  return end;
}

// Tags sorted by key; of equal keys the last one written stays. Lines
// usually arrive sorted, so the first pass only checks.
bool line_protocol_parser::sort_tags() {
  size_t n = tags_.size();
  model::tag_view* t = tags_.data();
  size_t i = 1;
  while (i < n && key_less(t[i - 1].key, t[i].key)) ++i;
  if (i == n) return true;
  auto by_key = [](const model::tag_view& a, const model::tag_view& b) { return key_less(a.key, b.key); };
  if (n <= 64) {
    for (; i < n; ++i) {  // insertion sort, stable
      model::tag_view x = t[i];
      size_t j = i;
      while (j > 0 && key_less(x.key, t[j - 1].key)) {
        t[j] = t[j - 1];
        --j;
      }
      t[j] = x;
    }
  } else {
    std::stable_sort(t, t + n, by_key);
  }
  size_t out = 0;
  for (size_t r = 0; r < n; ++r) {
    if (r + 1 < n && key_equal(t[r].key, t[r + 1].key)) continue;  // a later one wins
    t[out++] = t[r];
  }
  tags_.resize(out);
  return false;
}

// Drops every field whose key appears again later in the line.
void line_protocol_parser::dedupe_fields() {
  size_t n = fields_.size();
  model::field_view* f = fields_.data();
  if (n <= 32) {
    size_t out = 0;
    for (size_t i = 0; i < n; ++i) {
      bool later = false;
      for (size_t j = i + 1; j < n && !later; ++j) later = key_equal(f[i].key, f[j].key);
      if (later) continue;
      if (out != i) f[out] = std::move(f[i]);
      ++out;
    }
    fields_.resize(out);
    return;
  }
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) order_[i] = static_cast<uint32_t>(i);
  std::sort(order_.begin(), order_.end(), [f](uint32_t a, uint32_t b) {
    int c = f[a].key.compare(f[b].key);
    return c != 0 ? c < 0 : a < b;
  });
  bool any = false;
  // Mark a dropped field by clearing the data pointer of its key; keys are
  // never null views otherwise (a field key is never empty).
  for (size_t i = 0; i + 1 < n; ++i) {
    if (f[order_[i]].key == f[order_[i + 1]].key) {
      f[order_[i]].key = std::string_view();
      any = true;
    }
  }
  if (!any) return;
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (f[i].key.data() == nullptr) continue;
    if (out != i) f[out] = std::move(f[i]);
    ++out;
  }
  fields_.resize(out);
}

result<std::vector<model::point>> parse_points(std::string_view body, model::precision p, int64_t now_ns,
                                               std::vector<line_error>* errors) {
  line_protocol_parser parser(p);
  std::vector<model::point> points;
  std::vector<line_error> local;
  std::vector<line_error>& errs = errors != nullptr ? *errors : local;
  size_t before = errs.size();
  parser.parse(
      body, now_ns,
      [&points](const point_ref& r) {
        model::point& pt = points.emplace_back();
        pt.measurement.assign(r.measurement);
        pt.tags.reserve(r.tag_count);
        for (size_t i = 0; i < r.tag_count; ++i) {
          pt.tags.push_back({std::string(r.tags[i].key), std::string(r.tags[i].value)});
        }
        pt.fields.reserve(r.field_count);
        for (size_t i = 0; i < r.field_count; ++i) {
          model::field& f = pt.fields.emplace_back();
          f.key.assign(r.fields[i].key);
          std::visit(
              [&f](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::string_view>) {
                  f.value = std::string(v);
                } else {
                  f.value = v;
                }
              },
              r.fields[i].value);
        }
        pt.time = r.time;
      },
      errs);
  if (errors == nullptr && errs.size() > before) {
    const line_error& first = errs[before];
    return error(errc::parse_error, "line " + std::to_string(first.line) + ", column " +
                                        std::to_string(first.column) + ": " + first.message);
  }
  return points;
}

namespace {

void append_escaped(std::string& out, std::string_view s, bool escape_equals) {
  for (char c : s) {
    if (c == ',' || c == ' ' || (escape_equals && c == '=')) out.push_back('\\');
    out.push_back(c);
  }
}

template <typename T>
void append_number(std::string& out, T v) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ptr);
}

}  // namespace

void append_line(std::string& out, const model::point& p) {
  append_escaped(out, p.measurement, false);
  for (const model::tag& t : p.tags) {
    out.push_back(',');
    append_escaped(out, t.key, true);
    out.push_back('=');
    append_escaped(out, t.value, true);
  }
  char sep = ' ';
  for (const model::field& f : p.fields) {
    out.push_back(sep);
    sep = ',';
    append_escaped(out, f.key, true);
    out.push_back('=');
    switch (model::type_of(f.value)) {
      case model::field_type::float64: append_number(out, std::get<double>(f.value)); break;
      case model::field_type::int64:
        append_number(out, std::get<int64_t>(f.value));
        out.push_back('i');
        break;
      case model::field_type::uint64:
        append_number(out, std::get<uint64_t>(f.value));
        out.push_back('u');
        break;
      case model::field_type::boolean: out += std::get<bool>(f.value) ? "true" : "false"; break;
      case model::field_type::string:
        out.push_back('"');
        for (char c : std::get<std::string>(f.value)) {
          if (c == '"' || c == '\\') out.push_back('\\');
          out.push_back(c);
        }
        out.push_back('"');
        break;
    }
  }
  out.push_back(' ');
  append_number(out, p.time);
  out.push_back('\n');
}

}  // namespace liandu::ingest
