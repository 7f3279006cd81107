#include "connect/mqtt/server/server.h"

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "tls/server_context.h"

namespace liandu::connect::mqtt {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
// Accepted sockets run on the io_context's own executor type rather than the
// polymorphic any_io_executor: 48 instead of 80 bytes in every connection,
// and a smaller operation for every pending wait.
using link_socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using tls_socket = asio::ssl::stream<link_socket>;

namespace {

// What the sweep and stop() need of a connection, over either transport.
// The virtuals add nothing per connection: `link` already has a vtable.
class server_link : public link {
 public:
  // Past the connect timeout (the TLS handshake included), or 1.5 times the
  // keep-alive since the last packet. Any thread.
  virtual bool overdue(int64_t now_ms) const = 0;
  virtual void time_out() = 0;
  // From stop(): close at once, without waiting for writes.
  virtual void abort() = 0;
};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct mqtt_server::impl {
  impl(mqtt_server_options o, mqtt_hooks h)
      : options(std::move(o)),
        hook_pool(std::max<size_t>(1, options.hook_threads)),
        workers(std::max<size_t>(1, options.worker_threads)),
        acceptor(io),
        tls_acceptor(io),
        tick_timer(io),
        sweep_timer(io) {
    options.broker.max_packet_size = options.max_packet_size;
    if (options.hook_threads > 0) {
      options.broker.run_parallel = [this](size_t n, const std::function<void(size_t)>& fn) {
        std::mutex mu;
        std::condition_variable cv;
        size_t left = n - 1;
        for (size_t i = 1; i < n; ++i) {
          asio::post(hook_pool, [&, i] {
            fn(i);
            std::lock_guard lock(mu);  // notify under the lock: cv lives on the caller's stack
            if (--left == 0) cv.notify_one();
          });
        }
        fn(0);
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return left == 0; });
      };
    }
    brk = std::make_unique<mqtt::broker>(options.broker, std::move(h));
  }

  void accept(tcp::acceptor& a, bool tls);
  template <class Link>
  void adopt(std::shared_ptr<Link> l);
  result<uint16_t> bind(tcp::acceptor& a, const std::string& host, uint16_t port, const char* what);
  status load_tls();
  void tick();
  void sweep();

  mqtt_server_options options;
  // Before io: the TLS connections' streams are made from it.
  std::shared_ptr<asio::ssl::context> tls_ctx;
  // io before the pools, so it is destroyed after them: drains still queued
  // on the workers own connections whose sockets and strands belong to io.
  asio::io_context io;
  // Runs on_publish calls of a batch in parallel (broker run_parallel); only
  // worker threads wait on it, and its tasks wait on nothing of ours.
  asio::thread_pool hook_pool;
  asio::thread_pool workers;
  tcp::acceptor acceptor;
  tcp::acceptor tls_acceptor;
  uint16_t tls_port = 0;
  asio::steady_timer tick_timer;
  // Connect timeouts and keep-alives: one sweep over `live` four times a
  // second instead of a timer (and a pending wait) per connection.
  asio::steady_timer sweep_timer;
  std::unique_ptr<mqtt::broker> brk;
  std::vector<std::thread> threads;
  std::atomic<size_t> connections{0};
  // The locks of the connections' inboxes and output buffers. A std::mutex
  // is 40 bytes, so connections share these by address, as Asio's strands
  // share theirs: each is held for a few instructions and never together
  // with another, so sharing costs little and cannot deadlock.
  std::array<std::mutex, 256> link_mutexes;
  std::mutex& link_mutex(const void* link) {
    auto h = reinterpret_cast<uintptr_t>(link) * uint64_t{0x9E3779B97F4A7C15};
    return link_mutexes[h >> 56];
  }
  std::mutex live_mu;
  // A vector, not a list: 16 bytes per connection instead of a 48-byte node.
  // Entries of closed connections are dropped by the sweep.
  std::vector<std::weak_ptr<server_link>> live;
  bool started = false;
  bool stopped = false;
};

