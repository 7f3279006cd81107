// Parses arbitrary bytes as line protocol. Every delivered point must survive
// append_line and a second parse unchanged; every error must name a position;
// the series key the parser offers must equal the one built from the parts;
// a parser with a series key cache must deliver the same as one without.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "ingest/line_protocol.h"

namespace {

using liandu::ingest::line_error;
using liandu::ingest::line_protocol_limits;
using liandu::ingest::line_protocol_parser;
using liandu::ingest::point_ref;
using liandu::model::point;

point to_point(const point_ref& r) {
  point p;
  p.measurement.assign(r.measurement);
  for (size_t i = 0; i < r.tag_count; ++i) {
    p.tags.push_back({std::string(r.tags[i].key), std::string(r.tags[i].value)});
  }
  for (size_t i = 0; i < r.field_count; ++i) {
    liandu::model::field& f = p.fields.emplace_back();
    f.key.assign(r.fields[i].key);
    std::visit(
        [&f](auto v) {
          if constexpr (std::is_same_v<decltype(v), std::string_view>) {
            f.value = std::string(v);
          } else {
            f.value = v;
          }
        },
        r.fields[i].value);
  }
  p.time = r.time;
  return p;
}

void check(bool ok) {
  if (!ok) std::abort();
}

struct outcome {
  std::vector<point> points;
  std::vector<line_error> errors;
};

outcome parse_with(std::string_view body, liandu::model::precision prec, line_protocol_limits limits,
                   liandu::ingest::series_key_cache* cache) {
  line_protocol_parser parser(prec, limits);
  parser.use_key_cache(cache);
  outcome out;
  parser.parse(
      body, 42,
      [&out](const point_ref& r) {
        std::string built;
        liandu::model::append_series_key(built, r.measurement, r.tags, r.tag_count);
        if (!r.series_key.empty()) check(r.series_key == built);
        out.points.push_back(to_point(r));
      },
      out.errors);
  return out;
}

bool same(const outcome& a, const outcome& b) {
  if (a.points != b.points || a.errors.size() != b.errors.size()) return false;
  for (size_t i = 0; i < a.errors.size(); ++i) {
    const line_error& x = a.errors[i];
    const line_error& y = b.errors[i];
    if (x.message != y.message || x.line != y.line || x.column != y.column) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the precision and small or default limits.
  auto prec = static_cast<liandu::model::precision>(data[0] % 6);
  line_protocol_limits limits;
  if (data[0] & 0x80) limits = {64, 3, 4};
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  line_protocol_parser parser(prec, limits);
  std::vector<point> points;
  std::vector<line_error> errors;
  size_t n = parser.parse(
      body, 42,
      [&points](const point_ref& r) {
        // The shortcuts the writer takes must give the same series key.
        std::string built;
        liandu::model::append_series_key(built, r.measurement, r.tags, r.tag_count);
        if (!r.series_key.empty()) check(r.series_key == built);
        if (r.names_plain) {
          std::string plain;
          liandu::model::append_series_key(plain, r.measurement, r.tags, r.tag_count, true);
          check(plain == built);
        }
        points.push_back(to_point(r));
      },
      errors);
  check(n == points.size());
  for (const line_error& e : errors) check(e.line >= 1 && e.column >= 1 && !e.message.empty());

  // With a series key cache, twice (the second time mostly from it): the
  // same points, keys and errors as without; then a parser with the small
  // limits on the same cache, against one with those limits and no cache
  // (a kept section may hold more tags than it allows).
  liandu::ingest::series_key_cache cache(4096);
  outcome plain{points, errors};
  check(same(parse_with(body, prec, limits, &cache), plain));
  check(same(parse_with(body, prec, limits, &cache), plain));
  line_protocol_limits small{64, 3, 4};
  check(same(parse_with(body, prec, small, &cache), parse_with(body, prec, small, nullptr)));

  std::string again;
  for (const point& p : points) {
    check(!p.measurement.empty() && !p.fields.empty());
    check(p.tags.size() <= limits.max_tags && p.fields.size() <= limits.max_fields);
    for (size_t i = 1; i < p.tags.size(); ++i) check(p.tags[i - 1].key < p.tags[i].key);
    liandu::ingest::append_line(again, p);
  }
  // Serialised lines may be longer than the input (booleans spelled out, ns
  // timestamps), so the second parse has room to spare.
  line_protocol_parser reparser(liandu::model::precision::ns, {1u << 20, 1u << 16, 1u << 16});
  std::vector<point> back;
  std::vector<line_error> back_errors;
  reparser.parse(
      again, 7, [&back](const point_ref& r) { back.push_back(to_point(r)); }, back_errors);
  check(back_errors.empty());
  check(back == points);
  return 0;
}
