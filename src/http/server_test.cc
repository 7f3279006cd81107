#include "http/server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "http/gzip.h"
#include "http/testing/http_client.h"
#include "tls/testing/self_signed.h"

namespace liandu::http {
namespace {

using namespace std::chrono_literals;
using testing::client_response;
using testing::http_connection;

const std::string localhost = "127.0.0.1";

struct test_state {
  std::atomic<int> slow_started{0};
  std::atomic<int> slow_finished{0};
  // /block waits until the test opens the gate.
  std::mutex mu;
  std::condition_variable cv;
  bool gate_open = false;
  std::atomic<int> blocked{0};
  void open_gate() {
    std::lock_guard lock(mu);
    gate_open = true;
    cv.notify_all();
  }
};

router make_router(test_state& state) {
  router r;
  r.add(verb::get, "/hello", [](const request&) {
    response res;
    res.body = "hello";
    res.set_header("Content-Type", "text/plain");
    return res;
  });
  r.add(verb::post, "/echo", [](const request& req) {
    response res;
    res.body = req.body;
    res.set_header("X-Body-Size", std::to_string(req.body.size()));
    return res;
  });
  r.add(verb::get, "/params", [](const request& req) {
    response res;
    for (const auto& [k, v] : req.query) res.body += k + "=" + v + ";";
    return res;
  });
  r.add(verb::post, "/form", [](const request& req) {
    request copy = req;
    status s = merge_form_body(copy);
    if (!s.ok()) return json_error(400, s.message());
    response res;
    res.body = std::string(copy.param_or("q", "<none>"));
    return res;
  });
  r.add(verb::get, "/throw", [](const request&) -> response { throw std::runtime_error("boom"); });
  r.add(verb::get, "/slow", [&state](const request& req) {
    state.slow_started++;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(std::string(req.param_or("ms", "300")))));
    state.slow_finished++;
    response res;
    res.body = "slow done";
    return res;
  });
  r.add(verb::get, "/block", [&state](const request&) {
    state.blocked++;
    std::unique_lock lock(state.mu);
    state.cv.wait(lock, [&] { return state.gate_open; });
    response res;
    res.body = "unblocked";
    return res;
  });
  r.add(verb::get, "/stream", [](const request&) {
    response res;
    res.set_header("Content-Type", "application/json");
    res.body = "[";
    auto n = std::make_shared<int>(0);
    res.stream = [n]() -> std::optional<std::string> {
      if (*n == 3) return std::nullopt;
      std::string chunk = (*n == 0 ? "" : ",") + std::to_string(*n);
      ++*n;
      return chunk;
    };
    return res;
  });
  r.add(verb::get, "/no-content", [](const request&) { return response{204, {}, "ignored", {}}; });
  return r;
}

class server_test : public ::testing::Test {
 protected:
  void start(server_limits limits = {}, size_t threads = 2) {
    server_ = std::make_unique<server>(make_router(state_), limits, threads);
    auto port = server_->listen(localhost, 0);
    ASSERT_TRUE(port.ok()) << port.error().to_string();
    port_ = *port;
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->shutdown(1s);
  }

  result<std::unique_ptr<http_connection>> connect() { return http_connection::connect(localhost, port_); }

  // Waits until the server has noticed closed connections.
  bool wait_for_open_connections(size_t n, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (server_->open_connections() != n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  test_state state_;
  std::unique_ptr<server> server_;
  uint16_t port_ = 0;
};

TEST_F(server_test, get_and_not_found) {
  start();
  auto r = testing::http_get(localhost, port_, "/hello");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(*r->header("Content-Type"), "text/plain");
  auto missing = testing::http_get(localhost, port_, "/missing");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404u);
  EXPECT_EQ(missing->body, "{\"error\":\"not found\"}\n");
}

TEST_F(server_test, query_is_decoded) {
  start();
  auto r = testing::http_get(localhost, port_, "/params?db=my%20db&q=SELECT+*+FROM+cpu");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "db=my db;q=SELECT * FROM cpu;");
  auto bad = testing::http_get(localhost, port_, "/params?q=%zz");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400u);
  EXPECT_NE(bad->body.find("invalid URL escape"), std::string::npos);
}