namespace {

// One client connection over a plain socket (tcp_link) or a TLS stream
// (tls_link). Socket state lives on `strand_` (I/O threads);
// broker calls run in `drain`, on a worker thread, one drain at a time.
//
// Memory: an idle connection costs this object, the broker's connection and
// session, Asio's descriptor state and one pending wait. So the I/O strand
// is an io_context::strand, whose implementations come from a fixed pool
// shared by all connections (asio::strand allocates one per strand; sharing
// only serializes unrelated connections when io_threads > 1, and their
// handlers never block), and the worker side needs no strand at all: every
// event for the broker (packets, keep-alive expiry, close) goes through the
// inbox, and at most one drain per connection is posted at any time.
//
// A TLS connection costs more: OpenSSL's session state and Asio's stream
// buffers, and its own read buffer (tls_read_size), since a TLS stream cannot
// be read with the wait-then-read_some of the plain path (decrypted bytes may
// wait inside OpenSSL with nothing left to read on the socket).
template <class Stream>
class stream_link : public server_link, public std::enable_shared_from_this<stream_link<Stream>> {
  static constexpr bool tls = std::is_same_v<Stream, tls_socket>;
  static constexpr size_t tls_read_size = 16384;  // one TLS record's plaintext
  struct no_buffer {};

 public:
  stream_link(mqtt_server::impl* srv, link_socket socket)
      : srv_(srv),
        strand_(srv->io),
        socket_(make_stream(srv, std::move(socket))),
        decoder_(srv->options.max_packet_size) {}

  void start() {
    conn_ = srv_->brk->open(this->shared_from_this());
    auto self = this->shared_from_this();
    if constexpr (tls) {
      // A client that never completes the handshake is closed by the sweep
      // at connect_timeout, like one that never sends CONNECT.
      asio::dispatch(strand_, [self] {
        self->socket_.async_handshake(
            asio::ssl::stream_base::server,
            asio::bind_executor(self->strand_, [self](boost::system::error_code ec) {
              if (ec || self->closed_) {
                self->do_close();
                return;
              }
              self->read_buf_ = std::make_unique<char[]>(tls_read_size);
              self->read();
            }));
      });
    } else {
      boost::system::error_code ec;
      socket_.non_blocking(true, ec);
      asio::dispatch(strand_, [self] { self->read(); });
    }
  }

  // Appends to the connection's pending bytes; the I/O strand writes them.
  // While a write is in flight nothing is posted: its completion takes
  // whatever piled up meanwhile, so a busy subscriber gets few, large writes
  // (one writev of many packets) instead of one post and one syscall per
  // packet.
  void send(std::string bytes) override {
    bool post = false;
    {
      std::lock_guard lock(out_mu());
      if (out_closed_) return;
      if (pending_.size() + writing_size_ + bytes.size() > srv_->options.max_write_queue_bytes) {
        out_closed_ = true;  // a reader this slow is dropped
        post = true;
        overflow_ = true;
      } else {
        if (pending_.empty()) {
          pending_ = std::move(bytes);
        } else {
          pending_.append(bytes);
        }
        post = !write_active_ && !flush_posted_;
        if (post) flush_posted_ = true;
      }
    }
    if (!post) return;
    auto self = this->shared_from_this();
    asio::post(strand_, [self] {
      if (self->overflow_.load()) {
        self->do_close();
        return;
      }
      self->start_write();
    });
  }

  void close() override {
    auto self = this->shared_from_this();
    asio::post(strand_, [self] {
      self->closing_ = true;
      self->start_write();  // what is pending goes out first, then do_close
    });
  }

  void abort() override {
    auto self = this->shared_from_this();
    asio::post(strand_, [self] { self->do_close(); });
  }

 private:
  static Stream make_stream(mqtt_server::impl* srv, link_socket socket) {
    if constexpr (tls) {
      return Stream(std::move(socket), *srv->tls_ctx);
    } else {
      return socket;
    }
  }

  // TLS: reads into the connection's own buffer (see the class comment).
  void read() requires tls {
    auto self = this->shared_from_this();
    socket_.async_read_some(asio::buffer(read_buf_.get(), tls_read_size),
                            asio::bind_executor(strand_, [self](boost::system::error_code ec, size_t n) {
                              if (self->closed_) {
                                self->do_close();
                                return;
                              }
                              self->decoder_.feed(self->read_buf_.get(), n);
                              self->after_read(n, ec.failed());
                            }));
  }

