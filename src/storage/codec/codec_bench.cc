// Encode and decode throughput of the column codecs on one day of 10 s
// samples (8640 values) shaped like plant data. items_per_second counts
// values; bytes_per_value is the encoded size. The *_short cases encode one
// column of 20, 100 or 700 values, the length a checkpoint writes per series
// and block, where the fixed cost of planning a column weighs most.

#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "storage/codec/bool_codec.h"
#include "storage/codec/float_codec.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/string_codec.h"
#include "storage/codec/testing/sample_columns.h"
#include "storage/codec/timestamp_codec.h"

namespace liandu::storage::codec {
namespace {

constexpr size_t day = 8640;

template <typename T, typename Encode>
void encode_bench(benchmark::State& state, const std::vector<T>& values, Encode encode) {
  std::string buf;
  for (auto _ : state) {
    buf.clear();
    encode(values.data(), values.size(), buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * values.size()));
  state.counters["bytes_per_value"] = static_cast<double>(buf.size()) / static_cast<double>(values.size());
}

template <typename T, typename Encode, typename Decode>
void decode_bench(benchmark::State& state, const std::vector<T>& values, Encode encode, Decode decode) {
  std::string buf;
  encode(values.data(), values.size(), buf);
  std::vector<T> out;
  out.reserve(values.size());
  for (auto _ : state) {
    out.clear();
    if (!decode(buf, values.size(), out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * values.size()));
  state.counters["bytes_per_value"] = static_cast<double>(buf.size()) / static_cast<double>(values.size());
}

const std::vector<int64_t>& regular_ts() {
  static const auto v = testing::regular_timestamps_for_test(day);
  return v;
}
const std::vector<int64_t>& jittered_ts() {
  static const auto v = testing::jittered_timestamps_for_test(day, 1'000'000);
  return v;
}
const std::vector<double>& walk() {
  static const auto v = testing::random_walk_for_test(day, 2, 10);
  return v;
}
const std::vector<double>& noisy() {
  static const auto v = testing::noisy_for_test(day);
  return v;
}
const std::vector<int64_t>& counter() {
  static const auto v = [] {
    std::vector<int64_t> c;
    for (double x : testing::counter_for_test(day, 3)) c.push_back(static_cast<int64_t>(x));
    return c;
  }();
  return v;
}
const std::vector<uint64_t>& ucounter() {
  static const std::vector<uint64_t> v(counter().begin(), counter().end());
  return v;
}
const std::vector<uint8_t>& running() {
  static const auto v = [] {
    std::vector<uint8_t> r(day, 1);
    for (size_t i = 3000; i < 3400; ++i) r[i] = 0;
    return r;
  }();
  return v;
}
const std::vector<uint8_t>& coin() {
  static const auto v = [] {
    std::vector<uint8_t> r(day);
    for (size_t i = 0; i < day; ++i) r[i] = static_cast<uint8_t>((i * 2654435761u >> 7) & 1);
    return r;
  }();
  return v;
}
const std::vector<std::string>& states() {
  static const auto v = testing::state_names_for_test(day, 200);
  return v;
}
const std::vector<std::string>& lots() {
  static const auto v = testing::lot_numbers_for_test(day);
  return v;
}

void timestamps_regular_encode(benchmark::State& s) { encode_bench(s, regular_ts(), encode_timestamps); }
void timestamps_regular_decode(benchmark::State& s) {
  decode_bench(s, regular_ts(), encode_timestamps, decode_timestamps);
}
void timestamps_jitter_1ms_encode(benchmark::State& s) { encode_bench(s, jittered_ts(), encode_timestamps); }
void timestamps_jitter_1ms_decode(benchmark::State& s) {
  decode_bench(s, jittered_ts(), encode_timestamps, decode_timestamps);
}
void floats_walk_2_decimals_encode(benchmark::State& s) { encode_bench(s, walk(), encode_floats); }
void floats_walk_2_decimals_decode(benchmark::State& s) {
  decode_bench(s, walk(), encode_floats, decode_floats);
}
void floats_noisy_gorilla_encode(benchmark::State& s) { encode_bench(s, noisy(), encode_floats); }
void floats_noisy_gorilla_decode(benchmark::State& s) {
  decode_bench(s, noisy(), encode_floats, decode_floats);
}
void integers_counter_encode(benchmark::State& s) { encode_bench(s, counter(), encode_integers); }
void integers_counter_decode(benchmark::State& s) {
  decode_bench(s, counter(), encode_integers, decode_integers);
}
void unsigneds_counter_encode(benchmark::State& s) { encode_bench(s, ucounter(), encode_unsigneds); }
void unsigneds_counter_decode(benchmark::State& s) {
  decode_bench(s, ucounter(), encode_unsigneds, decode_unsigneds);
}
// A sensor random walk (2 decimals, steps of up to 0.10) of state.range(0)
// values, as scaled integers and as the floats that become them.
std::vector<int64_t> scaled_walk(size_t n) {
  std::vector<int64_t> v;
  for (double x : testing::random_walk_for_test(n, 2, 10)) v.push_back(std::llround(x * 100));
  return v;
}
void integers_walk_short_encode(benchmark::State& s) {
  encode_bench(s, scaled_walk(static_cast<size_t>(s.range(0))), encode_integers);
}
void floats_walk_short_encode(benchmark::State& s) {
  encode_bench(s, testing::random_walk_for_test(static_cast<size_t>(s.range(0)), 2, 10), encode_floats);
}
void integers_counter_short_encode(benchmark::State& s) {
  const std::vector<int64_t> v(counter().begin(), counter().begin() + s.range(0));
  encode_bench(s, v, encode_integers);
}

void booleans_runs_encode(benchmark::State& s) { encode_bench(s, running(), encode_booleans); }
void booleans_runs_decode(benchmark::State& s) {
  decode_bench(s, running(), encode_booleans, decode_booleans);
}
void booleans_random_encode(benchmark::State& s) { encode_bench(s, coin(), encode_booleans); }
void booleans_random_decode(benchmark::State& s) {
  decode_bench(s, coin(), encode_booleans, decode_booleans);
}
void strings_states_encode(benchmark::State& s) { encode_bench(s, states(), encode_strings); }
void strings_states_decode(benchmark::State& s) { decode_bench(s, states(), encode_strings, decode_strings); }
void strings_lots_encode(benchmark::State& s) { encode_bench(s, lots(), encode_strings); }
void strings_lots_decode(benchmark::State& s) { decode_bench(s, lots(), encode_strings, decode_strings); }

BENCHMARK(timestamps_regular_encode);
BENCHMARK(timestamps_regular_decode);
BENCHMARK(timestamps_jitter_1ms_encode);
BENCHMARK(timestamps_jitter_1ms_decode);
BENCHMARK(floats_walk_2_decimals_encode);
BENCHMARK(floats_walk_2_decimals_decode);
BENCHMARK(floats_noisy_gorilla_encode);
BENCHMARK(floats_noisy_gorilla_decode);
BENCHMARK(integers_counter_encode);
BENCHMARK(integers_counter_decode);
BENCHMARK(unsigneds_counter_encode);
BENCHMARK(unsigneds_counter_decode);
BENCHMARK(integers_walk_short_encode)->Arg(20)->Arg(100)->Arg(700);
BENCHMARK(floats_walk_short_encode)->Arg(20)->Arg(100)->Arg(700);
BENCHMARK(integers_counter_short_encode)->Arg(20)->Arg(100)->Arg(700);
BENCHMARK(booleans_runs_encode);
BENCHMARK(booleans_runs_decode);
BENCHMARK(booleans_random_encode);
BENCHMARK(booleans_random_decode);
BENCHMARK(strings_states_encode);
BENCHMARK(strings_states_decode);
BENCHMARK(strings_lots_encode);
BENCHMARK(strings_lots_decode);

}  // namespace
}  // namespace liandu::storage::codec
