#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "http/router.h"

namespace liandu::http {

struct server_limits {
  // Largest request body, after gzip decompression. Over it: 413
  // {"error":"Request Entity Too Large"} (InfluxDB's text).
  size_t max_body_bytes = 25 << 20;
  // Request line + headers. Over it: 431 and close.
  size_t max_header_bytes = 64 << 10;
  // From accept (first request) or from the first byte (later requests)
  // until the headers are complete; a slow client (slowloris) is closed.
  std::chrono::milliseconds header_timeout{10000};
  // A keep-alive connection waiting for its next request is closed after
  // this; also bounds reading one body and writing one response.
  std::chrono::milliseconds idle_timeout{60000};
  // Open connections at most. One more is answered 503
  // {"error":"too many open connections"} and closed (a clear answer beats a
  // silent wait in the accept backlog), without counting against the limit.
  size_t max_connections = 1024;
  // Threads that run handlers (not a limit, but sized like one). 0: 4 per
  // I/O thread, at least 8 — handlers block on fsync, and many waiters on one
  // group commit cost little.
  size_t handler_threads = 0;
};

// TLS for a listener: PEM files.
struct tls_files {
  std::string cert_chain_file;
  std::string private_key_file;
};

// An HTTP/1.1 server (keep-alive, gzip request bodies, chunked responses)
// that knows nothing of databases: it reads requests, runs the router's
// handler and writes responses.
//
// Threads: one io_context run by `threads` I/O threads, with a strand per
// connection. Any I/O thread can serve any connection, so a busy connection
// does not pin a thread while others idle (the alternative, an io_context per
// thread, balances only at accept time). Handlers run on a separate pool
// (server_limits::handler_threads) because they may block for milliseconds
// (WAL fsync): on an I/O thread that would stall every connection it serves.
// The exception: a GET or HEAD runs on the I/O thread that read it while at
// least one other I/O thread stays free (never with a single I/O thread),
// which saves a small query two thread hand-overs.
// While its handler runs a connection reads nothing more (requests on one
// connection are answered in order).
//
// Lifecycle: construct, listen() one or more times, then run() (blocks) or
// start() (returns); shutdown() from any other thread stops it. The
// destructor shuts down with no grace.
class server {
 public:
  server(router routes, server_limits limits, size_t threads);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens; port 0 picks a free port. Returns the bound port.
  // Call before run()/start(), or after start() (the new listener starts at
  // once).
  result<uint16_t> listen(const std::string& host, uint16_t port);
  // Same with TLS (TLS 1.2 or newer) from PEM cert chain and key files.
  result<uint16_t> listen_tls(const std::string& host, uint16_t port, const tls_files& files);

  // Starts the I/O threads and returns.
  void start();
  // start() and block until shutdown() has finished.
  void run();

  // Closes the listeners; open connections go on.
  void stop_accepting();
  // Graceful stop: stop accepting, close idle keep-alive connections, let
  // requests in flight finish (their responses carry Connection: close) for
  // up to `grace`, then close whatever is left and stop the threads. Waits
  // for running handlers to return. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  size_t open_connections() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace liandu::http