  // Waits until the socket is readable, then reads what is there into one
  // buffer per I/O thread: an idle connection holds no read buffer.
  void read() requires(!tls) {
    auto self = this->shared_from_this();
    socket_.async_wait(tcp::socket::wait_read,
                       asio::bind_executor(strand_, [self](boost::system::error_code ec) {
                         if (ec || self->closed_) {
                           self->do_close();
                           return;
                         }
                         thread_local std::vector<char> buf(65536);
                         bool eof = false;
                         size_t total = 0;
                         while (total < (1u << 20)) {
                           boost::system::error_code rec;
                           size_t n = self->socket_.read_some(asio::buffer(buf), rec);
                           if (rec == asio::error::would_block || rec == asio::error::try_again) break;
                           if (rec) {
                             eof = true;
                             break;
                           }
                           self->decoder_.feed(buf.data(), n);
                           total += n;
                           if (n < buf.size()) break;
                         }
                         self->after_read(total, eof);
                       }));
  }

  // On the strand, once `total` bytes went into the decoder (eof: the
  // stream ended or failed): hands the decoded packets over and reads on.
  void after_read(size_t total, bool eof) {
    if (eof && total == 0) {
      do_close();
      return;
    }
    std::vector<packet> packets;
    std::optional<decode_error> err;
    while (true) {
      packet p;
      decode_error e;
      auto st = decoder_.next(&p, &e);
      if (st == decoder::state::need_more) break;
      if (st == decoder::state::error) {
        err = std::move(e);
        break;
      }
      packets.push_back(std::move(p));
    }
    if (!packets.empty()) last_packet_ms_ = steady_ms();
    if (packets.empty() && !err) {
      if (eof) {
        do_close();
      } else {
        read();
      }
      return;
    }
    bool failed = err.has_value();
    deliver(std::move(packets), std::move(err));
    // Read on while the batch is handled: the decoder keeps the order, and
    // the strand on the worker pool keeps handling sequential. After end
    // of stream the close drains the inbox before transport_closed.
    if (eof) {
      do_close();
    } else if (!failed) {
      read();
    }
  }

  // Hands decoded packets to the workers through the inbox: what arrives
  // while a batch is being handled (say, waiting for a durable write) is
  // handled next as one batch, not as many small ones.
  void deliver(std::vector<packet> packets, std::optional<decode_error> err) {
    std::unique_lock lock(out_mu());
    if (inbox_.empty()) {
      inbox_ = std::move(packets);
    } else {
      for (packet& p : packets) inbox_.push_back(std::move(p));
    }
    if (err && !inbox_err_) inbox_err_ = std::make_unique<decode_error>(std::move(*err));
    schedule_drain(lock);
  }

  // Posts a drain unless one is posted or running (which then sees what
  // was just added): that is what keeps the broker calls of one connection
  // sequential without a strand. Under out_mu(), which it releases.
  void schedule_drain(std::unique_lock<std::mutex>& lock) {
    bool post = !drain_posted_;
    drain_posted_ = true;
    lock.unlock();
    if (!post) return;
    auto self = this->shared_from_this();
    asio::post(srv_->workers, [self] { self->drain(); });
  }

  // On a worker, never two at once for one connection (schedule_drain):
  // handles the inbox, then a keep-alive expiry, then the end of the
  // transport. Posts itself again (rather than looping) when more came
  // meanwhile, so other connections get their turn. Once the transport
  // closed nothing more is delivered, so the batch taken with the close is
  // the last one and is handled before transport_closed.
  void drain() {
    std::vector<packet> batch;
    std::unique_ptr<decode_error> err;
    bool expired;
    bool closed;
    {
      std::lock_guard lock(out_mu());
      batch.swap(inbox_);
      err = std::move(inbox_err_);
      expired = std::exchange(expire_pending_, false);
      closed = close_pending_;
    }
    if (auto conn = conn_) {
      if (!batch.empty()) conn->handle_batch(batch);
      if (err) conn->decode_failed(*err);
      keep_alive_ = conn->keep_alive();
      if (conn->connected()) connected_ = true;
      if (expired) conn->keep_alive_expired();
      if (closed) {
        conn->transport_closed();
        conn_.reset();  // breaks the link ↔ connection cycle
      }
    }
    std::unique_lock lock(out_mu());
    if (inbox_.empty() && !inbox_err_ && !expire_pending_ && close_pending_ == closed) {
      drain_posted_ = false;
      return;
    }
    lock.unlock();
    auto self = this->shared_from_this();
    asio::post(srv_->workers, [self] { self->drain(); });
  }

