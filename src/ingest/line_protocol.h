#pragma once

// InfluxDB 1.8 line protocol, one point per line:
//
//   measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//
//   cpu,host=server01,region=us-west usage_idle=92.5,cores=8i,ok=true,note="a \"b\"" 1700000000000000000
//
// Escaping, by token (a backslash before any other character is an ordinary backslash):
//   measurement                          `\,` `\ `
//   tag key, tag value, field key        `\,` `\=` `\ `
//   string field value (in "...")        `\"` `\\`; raw newlines are allowed inside the quotes
// Field values: `1`, `-1.5`, `.5`, `1e10` are floats; `12i` integer; `12u` unsigned;
// t T true True TRUE f F false False FALSE booleans; "..." strings. NaN and Inf are rejected.
// The timestamp is an optional signed integer in the parser's precision, converted to ns; a line
// without one gets the caller's `now_ns`. Blank lines and lines whose first non-blank byte is `#`
// are skipped; CRLF endings and trailing blanks are accepted. Tags come out sorted by key with
// duplicate keys collapsed to the last one; a repeated field key keeps its last value.
// docs/line_protocol.md lists every error and its position.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "ingest/series_key_cache.h"
#include "model/point.h"

namespace liandu::ingest {

// One parsed line. Every view points into the body being parsed or into the
// parser's scratch space, and is valid only during the on_point callback.
struct point_ref {
  std::string_view measurement;
  const model::tag_view* tags = nullptr;  // sorted by key, keys unique
  size_t tag_count = 0;
  const model::field_view* fields = nullptr;  // input order, keys unique
  size_t field_count = 0;
  int64_t time = 0;  // ns since the Unix epoch
  // When not empty: the canonical series key (model::append_series_key of
  // measurement and tags), which is the line's own bytes up to the end of the
  // tag set when nothing in it is escaped and the tags are already sorted
  // with unique keys — most lines, since clients such as Telegraf sort tags.
  // It saves building the key again.
  std::string_view series_key;
  // When series_key_hash_known: the hash of series_key the engine's index
  // uses (storage::index::series_index::key_hash), kept by the key cache.
  uint32_t series_key_hash = 0;
  bool series_key_hash_known = false;
  // True when no name in measurement and tags was escaped in the line, so
  // none holds a character the series key must escape.
  bool names_plain = false;
  // True when the tags were left out (tags null, tag_count 0) although the
  // line has some: a parser whose key cache is used without tags
  // (use_key_cache's tags_wanted false) gives only the series key of a line
  // the cache holds. Never for a point without series_key.
  bool tags_omitted = false;
};

// A rejected line. `line` is the 1-based physical line of the problem in the
// body and `column` its 1-based byte offset in that line. `message` follows
// InfluxDB: "unable to parse '<line>': <reason>".
struct line_error {
  size_t line = 0;
  size_t column = 0;
  std::string message;
};

// Per-line limits; a line over a limit is rejected on its own.
struct line_protocol_limits {
  size_t max_line_bytes = 65536;  // bytes before the '\n'
  size_t max_tags = 256;
  size_t max_fields = 1024;
};

// Zero-copy parser. Reuse one per connection or thread: its buffers grow to the
// largest line seen and are then reused, so the steady state allocates nothing
// per line. Not thread-safe.
class line_protocol_parser {
 public:
  explicit line_protocol_parser(model::precision p = model::precision::ns, line_protocol_limits limits = {});

  line_protocol_parser(const line_protocol_parser&) = delete;
  line_protocol_parser& operator=(const line_protocol_parser&) = delete;
  line_protocol_parser(line_protocol_parser&&) = default;
  line_protocol_parser& operator=(line_protocol_parser&&) = default;

  // Parses every line of body. Calls on_point(const point_ref&) for each valid
  // line, in order; appends one line_error per bad line and goes on with the
  // next line. Returns the number of points delivered.
  template <typename OnPoint>
  size_t parse(std::string_view body, int64_t now_ns, OnPoint&& on_point, std::vector<line_error>& errors) {
    begin(body, now_ns);
    size_t delivered = 0;
    while (next(errors)) {
      const point_ref& ref = point_;
      on_point(ref);
      ++delivered;
    }
    return delivered;
  }

