// In-process benchmarks of storage::engine on the bench/workloads.h data:
//
//   ingest/<workload>/{parse,prebuilt}  durable writes (WAL group commit) of
//       5,000-line batches from one writer thread, with and without the
//       line-protocol parse; field values per second of wall time and per
//       second of process CPU time.
//   bytes_per_value/<workload>   block-file bytes per field value after a
//       checkpoint, as written and after compacting each partition into one block.
//   cardinality/<series>         ingest rate at 10k vs 1M series, and index,
//       head and RSS bytes per series.
//   scan_sum/{blocks,head}       engine::scan of one float field over 1,000
//       series x 10,000 points (10M values), summed.
//   last_point/{all,1h}          the last value of each of the 1,000 series.
//
// Usage: engine_bench [--full] [--tmp=DIR] [--reps=N] [--scan-iters=N] [--markdown=FILE]
//                     [google benchmark flags, e.g. --benchmark_filter=ingest]
//   --full      bigger data sets (a day of trucks and factory data for bytes per value)
//   --tmp       where the engines' data folders go (default $TMPDIR or /tmp)
//   --scan-iters  timed passes of the scan and last-point cases (default 7)
//   --ingest-ticks  ticks of data in the ingest cases (smaller for profiling)
//   --markdown  also write a table of the medians of every counter to FILE
//
// Each case runs --reps times (default 3) on a fresh engine; Google Benchmark
// prints mean, median and stddev, and the markdown table has the medians.

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "ingest/line_protocol.h"
#include "ingest/point_writer.h"
#include "storage/engine.h"
#include "storage/write_batch.h"
#include "workloads.h"

namespace liandu::bench {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr size_t batch_lines = 5000;
constexpr const char* db_name = "bench";

struct config {
  bool full = false;
  std::string tmp_root;
  int reps = 3;
  int scan_iters = 7;
  int ingest_ticks = 0;  // 0: the default; small values for profiling runs
  std::string markdown;
};
config cfg;

// ------------------------------------------------------------------ helpers

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "engine_bench: %s\n", what.c_str());
  std::exit(1);
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

double cpu_seconds(clockid_t which) {
  timespec ts{};
  clock_gettime(which, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double process_cpu_seconds() { return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID); }
double thread_cpu_seconds() { return cpu_seconds(CLOCK_THREAD_CPUTIME_ID); }

// Resident set size from /proc/self/statm (second field, in pages).
uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// A fresh folder for one engine, removed with everything in it afterwards.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = cfg.tmp_root + "/liandu-engine-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) die("mkdtemp " + pattern + " failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<storage::engine> open_engine(const std::string& dir, storage::engine_options o = {}) {
  o.data_dir = dir;
  auto e = storage::engine::open(std::move(o));
  if (!e.ok()) die("cannot open engine in " + dir + ": " + e.error().to_string());
  auto engine = std::move(e).value();
  if (!engine->has_database(db_name)) {
    status s = engine->create_database(db_name);
    if (!s.ok()) die("create_database: " + s.to_string());
  }
  return engine;
}

