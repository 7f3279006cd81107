// Parses arbitrary bytes as a live subscription (/api/v1/live?q=) and runs
// whatever compiles against a few points: no crash, no hang, and a filter
// that keeps every field says so consistently.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "http/handlers/live_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace liandu;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto f = http::handlers::live_filter::parse(text);
  if (!f.ok()) return 0;
  const std::vector<model::tag> tags = {{"line", "l1"}, {"machine", "m07"}};
  const std::vector<model::field_view> fields = {{"temperature", 91.5},
                                                 {"count", int64_t{-3}},
                                                 {"n", uint64_t{7}},
                                                 {"ok", true},
                                                 {"state", std::string_view("up")}};
  const std::vector<model::field_view> none;
  (void)(*f)->measurement_matches("machine");
  (void)(*f)->matches(tags, fields);
  (void)(*f)->matches({}, none);
  if ((*f)->keeps_all_fields() && !(*f)->keeps_field("anything")) std::abort();
  return 0;
}
