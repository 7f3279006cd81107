// Parses arbitrary bytes as InfluxQL. Whatever parses must format back to
// text that parses again and formats to the same text (the formatter is what
// SHOW CONTINUOUS QUERIES prints and what CQ definitions are stored as).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "query/influxql/ast.h"
#include "query/influxql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = liandu::query::influxql::parse_query(text);
  if (!parsed.ok()) return 0;
  std::string once = liandu::query::influxql::format(*parsed);
  auto again = liandu::query::influxql::parse_query(once);
  if (!again.ok()) {
    std::fprintf(stderr, "formatted query does not parse:\n%s\n%s\n", once.c_str(),
                 again.error().message().c_str());
    std::abort();
  }
  std::string twice = liandu::query::influxql::format(*again);
  if (twice != once) {
    std::fprintf(stderr, "format is not stable:\n%s\n%s\n", once.c_str(), twice.c_str());
    std::abort();
  }
  return 0;
}
