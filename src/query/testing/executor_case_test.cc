// Runs the InfluxQL case files under tests/query (DuckDB sqllogictest style).
//
//   # comment
//   db <name>             create the database and make it the default
//   now <RFC3339>         the query clock
//   epoch <unit>|epoch    time format of the JSON (none = RFC3339)
//   write                 line-protocol points until a blank line; the
//                         timestamp may be RFC3339 for readability
//   query                 query text until "----", then the exact expected
//                         JSON body until a blank line
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "query/executor/continuous_query.h"
#include "query/executor/executor.h"
#include "query/executor/internal.h"
#include "query/testing/memory_storage.h"

namespace liandu::query {
namespace {

model::field_value parse_lp_value(const std::string& v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  if (v == "t" || v == "true" || v == "T" || v == "TRUE") return true;
  if (v == "f" || v == "false" || v == "F" || v == "FALSE") return false;
  if (!v.empty() && v.back() == 'i') return static_cast<int64_t>(std::stoll(v.substr(0, v.size() - 1)));
  if (!v.empty() && v.back() == 'u') return static_cast<uint64_t>(std::stoull(v.substr(0, v.size() - 1)));
  return std::stod(v);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (c == sep && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

// A small line-protocol reader for test data: no escapes, no spaces in strings.
model::point parse_lp(const std::string& line) {
  auto parts = split(line, ' ');
  model::point p;
  auto key = split(parts.at(0), ',');
  p.measurement = key[0];
  for (size_t i = 1; i < key.size(); ++i) {
    auto eq = key[i].find('=');
    p.tags.push_back({key[i].substr(0, eq), key[i].substr(eq + 1)});
  }
  std::sort(p.tags.begin(), p.tags.end(),
            [](const model::tag& a, const model::tag& b) { return a.key < b.key; });
  for (const auto& f : split(parts.at(1), ',')) {
    auto eq = f.find('=');
    p.fields.push_back({f.substr(0, eq), parse_lp_value(f.substr(eq + 1))});
  }
  if (parts.size() > 2) {
    const std::string& t = parts[2];
    if (t.find('-') != std::string::npos && t.find('T') != std::string::npos) {
      EXPECT_TRUE(exec::parse_time_string(t, p.time)) << t;
    } else {
      p.time = std::stoll(t);
    }
  }
  return p;
}

void run_case_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  testing::memory_storage store(2);  // tiny batches: every query crosses batch boundaries
  continuous_query_registry cqs;
  query_options opts;
  opts.cqs = &cqs;
  std::string line;
  int line_no = 0;
  auto next = [&](std::string& out) {
    if (!std::getline(in, out)) return false;
    ++line_no;
    return true;
  };
  while (next(line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("db ", 0) == 0) {
      opts.db = line.substr(3);
      ASSERT_TRUE(store.create_database(opts.db).ok());
    } else if (line.rfind("now ", 0) == 0) {
      ASSERT_TRUE(exec::parse_time_string(line.substr(4), opts.now_ns)) << line;
    } else if (line == "epoch") {
      opts.epoch.clear();
    } else if (line.rfind("epoch ", 0) == 0) {
      opts.epoch = line.substr(6);
    } else if (line == "write") {
      std::vector<model::point> points;
      while (next(line) && !line.empty()) points.push_back(parse_lp(line));
      ASSERT_TRUE(store.write(opts.db, "", points).ok()) << path << ":" << line_no;
    } else if (line == "query") {
      int start = line_no;
      std::string q, expected;
      while (next(line) && line != "----") q += (q.empty() ? "" : "\n") + line;
      while (next(line) && !line.empty()) expected += line;
      std::string got = execute_to_json(store, q, opts);
      EXPECT_EQ(got, expected) << path.filename().string() << ":" << start << "\n" << q;
    } else {
      FAIL() << path << ":" << line_no << ": unknown directive: " << line;
    }
  }
}

TEST(query_cases, all_files) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(LIANDU_QUERY_CASES_DIR)) {
    if (e.path().extension() == ".test") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    run_case_file(f);
  }
}

}  // namespace
}  // namespace liandu::query