  // On the strand: writes the pending bytes unless a write is in flight;
  // closes once everything is written when closing_.
  void start_write() {
    if (closed_) return;
    {
      std::lock_guard lock(out_mu());
      flush_posted_ = false;
      if (write_active_) return;
      writing_.clear();
      writing_.swap(pending_);
      writing_size_ = writing_.size();
      write_active_ = !writing_.empty();
    }
    if (writing_.empty()) {
      if (closing_) do_close();
      return;
    }
    auto self = this->shared_from_this();
    asio::async_write(socket_, asio::buffer(writing_),
                      asio::bind_executor(strand_, [self](boost::system::error_code ec, size_t) {
                        {
                          std::lock_guard lock(self->out_mu());
                          self->write_active_ = false;
                          self->writing_size_ = 0;
                        }
                        // Closed meanwhile (the write may still have succeeded).
                        if (self->closed_) return;
                        if (ec) {
                          self->do_close();
                          return;
                        }
                        // A large buffer is not kept for an idle connection.
                        if (self->writing_.capacity() > 65536) std::string().swap(self->writing_);
                        self->start_write();
                      }));
  }

 public:
  // 1.5 times the keep-alive: 3.1.2.10.
  bool overdue(int64_t now_ms) const override {
    if (timed_out_.load(std::memory_order_relaxed)) return false;
    if (!connected_.load(std::memory_order_relaxed)) {
      return now_ms >= accepted_ms_ + srv_->options.connect_timeout.count();
    }
    uint16_t ka = keep_alive_.load(std::memory_order_relaxed);
    return ka != 0 && now_ms >= last_packet_ms_.load(std::memory_order_relaxed) + int64_t{ka} * 1500;
  }

  void time_out() override {
    if (timed_out_.exchange(true)) return;
    auto self = this->shared_from_this();
    asio::post(strand_, [self] {
      if (self->closed_) return;
      if (!self->connected_) {
        self->do_close();
        return;
      }
      std::unique_lock lock(self->out_mu());
      self->expire_pending_ = true;
      self->schedule_drain(lock);
    });
  }

 private:
  void do_close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    // TLS: no close_notify; the connection's end is the MQTT one.
    socket_.lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
    socket_.lowest_layer().close(ec);
    --srv_->connections;
    std::unique_lock lock(out_mu());
    out_closed_ = true;
    std::string().swap(pending_);
    close_pending_ = true;
    schedule_drain(lock);
  }

  // Guards the inbox and the outgoing bytes (one of the server's shared
  // mutexes: none per connection).
  std::mutex& out_mu() const { return srv_->link_mutex(this); }

  // Flags sit together: every byte of padding is paid once per connection.
  mqtt_server::impl* srv_;
  asio::io_context::strand strand_;
  Stream socket_;
  decoder decoder_;
  // TLS only, from the end of the handshake; nothing for a plain socket.
  [[no_unique_address]] std::conditional_t<tls, std::unique_ptr<char[]>, no_buffer> read_buf_;
  std::shared_ptr<connection> conn_;  // used in drain only
  // What waits for drain (deliver, time_out, do_close); under out_mu().
  std::vector<packet> inbox_;
  std::unique_ptr<decode_error> inbox_err_;
  // Outgoing bytes: pending_ fills from any thread under out_mu();
  // writing_ is the buffer of the write in flight (strand only).
  std::string pending_;
  std::string writing_;
  size_t writing_size_ = 0;      // under out_mu()
  bool expire_pending_ = false;  // under out_mu()
  bool close_pending_ = false;   // under out_mu()
  bool drain_posted_ = false;    // under out_mu(); a drain is posted or running
  bool write_active_ = false;    // under out_mu()
  bool flush_posted_ = false;    // under out_mu()
  bool out_closed_ = false;      // under out_mu()
  bool closing_ = false;         // strand only
  bool closed_ = false;          // strand only
  std::atomic<bool> overflow_{false};
  // Read by the sweep on any I/O thread.
  std::atomic<bool> connected_{false};
  std::atomic<bool> timed_out_{false};
  std::atomic<uint16_t> keep_alive_{0};
  const int64_t accepted_ms_ = steady_ms();
  std::atomic<int64_t> last_packet_ms_{steady_ms()};
};

using tcp_link = stream_link<link_socket>;
using tls_link = stream_link<tls_socket>;

}  // namespace

void mqtt_server::impl::accept(tcp::acceptor& a, bool tls) {
  a.async_accept(io.get_executor(), [this, &a, tls](boost::system::error_code ec, link_socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !a.is_open()) return;
      accept(a, tls);
      return;
    }
    // One count for both listeners.
    if (connections.load() >= options.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      accept(a, tls);
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    ++connections;
    if (tls) {
      adopt(std::make_shared<tls_link>(this, std::move(socket)));
    } else {
      adopt(std::make_shared<tcp_link>(this, std::move(socket)));
    }
    accept(a, tls);
  });
}

