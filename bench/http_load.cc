// http_load: posts a pre-generated line-protocol workload (bench/workloads.h)
// to an InfluxDB-compatible /write URL over keep-alive connections, one
// thread per connection, and reports points/s, values/s and request latency
// percentiles. Exits 1 if any response is not 204 (or a connection fails),
// 2 on bad arguments.
//
//   http_load --url 'http://127.0.0.1:8086/write?db=bench' [--token T]
//             [--workload trucks|factory] [--scale N] [--hours H | --ticks N]
//             [--start-s EPOCH_SECONDS] [--seed N] [--batch 5000] [--connections 4]
//             [--retry-503] [--dump FILE]
//
// All batches are generated before the clock starts, so the client spends
// its CPU on HTTP only. Batches go out in time order: connection c takes the
// next unsent batch when its previous request is answered.
//
// Timestamps are nanoseconds from --start-s (default 2024-01-01T00:00:00Z).
// Servers with a retention window (VictoriaMetrics keeps 1 month by
// default) drop older points silently: pass a recent --start-s for them.
//
// The last line of output is machine-readable:
//   RESULT workload=trucks lines=... values=... bytes=... seconds=... points_per_s=...
//          values_per_s=... mb_per_s=... p50_ms=... p90_ms=... p99_ms=... max_ms=... failures=0

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "workloads.h"

namespace liandu::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct load_options {
  std::string url;
  std::string token;
  workload_options workload;
  bool scale_given = false;
  size_t batch = 5000;
  size_t connections = 4;
  bool retry_503 = false;
  std::string dump;
};

struct target {
  std::string host;
  std::string port = "80";
  std::string path;  // with the query string
};

bool parse_url(const std::string& url, target& out) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  return !out.host.empty();
}

void usage() {
  std::fprintf(stderr,
               "usage: http_load --url URL [--token T] [--workload trucks|factory] [--scale N]\n"
               "                 [--hours H | --ticks N] [--start-s EPOCH] [--seed N] [--batch N]\n"
               "                 [--connections C] [--retry-503] [--dump FILE]\n");
}

bool parse_args(int argc, char** argv, load_options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (a == "--retry-503") {
      o.retry_503 = true;
      continue;
    }
    if (a == "-h" || a == "--help") return false;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      std::fprintf(stderr, "http_load: %s needs a value\n", a.c_str());
      return false;
    }
    if (a == "--url") {
      o.url = v;
    } else if (a == "--token") {
      o.token = v;
    } else if (a == "--workload") {
      if (!parse_workload_kind(v, o.workload.kind)) {
        std::fprintf(stderr, "http_load: unknown workload %s\n", v.c_str());
        return false;
      }
    } else if (a == "--scale") {
      o.workload.scale = std::stoull(v);
      o.scale_given = true;
    } else if (a == "--hours") {
      o.workload.ticks =
          std::llround(std::stod(v) * 3600 * second_ns / static_cast<double>(o.workload.interval_ns));
    } else if (a == "--ticks") {
      o.workload.ticks = std::stoll(v);
    } else if (a == "--start-s") {
      o.workload.start_ns = std::stoll(v) * second_ns;
    } else if (a == "--seed") {
      o.workload.seed = std::stoull(v);
    } else if (a == "--batch") {
      o.batch = std::stoull(v);
    } else if (a == "--connections") {
      o.connections = std::stoull(v);
    } else if (a == "--dump") {
      o.dump = v;
    } else {
      std::fprintf(stderr, "http_load: unknown option %s\n", a.c_str());
      return false;
    }
  }
  if (!o.scale_given) o.workload.scale = o.workload.kind == workload_kind::trucks ? 1000 : 10000;
  return !o.url.empty() && o.batch > 0 && o.connections > 0 && o.workload.ticks > 0;
}

struct batch {
  std::string body;
  size_t lines = 0;
  uint64_t values = 0;
};

// One keep-alive connection. Reconnects when the server closes it.
class connection {
 public:
  connection(const target& t, const std::string& token) : target_(t), token_(token), stream_(ioc_) {}

  // Posts body; returns the status code, or 0 with `error` set when the
  // connection failed.
  unsigned post(std::string_view body, std::string& error, std::string& response_body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      beast::error_code ec;
      if (!connected_) {
        tcp::resolver resolver(ioc_);
        auto endpoints = resolver.resolve(target_.host, target_.port, ec);
        if (!ec) stream_.connect(endpoints, ec);
        if (ec) {
          error = "connect: " + ec.message();
          return 0;
        }
        stream_.socket().set_option(tcp::no_delay(true), ec);
        connected_ = true;
      }
      http::request<http::span_body<const char>> req{http::verb::post, target_.path, 11};
      req.set(http::field::host, target_.host);
      req.set(http::field::content_type, "text/plain; charset=utf-8");
      if (!token_.empty()) req.set(http::field::authorization, "Token " + token_);
      req.keep_alive(true);
      req.body() = http::span_body<const char>::value_type(body.data(), body.size());
      req.prepare_payload();
      http::write(stream_, req, ec);
      http::response<http::string_body> res;
      if (!ec) {
        buffer_.clear();
        http::read(stream_, buffer_, res, ec);
      }
      if (ec) {
        // A keep-alive connection the server closed while idle: retry once
        // on a fresh one; a second failure is an error.
        close();
        error = "request: " + ec.message();
        continue;
      }
      if (res.need_eof()) close();
      response_body = std::move(res.body());
      return res.result_int();
    }
    return 0;
  }

 private:
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    connected_ = false;
  }

  target target_;
  std::string token_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