TEST_F(server_test, form_body_merged_into_query) {
  start();
  auto r = testing::http_post(localhost, port_, "/form?q=url", "q=SELECT+1",
                              {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "SELECT 1");
}

TEST_F(server_test, keep_alive_reuses_one_connection) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 20; ++i) {
    std::string body = "ping " + std::to_string(i);
    auto r = (*c)->request("POST", "/echo", body);
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().to_string();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, body);
    EXPECT_TRUE(r->keep_alive);
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(server_test, concurrent_clients) {
  start({}, 4);
  constexpr int clients = 12;
  constexpr int requests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      auto c = connect();
      if (!c.ok()) return;
      for (int i = 0; i < requests; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto r = (*c)->request("POST", "/echo", body);
        if (r.ok() && r->status == 200 && r->body == body) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), clients * requests);
}

TEST_F(server_test, blocking_handler_does_not_stall_other_connections) {
  start({}, 1);  // a single I/O thread: handlers must not run on it
  // Two handlers block until the gate opens; other connections are served.
  auto b1 = std::async(std::launch::async, [&] { return testing::http_get(localhost, port_, "/block"); });
  auto b2 = std::async(std::launch::async, [&] { return testing::http_get(localhost, port_, "/block"); });
  while (state_.blocked.load() < 2) std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 5; ++i) {
    auto fast = testing::http_get(localhost, port_, "/hello");
    ASSERT_TRUE(fast.ok()) << fast.error().to_string();
    EXPECT_EQ(fast->status, 200u);
  }
  state_.open_gate();
  for (auto* f : {&b1, &b2}) {
    auto r = f->get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->body, "unblocked");
  }
}