// Writes one batch; when the head is over its memory budget (the engine
// answers limit_exceeded, HTTP would say 503) waits for the checkpoint and
// retries, counting the stalls.
void must_write(storage::engine& e, const storage::write_batch& b, uint64_t& stalls) {
  for (;;) {
    storage::write_result r = e.write(b);
    if (r.st.ok()) {
      if (!r.rejected.empty()) die("write rejected points: " + r.rejected.front().message);
      return;
    }
    if (r.st.code() != errc::limit_exceeded) die("write failed: " + r.st.to_string());
    ++stalls;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void must_write_lp(storage::engine& e, std::string_view body, uint64_t& stalls) {
  for (;;) {
    ingest::write_outcome out = ingest::write_line_protocol(e, db_name, "", model::precision::ns, body, 0);
    if (out.st.ok()) {
      if (out.partial()) {
        die("partial write: " +
            (out.parse_errors.empty() ? out.storage_errors.front() : out.parse_errors.front().message));
      }
      return;
    }
    if (out.st.code() != errc::limit_exceeded) die("write failed: " + out.st.to_string());
    ++stalls;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Parses a body into a batch, as write_line_protocol does.
storage::write_batch to_batch(ingest::line_protocol_parser& parser, std::string_view body) {
  storage::write_batch b(db_name, "");
  std::vector<ingest::line_error> errors;
  parser.parse(
      body, 0,
      [&](const ingest::point_ref& p) {
        b.add(p.measurement, p.tags, p.tag_count, p.fields, p.field_count, p.time);
      },
      errors);
  if (!errors.empty()) die("generated line protocol does not parse: " + errors.front().message);
  return b;
}

// Medians for the markdown table: case name -> counter -> one value per repetition.
std::map<std::string, std::map<std::string, std::vector<double>>> recorded;
std::vector<std::string> recorded_order;

void record(benchmark::State& state, const std::string& name, const std::string& counter, double v) {
  state.counters[counter] = v;
  if (!recorded.count(name)) recorded_order.push_back(name);
  recorded[name][counter].push_back(v);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ------------------------------------------------------------------ ingest

workload_options ingest_options(workload_kind kind) {
  workload_options o;
  o.kind = kind;
  if (kind == workload_kind::trucks) {
    o.scale = 1000;
    o.ticks = cfg.full ? 2160 : 720;  // 6 h or 2 h: 2,000 lines and 13,000 values per tick
  } else {
    o.scale = 10000;
    o.ticks = cfg.full ? 1080 : 360;  // 3 h or 1 h: 10,000 lines and values per tick
  }
  if (cfg.ingest_ticks > 0) o.ticks = cfg.ingest_ticks;
  return o;
}

// The data of the ingest cases, generated once per workload (outside the
// timing) and kept both as line protocol and as encoded batches.
struct ingest_data {
  workload_kind kind;
  std::vector<std::string> bodies;
  std::vector<uint64_t> values;  // field values per body
  std::vector<storage::write_batch> batches;
  uint64_t lines = 0;
  uint64_t total_values = 0;
  uint64_t body_bytes = 0;
};

std::unique_ptr<ingest_data> cached_ingest_data;

void drop_ingest_data() {
  cached_ingest_data.reset();
  malloc_trim(0);
}

ingest_data& ingest_data_for(workload_kind kind) {
  auto& cached = cached_ingest_data;
  if (cached && cached->kind == kind) return *cached;
  drop_ingest_data();
  auto d = std::make_unique<ingest_data>();
  d->kind = kind;
  auto gen = make_generator(ingest_options(kind));
  ingest::line_protocol_parser parser;
  for (;;) {
    std::string body;
    uint64_t before = gen->values_emitted();
    size_t n = gen->next_batch(batch_lines, body);
    if (n == 0) break;
    d->lines += n;
    d->values.push_back(gen->values_emitted() - before);
    d->body_bytes += body.size();
    d->batches.push_back(to_batch(parser, body));
    d->bodies.push_back(std::move(body));
  }
  d->total_values = gen->values_emitted();
  cached = std::move(d);
  return *cached;
}

// writers > 1: that many threads share the batches (taken in order), so one
// thread's apply overlaps another's fsync; the group commit then syncs for both.
void bm_ingest(benchmark::State& state, workload_kind kind, bool prebuilt, int writers) {
  ingest_data& data = ingest_data_for(kind);
  std::string name = std::string("ingest/") + workload_name(kind) + (prebuilt ? "/prebuilt" : "/parse");
  if (writers > 1) name += "/writers:" + std::to_string(writers);
  for (auto _ : state) {
    temp_dir dir;
    auto engine = open_engine(dir.path());
    std::atomic<uint64_t> stalls{0};
    std::atomic<size_t> next{0};
    auto work = [&] {
      uint64_t mine = 0;
      for (size_t i = next++; i < data.bodies.size(); i = next++) {
        if (prebuilt) {
          must_write(*engine, data.batches[i], mine);
        } else {
          must_write_lp(*engine, data.bodies[i], mine);
        }
      }
      stalls += mine;
    };
    double cpu0 = process_cpu_seconds();
    auto t0 = clock_type::now();
    std::vector<std::thread> threads;
    for (int w = 1; w < writers; ++w) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    double secs = seconds_since(t0);
    double cpu = process_cpu_seconds() - cpu0;
    state.SetIterationTime(secs);
    storage::engine_stats st = engine->stats();
    double values = static_cast<double>(data.total_values);
    record(state, name, "values_per_s", values / secs);
    record(state, name, "points_per_s", static_cast<double>(data.lines) / secs);
    record(state, name, "values_per_cpu_s", values / cpu);
    record(state, name, "cpu_cores_used", cpu / secs);
    record(state, name, "fsyncs", static_cast<double>(st.wal_fsyncs));
    record(state, name, "fsync_ms_mean",
           st.wal_fsyncs == 0
               ? 0
               : static_cast<double>(st.wal_fsync_nanos) / 1e6 / static_cast<double>(st.wal_fsyncs));
    record(state, name, "checkpoints", static_cast<double>(st.checkpoints));
    record(state, name, "stalls", static_cast<double>(stalls.load()));
    record(state, name, "values", values);
    if (!prebuilt) {
      record(state, name, "lp_MB_per_s", static_cast<double>(data.body_bytes) / secs / 1e6);
    }
  }
}

// ---------------------------------------------------------- bytes per value

void bm_bytes_per_value(benchmark::State& state, workload_kind kind) {
  workload_options o;
  o.kind = kind;
  o.scale = kind == workload_kind::trucks ? 1000 : 10000;
  o.ticks = cfg.full ? 8640 : 2160;  // a day or 6 hours at 10 s
  const std::string name = std::string("bytes_per_value/") + workload_name(kind);
  drop_ingest_data();
  for (auto _ : state) {
    temp_dir dir;
    auto gen = make_generator(o);
    uint64_t stalls = 0;
    double write_secs = 0;
    {
      auto engine = open_engine(dir.path());
      std::string body;
      while (true) {
        body.clear();
        if (gen->next_batch(batch_lines, body) == 0) break;
        auto t0 = clock_type::now();
        must_write_lp(*engine, body, stalls);
        write_secs += seconds_since(t0);
      }
      status s = engine->checkpoint();
      if (!s.ok()) die("checkpoint: " + s.to_string());
      storage::engine_stats st = engine->stats();
      double values = static_cast<double>(gen->values_emitted());
      record(state, name, "values", values);
      record(state, name, "series", static_cast<double>(gen->series_count()));
      record(state, name, "hours", static_cast<double>(o.ticks) * 10 / 3600);
      record(state, name, "ingest_values_per_s", values / write_secs);
      record(state, name, "block_files", static_cast<double>(st.block_files));
      record(state, name, "block_bytes_per_value", static_cast<double>(st.block_bytes) / values);
      record(state, name, "dir_bytes_per_value", static_cast<double>(dir_bytes(dir.path())) / values);
    }
    // Reopen with compaction of every partition that has a block, and
    // checkpoint: each partition ends as one block, the steady state of old data.
    storage::engine_options co;
    co.compact_after_blocks = 0;
    auto t0 = clock_type::now();
    auto engine = open_engine(dir.path(), co);
    status s = engine->checkpoint();
    if (!s.ok()) die("compacting checkpoint: " + s.to_string());
    double compact_secs = seconds_since(t0);
    storage::engine_stats st = engine->stats();
    double values = static_cast<double>(gen->values_emitted());
    record(state, name, "compacted_block_files", static_cast<double>(st.block_files));
    record(state, name, "compacted_bytes_per_value", static_cast<double>(st.block_bytes) / values);
    record(state, name, "compacted_dir_bytes_per_value", static_cast<double>(dir_bytes(dir.path())) / values);
    record(state, name, "compact_s", compact_secs);
    state.SetIterationTime(write_secs);
  }
}

// -------------------------------------------------------------- cardinality

void bm_cardinality(benchmark::State& state, size_t series) {
  // The same number of lines (3M) either way: 10k series x 300 points, or
  // 1M series x 3 points (the first pass creates every series).
  drop_ingest_data();
  workload_options o;
  o.kind = workload_kind::factory;
  o.scale = series;
  o.ticks = static_cast<int64_t>(3'000'000 / series);
  std::vector<std::string> bodies;
  {
    auto gen = make_generator(o);
    std::string body;
    while (gen->next_batch(batch_lines, body) > 0) {
      bodies.push_back(std::move(body));
      body.clear();
    }
  }
  const size_t batches_per_tick = (series + batch_lines - 1) / batch_lines;
  const std::string name = "cardinality/" + std::to_string(series);
  for (auto _ : state) {
    temp_dir dir;
    malloc_trim(0);
    uint64_t rss0 = rss_bytes();
    // Everything stays in the head, so that head_bytes is the memory of the
    // series' data and nothing is checkpointed in the middle of the timing.
    storage::engine_options eo;
    eo.background = false;
    eo.checkpoint_bytes = 64ull << 30;
    eo.head_memory_limit = 64ull << 30;
    auto engine = open_engine(dir.path(), eo);
    uint64_t stalls = 0;
    double first_tick_secs = 0, total_secs = 0;
    for (size_t i = 0; i < bodies.size(); ++i) {
      auto t0 = clock_type::now();
      must_write_lp(*engine, bodies[i], stalls);
      double s = seconds_since(t0);
      total_secs += s;
      if (i < batches_per_tick) first_tick_secs += s;
    }
    uint64_t rss1 = rss_bytes();
    storage::engine_stats st = engine->stats();
    double n = static_cast<double>(series);
    double lines = 3'000'000;
    state.SetIterationTime(total_secs);
    record(state, name, "values_per_s", lines / total_secs);
    record(state, name, "new_series_per_s", n / first_tick_secs);
    record(state, name, "values_per_s_known_series",
           (lines - n) / std::max(1e-9, total_secs - first_tick_secs));
    record(state, name, "index_bytes_per_series", static_cast<double>(st.index_bytes) / n);
    record(state, name, "head_bytes_per_series", static_cast<double>(st.head_bytes) / n);
    record(state, name, "rss_bytes_per_series", static_cast<double>(rss1 - std::min(rss0, rss1)) / n);
    // After a checkpoint the head is empty: what a series costs at rest.
    status s = engine->checkpoint();
    if (!s.ok()) die("checkpoint: " + s.to_string());
    malloc_trim(0);
    uint64_t rss2 = rss_bytes();
    st = engine->stats();
    record(state, name, "index_bytes_per_series_after_checkpoint", static_cast<double>(st.index_bytes) / n);
    record(state, name, "rss_bytes_per_series_after_checkpoint",
           static_cast<double>(rss2 - std::min(rss0, rss2)) / n);
  }
}

// -------------------------------------------------------------------- reads

constexpr size_t query_series = 1000;
constexpr int64_t query_points = 10000;
constexpr int64_t query_interval_ns = 10 * second_ns;

// 1,000 series x 10,000 points (27.8 h at 10 s) of one float field with one
// decimal, as 5,000-point batches.
void write_query_data(storage::engine& e) {
  rng r(42);
  std::vector<int64_t> level(query_series);
  for (auto& l : level) l = r.between(0, 10000);
  std::vector<std::string> names(query_series);
  for (size_t i = 0; i < query_series; ++i) {
    names[i].push_back('s');  // not "s" + std::to_string(i): a false GCC 12 -Wrestrict warning
    append_int(names[i], static_cast<int64_t>(i));
  }
  uint64_t stalls = 0;
  storage::write_batch b(db_name, "");
  for (int64_t t = 0; t < query_points; ++t) {
    for (size_t i = 0; i < query_series; ++i) {
      level[i] += r.step(5);
      model::tag_view tag{"id", names[i]};
      model::field_view f{"value", static_cast<double>(level[i]) / 10};
      b.add("metric", &tag, 1, &f, 1, default_start_ns + t * query_interval_ns);
      if (b.point_count() == batch_lines) {
        must_write(e, b, stalls);
        b = storage::write_batch(db_name, "");
      }
    }
  }
  if (!b.empty()) must_write(e, b, stalls);
}

struct query_fixture {
  std::unique_ptr<temp_dir> dir;
  std::unique_ptr<storage::engine> engine;
  std::vector<uint32_t> ids;
};

std::vector<uint32_t> series_ids(storage::engine& e) {
  auto s = e.series(db_name, "metric");
  if (!s.ok()) die("series: " + s.error().to_string());
  std::vector<uint32_t> ids;
  for (const auto& ref : *s) ids.push_back(ref.id);
  if (ids.size() != query_series) die("expected 1000 series, found " + std::to_string(ids.size()));
  return ids;
}

// in_blocks: checkpointed and compacted into one block file (then read once,
// so it sits in the page cache); otherwise everything is in the active head.
query_fixture& query_data(bool in_blocks) {
  static std::map<bool, query_fixture> fixtures;
  auto it = fixtures.find(in_blocks);
  if (it != fixtures.end()) return it->second;
  fixtures.clear();  // one data set in memory at a time
  drop_ingest_data();
  query_fixture f;
  f.dir = std::make_unique<temp_dir>();
  storage::engine_options eo;
  eo.background = false;
  eo.checkpoint_bytes = 64ull << 30;
  eo.head_memory_limit = 64ull << 30;
  {
    auto e = open_engine(f.dir->path(), eo);
    write_query_data(*e);
    if (in_blocks) {
      status s = e->checkpoint();
      if (!s.ok()) die("checkpoint: " + s.to_string());
    } else {
      f.engine = std::move(e);
    }
  }
  if (in_blocks) {
    storage::engine_options co = eo;
    co.compact_after_blocks = 0;
    f.engine = open_engine(f.dir->path(), co);
    status s = f.engine->checkpoint();
    if (!s.ok()) die("compacting checkpoint: " + s.to_string());
  }
  f.ids = series_ids(*f.engine);
  return fixtures.emplace(in_blocks, std::move(f)).first->second;
}

void bm_scan_sum(benchmark::State& state, bool in_blocks) {
  query_fixture& f = query_data(in_blocks);
  const std::string name = std::string("scan_sum/") + (in_blocks ? "blocks" : "head");
  storage::column col;
  std::vector<double> ms, cpu_ms;
  double sum = 0;
  size_t values = 0;
  for (auto _ : state) {
    auto t0 = clock_type::now();
    double c0 = thread_cpu_seconds();
    sum = 0;
    values = 0;
    for (uint32_t id : f.ids) {
      col.clear();
      status s = f.engine->scan(db_name, "", id, "value", std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max(), col);
      if (!s.ok()) die("scan: " + s.to_string());
      sum = std::accumulate(col.floats.begin(), col.floats.end(), sum);
      values += col.size();
    }
    benchmark::DoNotOptimize(sum);
    double secs = seconds_since(t0);
    ms.push_back(secs * 1e3);
    cpu_ms.push_back((thread_cpu_seconds() - c0) * 1e3);
    state.SetIterationTime(secs);
  }
  if (values != query_series * query_points) die("scan_sum read " + std::to_string(values) + " values");
  record(state, name, "values", static_cast<double>(values));
  record(state, name, "ms", median(ms));
  record(state, name, "cpu_ms", median(cpu_ms));
  record(state, name, "values_per_s", static_cast<double>(values) / (median(ms) / 1e3));
}

void bm_last_point(benchmark::State& state, bool last_hour_only) {
  query_fixture& f = query_data(true);
  const std::string name = std::string("last_point/") + (last_hour_only ? "1h" : "all");
  const int64_t end = default_start_ns + query_points * query_interval_ns;
  const int64_t lo = last_hour_only ? end - 3600 * second_ns : std::numeric_limits<int64_t>::min();
  storage::column col;
  std::vector<double> ms, cpu_ms;
  double sum = 0;
  for (auto _ : state) {
    auto t0 = clock_type::now();
    double c0 = thread_cpu_seconds();
    for (uint32_t id : f.ids) {
      col.clear();
      status s = f.engine->scan(db_name, "", id, "value", lo, std::numeric_limits<int64_t>::max(), col);
      if (!s.ok()) die("scan: " + s.to_string());
      if (col.size() == 0) die("no last point");
      sum += col.floats.back();
    }
    benchmark::DoNotOptimize(sum);
    double secs = seconds_since(t0);
    ms.push_back(secs * 1e3);
    cpu_ms.push_back((thread_cpu_seconds() - c0) * 1e3);
    state.SetIterationTime(secs);
  }
  record(state, name, "series", static_cast<double>(f.ids.size()));
  record(state, name, "ms", median(ms));
  record(state, name, "cpu_ms", median(cpu_ms));
}

// ------------------------------------------------------------------ driver

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  for (workload_kind k : {workload_kind::trucks, workload_kind::factory}) {
    for (bool prebuilt : {false, true}) {
      reg(std::string("ingest/") + workload_name(k) + (prebuilt ? "/prebuilt" : "/parse"),
          [k, prebuilt](benchmark::State& s) { bm_ingest(s, k, prebuilt, 1); })
          ->Iterations(1)
          ->Repetitions(cfg.reps);
    }
    reg(std::string("ingest/") + workload_name(k) + "/parse/writers:2",
        [k](benchmark::State& s) { bm_ingest(s, k, false, 2); })
        ->Iterations(1)
        ->Repetitions(cfg.reps);
  }
  for (workload_kind k : {workload_kind::trucks, workload_kind::factory}) {
    reg(std::string("bytes_per_value/") + workload_name(k),
        [k](benchmark::State& s) { bm_bytes_per_value(s, k); })
        ->Iterations(1)
        ->Repetitions(1);  // deterministic data: the size is the same every time
  }
  for (size_t n : {size_t{10000}, size_t{1000000}}) {
    reg("cardinality/" + std::to_string(n), [n](benchmark::State& s) { bm_cardinality(s, n); })
        ->Iterations(1)
        ->Repetitions(cfg.reps);
  }
  for (bool blocks : {false, true}) {
    reg(std::string("scan_sum/") + (blocks ? "blocks" : "head"), [blocks](benchmark::State& s) {
      bm_scan_sum(s, blocks);
    })->Iterations(cfg.scan_iters);
  }
  for (bool hour : {false, true}) {
    reg(std::string("last_point/") + (hour ? "1h" : "all"), [hour](benchmark::State& s) {
      bm_last_point(s, hour);
    })->Iterations(7);
  }
}

void write_markdown() {
  if (cfg.markdown.empty()) return;
  std::ofstream out(cfg.markdown);
  out << "| case | counter | median | runs |\n|---|---|---:|---:|\n";
  for (const auto& name : recorded_order) {
    for (const auto& [counter, values] : recorded[name]) {
      char buf[64];
      double m = median(values);
      std::snprintf(buf, sizeof(buf), m >= 1000 ? "%.0f" : "%.3g", m);
      out << "| " << name << " | " << counter << " | " << buf << " | " << values.size() << " |\n";
    }
  }
}

}  // namespace
}  // namespace liandu::bench

int main(int argc, char** argv) {
  using liandu::bench::cfg;
  const char* tmp = std::getenv("TMPDIR");
  cfg.tmp_root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--full") {
      cfg.full = true;
    } else if (a.starts_with("--tmp=")) {
      cfg.tmp_root = std::string(a.substr(6));
    } else if (a.starts_with("--reps=")) {
      cfg.reps = std::max(1, std::atoi(argv[i] + 7));
    } else if (a.starts_with("--scan-iters=")) {
      cfg.scan_iters = std::max(1, std::atoi(argv[i] + 13));
    } else if (a.starts_with("--ingest-ticks=")) {
      cfg.ingest_ticks = std::max(1, std::atoi(argv[i] + 15));
    } else if (a.starts_with("--markdown=")) {
      cfg.markdown = std::string(a.substr(11));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  liandu::bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  liandu::bench::write_markdown();
  return 0;
}