int run(const load_options& o) {
  target t;
  if (!parse_url(o.url, t)) {
    std::fprintf(stderr, "http_load: --url must be http://host[:port]/path, got %s\n", o.url.c_str());
    return 2;
  }

  auto gen_start = clock_type::now();
  auto gen = make_generator(o.workload);
  std::vector<batch> batches;
  uint64_t total_bytes = 0;
  for (;;) {
    batch b;
    uint64_t before = gen->values_emitted();
    b.lines = gen->next_batch(o.batch, b.body);
    if (b.lines == 0) break;
    b.values = gen->values_emitted() - before;
    total_bytes += b.body.size();
    batches.push_back(std::move(b));
  }
  double gen_secs = std::chrono::duration<double>(clock_type::now() - gen_start).count();
  std::printf(
      "generated %s: %zu series, %lld points each, %llu lines, %llu values, %.1f MB in %zu batches (%.1fs)\n",
      workload_name(o.workload.kind), gen->series_count(), static_cast<long long>(o.workload.ticks),
      static_cast<unsigned long long>(gen->lines_emitted()),
      static_cast<unsigned long long>(gen->values_emitted()), static_cast<double>(total_bytes) / 1e6,
      batches.size(), gen_secs);
  if (!o.dump.empty()) {
    std::ofstream out(o.dump, std::ios::binary);
    for (const auto& b : batches) out << b.body;
  }
  std::fflush(stdout);

  std::atomic<size_t> next{0};
  std::atomic<uint64_t> failures{0}, retries{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::string first_failure;
  std::vector<std::thread> threads;
  auto start = clock_type::now();
  for (size_t c = 0; c < o.connections; ++c) {
    threads.emplace_back([&] {
      connection conn(t, o.token);
      std::vector<double> mine;
      std::string error, response;
      for (size_t i = next++; i < batches.size(); i = next++) {
        for (;;) {
          auto t0 = clock_type::now();
          error.clear();
          unsigned code = conn.post(batches[i].body, error, response);
          double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
          if (code == 503 && o.retry_503) {
            ++retries;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
          }
          mine.push_back(ms);
          if (code != 204) {
            ++failures;
            std::lock_guard lock(mu);
            if (first_failure.empty()) {
              first_failure =
                  code == 0 ? error : "HTTP " + std::to_string(code) + ": " + response.substr(0, 300);
            }
          }
          break;
        }
      }
      std::lock_guard lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  double secs = std::chrono::duration<double>(clock_type::now() - start).count();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  double lines = static_cast<double>(gen->lines_emitted());
  double values = static_cast<double>(gen->values_emitted());
  std::printf("%zu requests over %zu connections in %.2fs: %.0f points/s, %.0f values/s, %.1f MB/s\n",
              batches.size(), o.connections, secs, lines / secs, values / secs,
              static_cast<double>(total_bytes) / 1e6 / secs);
  std::printf("latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", percentile(latencies_ms, 50),
              percentile(latencies_ms, 90), percentile(latencies_ms, 99),
              latencies_ms.empty() ? 0.0 : latencies_ms.back());
  if (retries > 0)
    std::printf("503 answers retried: %llu\n", static_cast<unsigned long long>(retries.load()));
  if (failures > 0) {
    std::printf("FAILED: %llu responses were not 204; first: %s\n",
                static_cast<unsigned long long>(failures.load()), first_failure.c_str());
  }
  std::printf(
      "RESULT workload=%s lines=%.0f values=%.0f bytes=%llu seconds=%.3f points_per_s=%.0f values_per_s=%.0f "
      "mb_per_s=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f retries_503=%llu failures=%llu\n",
      workload_name(o.workload.kind), lines, values, static_cast<unsigned long long>(total_bytes), secs,
      lines / secs, values / secs, static_cast<double>(total_bytes) / 1e6 / secs,
      percentile(latencies_ms, 50), percentile(latencies_ms, 90), percentile(latencies_ms, 99),
      latencies_ms.empty() ? 0.0 : latencies_ms.back(), static_cast<unsigned long long>(retries.load()),
      static_cast<unsigned long long>(failures.load()));
  return failures > 0 ? 1 : 0;
}

}  // namespace
}  // namespace liandu::bench

int main(int argc, char** argv) {
  liandu::bench::load_options o;
  try {
    if (!liandu::bench::parse_args(argc, argv, o)) {
      liandu::bench::usage();
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http_load: bad number: %s\n", e.what());
    return 2;
  }
  return liandu::bench::run(o);
}