// GETs run on the I/O thread that read them while another I/O thread is
// free: blocked GETs, more than there are I/O threads, leave one of them
// serving every other connection.
TEST_F(server_test, blocking_gets_leave_an_io_thread_free) {
  for (size_t io_threads : {2u, 3u}) {
    state_.gate_open = false;
    state_.blocked = 0;
    start({}, io_threads);
    std::vector<std::future<result<testing::client_response>>> blocked;
    for (size_t i = 0; i < io_threads + 1; ++i)
      blocked.push_back(
          std::async(std::launch::async, [&] { return testing::http_get(localhost, port_, "/block"); }));
    // Every blocked request is read, so some ran on the pool (bounded wait:
    // if I/O threads were all blocked, the last would never be read).
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (state_.blocked.load() < static_cast<int>(io_threads + 1) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    EXPECT_EQ(state_.blocked.load(), static_cast<int>(io_threads + 1)) << io_threads << " I/O threads";
    // Checked after the gate opens: the blocked requests must end either way.
    std::vector<result<testing::client_response>> fast;
    for (int i = 0; i < 5; ++i) {
      auto c = testing::http_connection::connect(localhost, port_, 2s);
      fast.push_back(c.ok() ? (*c)->request("GET", "/hello") : result<testing::client_response>(c.error()));
    }
    state_.open_gate();
    for (auto& r : fast) {
      ASSERT_TRUE(r.ok()) << io_threads << " I/O threads: " << r.error().to_string();
      EXPECT_EQ(r->body, "hello");
    }
    for (auto& f : blocked) {
      auto r = f.get();
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_EQ(r->body, "unblocked");
    }
    server_->shutdown(1s);
  }
}

TEST_F(server_test, gzip_request_body) {
  start();
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "cpu,host=h" + std::to_string(i % 7) + " v=" + std::to_string(i) + "\n";
  auto r = testing::http_post(localhost, port_, "/echo", gzip_compress(text), {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, text);
  auto corrupt = testing::http_post(localhost, port_, "/echo", "not gzip", {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(corrupt.ok());
  EXPECT_EQ(corrupt->status, 400u);
  auto unknown = testing::http_post(localhost, port_, "/echo", "x", {{"Content-Encoding", "br"}});
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 415u);
}

TEST_F(server_test, body_over_limit_is_413) {
  server_limits limits;
  limits.max_body_bytes = 1 << 20;
  start(limits);
  auto ok = testing::http_post(localhost, port_, "/echo", std::string(1 << 20, 'a'));
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->status, 200u);
  auto big = testing::http_post(localhost, port_, "/echo", std::string((1 << 20) + 1, 'a'));
  ASSERT_TRUE(big.ok()) << big.error().to_string();
  EXPECT_EQ(big->status, 413u);
  EXPECT_EQ(big->body, "{\"error\":\"Request Entity Too Large\"}\n");
  EXPECT_EQ(*big->header("Content-Type"), "application/json");
  EXPECT_EQ(*big->header("X-Influxdb-Error"), "Request Entity Too Large");
  EXPECT_FALSE(big->keep_alive);
}

TEST_F(server_test, chunked_body_over_limit_is_413) {
  server_limits limits;
  limits.max_body_bytes = 1000;
  start(limits);
  auto c = connect();
  ASSERT_TRUE(c.ok());
  std::string chunk(600, 'x');
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 2; ++i) req += "258\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  ASSERT_TRUE((*c)->send_raw(req).ok());
  bool closed = false;
  std::string got = (*c)->read_until_closed(3s, &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  EXPECT_TRUE(closed);
}

TEST_F(server_test, gzip_bomb_is_413_and_connection_survives) {
  server_limits limits;
  limits.max_body_bytes = 1 << 20;
  start(limits);
  std::string bomb = gzip_compress(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), limits.max_body_bytes);
  auto c = connect();
  ASSERT_TRUE(c.ok());
  auto r = (*c)->request("POST", "/echo", bomb, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 413u);
  EXPECT_EQ(r->body, "{\"error\":\"Request Entity Too Large\"}\n");
  // The whole (compressed) body was read, so the connection stays usable.
  auto next = (*c)->request("GET", "/hello");
  ASSERT_TRUE(next.ok()) << next.error().to_string();
  EXPECT_EQ(next->body, "hello");
}

TEST_F(server_test, slow_header_client_is_closed) {
  server_limits limits;
  limits.header_timeout = 300ms;
  start(limits);
  auto c = connect();
  ASSERT_TRUE(c.ok());
  auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE((*c)->send_raw("GET /hello HTTP/1.1\r\nHost: x\r\n").ok());
  // Slowloris: one header line every 50 ms, never finishing.
  bool closed = false;
  for (int i = 0; i < 60 && !closed; ++i) {
    if (!(*c)->send_raw("X-Slow-" + std::to_string(i) + ": y\r\n").ok()) {
      closed = true;
      break;
    }
    (*c)->read_until_closed(50ms, &closed);
  }
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_TRUE(closed);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(wait_for_open_connections(0));
}

TEST_F(server_test, silent_client_is_closed_after_header_timeout) {
  server_limits limits;
  limits.header_timeout = 200ms;
  start(limits);
  auto c = connect();
  ASSERT_TRUE(c.ok());
  bool closed = false;
  std::string got = (*c)->read_until_closed(3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got, "");
}

TEST_F(server_test, idle_keep_alive_connection_is_closed) {
  server_limits limits;
  limits.idle_timeout = 300ms;
  start(limits);
  auto c = connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->request("GET", "/hello").ok());
  auto begin = std::chrono::steady_clock::now();
  bool closed = false;
  (*c)->read_until_closed(3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
}

TEST_F(server_test, max_connections_answers_503) {
  server_limits limits;
  limits.max_connections = 2;
  start(limits);
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->request("GET", "/hello").ok());
  ASSERT_TRUE((*b)->request("GET", "/hello").ok());
  EXPECT_EQ(server_->open_connections(), 2u);

  auto over = testing::http_get(localhost, port_, "/hello");
  ASSERT_TRUE(over.ok()) << over.error().to_string();
  EXPECT_EQ(over->status, 503u);
  EXPECT_EQ(over->body, "{\"error\":\"too many open connections\"}\n");
  EXPECT_FALSE(over->keep_alive);
  // The admitted ones still work.
  EXPECT_EQ((*a)->request("GET", "/hello")->status, 200u);

  a->reset();
  ASSERT_TRUE(wait_for_open_connections(1));
  auto again = testing::http_get(localhost, port_, "/hello");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200u);
}