  model::precision precision() const { return precision_; }
  const line_protocol_limits& limits() const { return limits_; }
  // Takes measurements, tags and series keys of lines whose
  // measurement-and-tags section the cache holds from it, and adds the
  // sections of other lines (see series_key_cache). The cache must outlive
  // the parses; null: none. tags_wanted false: a caller that takes the
  // series key when there is one (a write batch) gets no tags with it from
  // the cache (see point_ref::tags_omitted), which saves copying them out.
  void use_key_cache(series_key_cache* cache, bool tags_wanted = true) {
    key_cache_ = cache;
    cached_tags_wanted_ = tags_wanted;
  }

 private:
  void begin(std::string_view body, int64_t now_ns);
  // Moves to the next valid line and fills point_; false at the end of the body.
  bool next(std::vector<line_error>& errors);
  // Parses the line whose first non-blank byte is at p. Returns the position of
  // the '\n' that ends it (or the end of the body), or nullptr after fail().
  const char* parse_line(const char* p);
  // Parses the measurement and tags from p, fills point_'s measurement,
  // tags_, names_plain and series_key; returns the position after them (the
  // space before the fields) or nullptr after fail(). The _cached form
  // looks the section up in key_cache_ first and adds it when new.
  const char* parse_series(const char* p);
  const char* parse_series_cached(const char* p);
  // A line's measurement-and-tags section as the cache looks it up: the
  // bytes from start to raw_end (the line's first space; null: none).
  struct section_ahead {
    const char* start = nullptr;
    const char* raw_end = nullptr;
    uint32_t hash = 0;
  };
  section_ahead section_at(const char* start) const;
  // Where the line after the one of s begins, guessed (null: none).
  const char* line_after(const section_ahead& s) const;
  const char* parse_number(const char* v, model::field_value_view& out);
  const char* fail(const char* at, std::string_view reason);
  void report(const char* line, const char* content, std::vector<line_error>& errors);
  enum class token { measurement, key, string };
  // Unescapes [b, e) into scratch_; false (after fail()) when the line is too long.
  bool unescape(const char* b, const char* e, token kind, std::string_view& out);
  // Sorts tags_ by key, the last of equal keys winning. Returns true when
  // they already were in order with unique keys.
  bool sort_tags();
  void dedupe_fields();

  model::precision precision_;
  int64_t multiplier_;
  line_protocol_limits limits_;

  const char* pos_ = nullptr;
  const char* end_ = nullptr;
  size_t line_no_ = 1;        // physical line number of pos_
  size_t line_newlines_ = 0;  // newlines inside strings of the current line
  int64_t now_ns_ = 0;

  point_ref point_;
  std::vector<model::tag_view> tags_;
  std::vector<model::field_view> fields_;
  std::vector<uint32_t> order_;  // field de-duplication of long lines
  // Unescaped tokens of the current line. Sized max_line_bytes on first use and
  // never reallocated, so views into it stay valid for the whole line: an
  // unescaped token is never longer than its bytes in the line.
  std::unique_ptr<char[]> scratch_;
  size_t scratch_used_ = 0;

  const char* err_at_ = nullptr;
  std::string err_reason_;
  series_key_cache* key_cache_ = nullptr;
  bool cached_tags_wanted_ = true;
  section_ahead ahead_[2];  // the sections of the next two lines, guessed
};

// Owning points, for tests and slow paths. Without `errors`, the first bad line
// fails the whole call (errc::parse_error); with it, bad lines are appended
// there and the valid points are returned.
result<std::vector<model::point>> parse_points(std::string_view body, model::precision p, int64_t now_ns,
                                               std::vector<line_error>* errors = nullptr);

// Appends p as one line of line protocol with a ns timestamp and a trailing
// '\n'. Floats use the shortest text that reads back to the same double.
// Parsing the line gives p back, except for what the protocol cannot express:
// names that end in a backslash or contain a newline, a measurement starting
// with '#' or a blank, empty names, NaN or infinite floats.
void append_line(std::string& out, const model::point& p);

}  // namespace liandu::ingest
