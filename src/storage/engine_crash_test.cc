// Kill -9 test: a child writes and reports what was acknowledged; we kill it
// at random moments, reopen the engine and check every acknowledged point.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "storage/engine.h"
#include "storage/testing/temp_dir.h"

namespace liandu::storage {
namespace {

TEST(engine_crash, every_acknowledged_point_survives_sigkill) {
  testing::temp_dir tmp;
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  std::set<int> acked;
  int next = 0;
  const int cycles = 20;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      execl(LIANDU_CRASH_WRITER, LIANDU_CRASH_WRITER, tmp.path().c_str(), std::to_string(next).c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    FILE* f = fdopen(fds[0], "r");
    char line[64];
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      int b;
      if (std::sscanf(line, "ack %d", &b) == 1) {
        acked.insert(b);
        next = std::max(next, b + 1);
      }
    }
    std::fclose(f);
    ++next;  // a batch that was in flight may or may not be there; never reuse its number

    engine_options o;
    o.data_dir = tmp.path();
    o.background = false;
    auto e = engine::open(o);
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    auto series = (*e)->series("db", "m");
    if (!series.ok()) {
      // A kill before the writer's first batch was durable (it happens on a
      // slow, sanitized start) can leave no database and no measurement yet;
      // that is only correct if nothing was ever acknowledged.
      ASSERT_TRUE(acked.empty()) << "cycle " << cycle << ": " << series.error().to_string();
      continue;
    }
    std::set<int64_t> times;
    for (const auto& s : *series) {
      column c;
      ASSERT_TRUE((*e)->scan("db", "", s.id, "v", INT64_MIN, INT64_MAX, c).ok());
      for (size_t k = 0; k < c.size(); ++k) {
        times.insert(c.times[k]);
        EXPECT_EQ(c.floats[k], double(c.times[k] / 1000));
      }
    }
    for (int b : acked) {
      for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(times.count(int64_t{b} * 1000 + i)) << "cycle " << cycle << ": lost acked batch " << b;
      }
    }
  }
  EXPECT_GT(acked.size(), 20u) << "the writer should have acknowledged many batches";
}

}  // namespace
}  // namespace liandu::storage