TEST_F(server_test, malformed_request_is_400_and_closed) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->send_raw("GET /hello HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n").ok());
  bool closed = false;
  std::string got = (*c)->read_until_closed(3s, &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("{\"error\":\"Bad Request"), std::string::npos) << got;
  EXPECT_TRUE(closed);

  auto d = connect();
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->send_raw("\x16\x03\x01 binary garbage\r\n\r\n").ok());
  got = (*d)->read_until_closed(3s, &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_TRUE(closed);
}

TEST_F(server_test, pipelined_requests_are_answered_in_order) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      (*c)->send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST /echo HTTP/1.1\r\n"
                     "Host: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo")
          .ok());
  bool closed = false;
  std::string got = (*c)->read_until_closed(3s, &closed);
  EXPECT_TRUE(closed);
  size_t one = got.find("\r\n\r\none");
  size_t two = got.find("\r\n\r\ntwo");
  ASSERT_NE(one, std::string::npos) << got;
  ASSERT_NE(two, std::string::npos) << got;
  EXPECT_LT(one, two);
}

// Bodies with a Content-Length are read straight into the request's string:
// a body sent in pieces after the header, larger than any one read, arrives
// whole and in order, and the bytes after it start the next request.
TEST_F(server_test, body_sent_in_pieces_arrives_whole) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  std::string body(3u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 977) % 26);
  const std::string header =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  // The header with the first bytes of the body, the rest in pieces, the
  // last piece with the whole next request.
  ASSERT_TRUE((*c)->send_raw(header + body.substr(0, 1000)).ok());
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE((*c)->send_raw(body.substr(1000, 1u << 20)).ok());
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(
      (*c)->send_raw(body.substr(1000 + (1u << 20)) +
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnext")
          .ok());
  bool closed = false;
  std::string got = (*c)->read_until_closed(5s, &closed);
  EXPECT_TRUE(closed);
  size_t first = got.find("\r\n\r\n");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(got.find("X-Body-Size: " + std::to_string(body.size())), std::string::npos);
  EXPECT_EQ(got.compare(first + 4, body.size(), body), 0) << "echoed body differs";
  EXPECT_NE(got.find("\r\n\r\nnext", first + 4 + body.size()), std::string::npos);
}

// A body cut short by a client that goes silent or hangs up closes only that
// connection, after the idle timeout at the latest; nothing is dispatched.
TEST_F(server_test, body_cut_short_closes_the_connection) {
  server_limits limits;
  limits.idle_timeout = 300ms;
  start(limits);
  auto silent = connect();
  ASSERT_TRUE(silent.ok());
  ASSERT_TRUE(
      (*silent)->send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part").ok());
  auto begin = std::chrono::steady_clock::now();
  bool closed = false;
  std::string got = (*silent)->read_until_closed(3s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got, "");
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
  {
    auto gone = connect();
    ASSERT_TRUE(gone.ok());
    ASSERT_TRUE((*gone)->send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart").ok());
  }  // closed by the client mid-body
  EXPECT_TRUE(wait_for_open_connections(0));
  auto next = connect();
  ASSERT_TRUE(next.ok());
  auto r = (*next)->request("GET", "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "hello");
}

TEST_F(server_test, header_over_limit_is_431) {
  server_limits limits;
  limits.max_header_bytes = 1024;
  start(limits);
  auto r = testing::http_get(localhost, port_, "/hello", {{"X-Big", std::string(2000, 'b')}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 431u);
}

TEST_F(server_test, handler_exception_is_500_and_connection_keeps_working) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  auto r = (*c)->request("GET", "/throw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500u);
  EXPECT_EQ(r->body, "{\"error\":\"internal error: boom\"}\n");
  EXPECT_TRUE(r->keep_alive);
  auto next = (*c)->request("GET", "/hello");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->body, "hello");
}

TEST_F(server_test, streamed_response_is_chunked) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  auto r = (*c)->request("GET", "/stream");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "[0,1,2");
  EXPECT_EQ(*r->header("Transfer-Encoding"), "chunked");
  EXPECT_EQ((*c)->request("GET", "/hello")->body, "hello");
}

TEST_F(server_test, head_and_no_content) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  auto h = (*c)->request("HEAD", "/hello");
  ASSERT_TRUE(h.ok()) << h.error().to_string();
  EXPECT_EQ(h->status, 200u);
  EXPECT_EQ(h->body, "");
  EXPECT_EQ(*h->header("Content-Length"), "5");
  auto n = (*c)->request("GET", "/no-content");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->status, 204u);
  EXPECT_EQ(n->body, "");
  EXPECT_EQ((*c)->request("GET", "/hello")->body, "hello");
}

