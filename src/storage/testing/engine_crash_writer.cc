// Child process of engine_crash_test: opens the engine in argv[1], writes
// batches forever and prints "ack <batch>" after each write() returns (that
// is, once the batch is durable). The parent kills it with SIGKILL.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/engine.h"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  using namespace liandu;
  storage::engine_options o;
  o.data_dir = argv[1];
  o.checkpoint_bytes = 256 << 10;  // checkpoint often, so kills land inside them too
  o.background_interval_ms = 5;
  int first = std::atoi(argv[2]);
  auto e = storage::engine::open(o);
  if (!e.ok()) {
    std::fprintf(stderr, "open: %s\n", e.error().to_string().c_str());
    return 1;
  }
  (void)(*e)->create_database("db");
  for (int b = first;; ++b) {
    storage::write_batch batch("db", "");
    for (int i = 0; i < 100; ++i) {
      model::point p{"m", {{"s", std::to_string(i % 10)}}, {{"v", double(b)}, {"i", int64_t{i}}},
                     int64_t{b} * 1000 + i};
      batch.add(p);
    }
    auto r = (*e)->write(batch);
    if (!r.st.ok()) {
      std::fprintf(stderr, "write: %s\n", r.st.to_string().c_str());
      return 1;
    }
    std::printf("ack %d\n", b);
    std::fflush(stdout);
  }
}