template <class Link>
void mqtt_server::impl::adopt(std::shared_ptr<Link> l) {
  {
    std::lock_guard lock(live_mu);
    live.push_back(l);
  }
  l->start();
}

void mqtt_server::impl::sweep() {
  sweep_timer.expires_after(std::chrono::milliseconds(250));
  sweep_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    int64_t now = steady_ms();
    std::vector<std::shared_ptr<server_link>> due;
    {
      std::lock_guard lock(live_mu);
      std::erase_if(live, [&](const std::weak_ptr<server_link>& w) {
        auto l = w.lock();
        if (!l) return true;
        if (l->overdue(now)) due.push_back(std::move(l));
        return false;
      });
    }
    for (auto& l : due) l->time_out();
    sweep();
  });
}

void mqtt_server::impl::tick() {
  tick_timer.expires_after(std::chrono::seconds(1));
  tick_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    asio::post(workers, [this] {
      brk->tick();
      status st = brk->save();
      if (!st.ok()) std::fprintf(stderr, "mqtt: saving broker state: %s\n", st.to_string().c_str());
    });
    tick();
  });
}

mqtt_server::mqtt_server(mqtt_server_options options, mqtt_hooks hooks)
    : impl_(std::make_shared<impl>(std::move(options), std::move(hooks))) {}

mqtt_server::~mqtt_server() { stop(); }

result<uint16_t> mqtt_server::impl::bind(tcp::acceptor& a, const std::string& host, uint16_t port,
                                         const char* what) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return error(errc::invalid_argument, std::string("bad ") + what + " listen address " + host);
  tcp::endpoint ep(addr, port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error(errc::io_error,
                 std::string(what) + " listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  return a.local_endpoint().port();
}

status mqtt_server::impl::load_tls() {
  auto ctx = tls::make_server_context(options.tls->cert_chain_file, options.tls->private_key_file);
  if (!ctx.ok()) return error(ctx.error().code(), "MQTT TLS: " + ctx.error().message());
  tls_ctx = std::move(*ctx);
  return {};
}

result<uint16_t> mqtt_server::start() {
  impl& s = *impl_;
  if (s.options.tls) {
    if (status st = s.load_tls(); !st.ok()) return st;
  }
  status st = s.brk->load();
  if (!st.ok()) return st;
  uint16_t port = 0;
  if (s.options.plain) {
    auto p = s.bind(s.acceptor, s.options.host, s.options.port, "MQTT");
    if (!p.ok()) return p.error();
    port = *p;
  }
  if (s.options.tls) {
    auto p = s.bind(s.tls_acceptor, s.options.tls->host, s.options.tls->port, "MQTT TLS");
    if (!p.ok()) return p.error();
    s.tls_port = *p;
  }
  if (s.options.plain) s.accept(s.acceptor, false);
  if (s.options.tls) s.accept(s.tls_acceptor, true);
  s.tick();
  s.sweep();
  for (size_t i = 0; i < std::max<size_t>(1, s.options.io_threads); ++i) {
    s.threads.emplace_back([&s] { s.io.run(); });
  }
  s.started = true;
  return port;
}

void mqtt_server::stop() {
  impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  if (!s.started) return;
  asio::post(s.io, [&s] {
    boost::system::error_code ec;
    s.acceptor.close(ec);
    s.tls_acceptor.close(ec);
    s.tick_timer.cancel();
    s.sweep_timer.cancel();
  });
  {
    std::lock_guard lock(s.live_mu);
    for (auto& w : s.live) {
      if (auto l = w.lock()) l->abort();
    }
  }
  // Let the closes reach the broker (wills, session detach) before stopping.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.connections.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.workers.join();
  s.hook_pool.join();
  s.io.stop();
  for (auto& t : s.threads) t.join();
  status st = s.brk->save(true);
  if (!st.ok()) std::fprintf(stderr, "mqtt: saving broker state: %s\n", st.to_string().c_str());
}

uint16_t mqtt_server::tls_port() const { return impl_->tls_port; }

size_t mqtt_server::open_connections() const { return impl_->connections.load(); }

mqtt::broker& mqtt_server::broker() { return *impl_->brk; }

}  // namespace liandu::connect::mqtt