TEST_F(server_test, expect_100_continue) {
  start();
  auto c = connect();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      (*c)->send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
          .ok());
  bool closed = false;
  std::string interim = (*c)->read_until_closed(300ms, &closed);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE((*c)->send_raw("hello").ok());
  std::string rest = (*c)->read_until_closed(300ms, &closed);
  EXPECT_EQ(rest.rfind("HTTP/1.1 200", 0), 0u) << rest;
  EXPECT_NE(rest.find("\r\n\r\nhello"), std::string::npos) << rest;
}

TEST_F(server_test, graceful_shutdown_finishes_in_flight_request) {
  start();
  auto idle = connect();
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE((*idle)->request("GET", "/hello").ok());

  auto slow =
      std::async(std::launch::async, [&] { return testing::http_get(localhost, port_, "/slow?ms=500"); });
  while (state_.slow_started.load() == 0) std::this_thread::sleep_for(1ms);

  auto begin = std::chrono::steady_clock::now();
  server_->shutdown(5s);
  auto took = std::chrono::steady_clock::now() - begin;

  auto r = slow.get();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "slow done");
  EXPECT_FALSE(r->keep_alive);
  EXPECT_LT(took, 3s);  // did not wait out the grace once the request was done

  bool closed = false;
  (*idle)->read_until_closed(1s, &closed);
  EXPECT_TRUE(closed);
  EXPECT_FALSE(testing::http_get(localhost, port_, "/hello").ok());
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(server_test, shutdown_grace_expires_for_stuck_requests) {
  start();
  auto slow =
      std::async(std::launch::async, [&] { return testing::http_get(localhost, port_, "/slow?ms=1500"); });
  while (state_.slow_started.load() == 0) std::this_thread::sleep_for(1ms);
  auto begin = std::chrono::steady_clock::now();
  server_->shutdown(200ms);
  auto took = std::chrono::steady_clock::now() - begin;
  // The handler is allowed to return (threads are joined), but the client
  // gets no response.
  EXPECT_LT(took, 3s);
  EXPECT_FALSE(slow.get().ok());
}

TEST(server_lifecycle, run_blocks_until_shutdown) {
  test_state state;
  server s(make_router(state), {}, 2);
  auto port = s.listen(localhost, 0);
  ASSERT_TRUE(port.ok());
  std::thread runner([&] { s.run(); });
  auto r = testing::http_get(localhost, *port, "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "hello");
  s.shutdown(1s);
  runner.join();
}

TEST(server_lifecycle, listen_errors) {
  test_state state;
  server a(make_router(state), {}, 1);
  auto port = a.listen(localhost, 0);
  ASSERT_TRUE(port.ok());
  server b(make_router(state), {}, 1);
  auto clash = b.listen(localhost, *port);
  EXPECT_FALSE(clash.ok());
  EXPECT_FALSE(b.listen("no-such-host.invalid", 0).ok());
  auto tls = b.listen_tls(localhost, 0, {"/nonexistent/cert.pem", "/nonexistent/key.pem"});
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.error().message(), "tls: certificate /nonexistent/cert.pem: No such file or directory");
}

TEST(server_tls, serves_https) {
  auto dir = std::filesystem::temp_directory_path() / ("liandu_tls_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  ASSERT_TRUE(tls::testing::write_self_signed(cert, key));
  test_state state;
  server s(make_router(state), {}, 2);
  auto port = s.listen_tls(localhost, 0, {cert, key});
  ASSERT_TRUE(port.ok()) << port.error().to_string();
  s.start();
  auto r = testing::https_request("POST", localhost, *port, "/echo", "over tls");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "over tls");
  // Plain HTTP to the TLS port gets nowhere.
  EXPECT_FALSE(testing::http_get(localhost, *port, "/hello").ok());
  s.shutdown(1s);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace liandu::http
