#include "http/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "http/gzip.h"
#include "tls/server_context.h"

namespace liandu::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

// After deciding to close, the server stops sending, then reads and discards
// what the client still sends for a short while before closing: closing with
// unread bytes makes the kernel send a reset, and the client may lose the
// response (a 413 sent before the body was read) that is already on its way.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr size_t linger_max_bytes = 64 << 20;
constexpr size_t first_read_bytes = 4096;
constexpr auto accept_retry_delay = std::chrono::milliseconds(50);

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Beast 1.74 speaks boost::string_view.
std::string_view to_std(beast::string_view s) { return {s.data(), s.size()}; }

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Headers the server owns: a handler's copy would corrupt the framing.
bool framing_header(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection");
}

template <class Fields>
void copy_headers(const header_list& from, Fields& to) {
  for (const auto& [name, value] : from) {
    if (name.empty() || has_crlf(name) || has_crlf(value) || framing_header(name)) continue;
    to.insert(name, value);
  }
}

// The handle the server keeps of each connection, for shutdown.
class session_base {
 public:
  virtual ~session_base() = default;
  // Both post to the session's strand; callable from any thread.
  virtual void post_shutdown() = 0;  // close if idle, else close after the response
  virtual void post_close() = 0;     // close now
};

// The queue behind a live_channel. send() may come from any thread; the
// WebSocket session drains it on its strand through kick_.
class ws_channel final : public live_channel {
 public:
  static constexpr size_t max_queued = 1024;

  bool send(std::string text) override {
    std::function<void()> kick;
    {
      std::lock_guard lock(mu_);
      if (!open_) return false;
      if (queue_.size() >= max_queued) {
        queue_.pop_front();  // slow consumer: drop the oldest
        ++dropped_;
      }
      queue_.push_back(std::move(text));
      kick = kick_;
    }
    if (kick) kick();
    return true;
  }
  bool is_open() const override {
    std::lock_guard lock(mu_);
    return open_;
  }
  uint64_t dropped() const override {
    std::lock_guard lock(mu_);
    return dropped_;
  }
  void close() override {
    std::function<void()> closer;
    {
      std::lock_guard lock(mu_);
      open_ = false;
      queue_.clear();
      closer = closer_;
    }
    if (closer) closer();
  }

  bool pop(std::string& out) {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return false;
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }
  void attach(std::function<void()> kick, std::function<void()> closer) {
    std::lock_guard lock(mu_);
    kick_ = std::move(kick);
    closer_ = std::move(closer);
  }
  void mark_closed() {
    std::lock_guard lock(mu_);
    open_ = false;
    queue_.clear();
    kick_ = nullptr;
    closer_ = nullptr;
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  bool open_ = true;
  uint64_t dropped_ = 0;
  std::function<void()> kick_;
  std::function<void()> closer_;
};

// A WebSocket connection after the upgrade: reads (and ignores) client
// messages to notice pings and close, and writes the channel's queue.
class ws_session : public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(beast::tcp_stream&& stream, std::shared_ptr<ws_channel> ch)
      : ws_(std::move(stream)), ch_(std::move(ch)) {}

  void start(bhttp::request<bhttp::string_body> upgrade) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(beast::websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(64 << 10);
    ws_.async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->ch_->mark_closed();
      std::weak_ptr<ws_session> weak = self;
      auto executor = self->ws_.get_executor();
      self->ch_->attach(
          [weak, executor] {
            net::post(executor, [weak] {
              if (auto s = weak.lock()) s->write_next();
            });
          },
          [weak, executor] {
            net::post(executor, [weak] {
              if (auto s = weak.lock()) s->close();
            });
          });
      self->read();
      self->write_next();
    });
  }

 private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->ch_->mark_closed();
      self->in_.consume(n);
      self->read();
    });
  }
  void write_next() {
    if (writing_ || !ch_->pop(out_)) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->ch_->mark_closed();
      self->write_next();
    });
  }
  void close() {
    ws_.async_close(beast::websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) { self->ch_->mark_closed(); });
  }

  beast::websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<ws_channel> ch_;
  beast::flat_buffer in_;
  std::string out_;
  bool writing_ = false;
};

}  // namespace

struct server::impl {
  impl(router r, server_limits l, size_t threads)
      : router_(std::move(r)),
        limits_(l),
        io_threads_(std::max<size_t>(threads, 1)),
        ioc_(static_cast<int>(io_threads_)),
        work_(net::make_work_guard(ioc_)),
        pool_(l.handler_threads ? l.handler_threads : std::max<size_t>(8, 4 * io_threads_)) {
    const std::string body = "{\"error\":\"too many open connections\"}\n";
    busy_response_ =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "X-Influxdb-Error: too many open connections\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // Listeners own I/O objects of ioc_: drop them while ioc_ still exists.
  ~impl() { listeners_.clear(); }

  class listener;
  result<uint16_t> listen(const std::string& host, uint16_t port, std::shared_ptr<net::ssl::context> tls);
  void on_accept(tcp::socket socket, const std::shared_ptr<net::ssl::context>& tls);
  void reject(tcp::socket socket);
  void start();
  void stop_accepting();
  void shutdown(std::chrono::milliseconds grace);
  std::vector<std::shared_ptr<session_base>> live_sessions();

  // Runs on a handler thread. Exceptions end here, as a 500.
  response run_handler(const request& req) const {
    try {
      return router_.dispatch(req);
    } catch (const std::exception& e) {
      return json_error(500, std::string("internal error: ") + e.what());
    } catch (...) {
      return json_error(500, "internal error");
    }
  }

  // A GET or HEAD runs on the I/O thread that read it while another I/O
  // thread stays free for every other connection (so never with one I/O
  // thread): a small query then costs no hand-over to a handler thread and
  // back, two thread wake-ups that were a quarter of its CPU time. Requests
  // with bodies (writes wait for a WAL fsync) always go to the pool.
  bool enter_inline(const request& req) {
    if (req.method != bhttp::verb::get && req.method != bhttp::verb::head) return false;
    size_t n = inline_running_.load(std::memory_order_relaxed);
    while (n + 1 < io_threads_) {
      if (inline_running_.compare_exchange_weak(n, n + 1, std::memory_order_acquire)) return true;
    }
    return false;
  }
  void leave_inline() { inline_running_.fetch_sub(1, std::memory_order_release); }

  const router router_;
  const server_limits limits_;
  const size_t io_threads_;
  std::atomic<size_t> inline_running_{0};
  std::string busy_response_;
  std::atomic<size_t> open_{0};
  std::atomic<size_t> rejecting_{0};
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> past_grace_{false};  // shutdown's grace is over: drop responses

  std::mutex mu_;  // guards everything below, up to ioc_
  std::unordered_map<session_base*, std::weak_ptr<session_base>> sessions_;
  std::vector<std::shared_ptr<listener>> listeners_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::condition_variable stopped_cv_;

  // Handlers still queued in ioc_ or pool_ own sessions, whose destructors
  // touch the members above and whose sockets need ioc_: so these three come
  // last (destroyed first), and pool_ after ioc_ (destroyed before it).
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  net::thread_pool pool_;  // handler threads
};

namespace {

// One connection. Every member is touched only on the connection's strand,
// except producer_, which a handler thread calls while the strand waits for
// it (each hand-over is a post, which orders the accesses).
template <bool Tls>
class session : public session_base, public std::enable_shared_from_this<session<Tls>> {
 public:
  using stream_type = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

  session(server::impl& srv, tcp::socket&& socket) requires(!Tls) : srv_(srv), stream_(std::move(socket)) {}
  session(server::impl& srv, tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls) requires(Tls)
      : srv_(srv), tls_(std::move(tls)), stream_(std::move(socket), *tls_) {}

  ~session() override {
    srv_.open_.fetch_sub(1);
    std::lock_guard lock(srv_.mu_);
    srv_.sessions_.erase(this);
  }

  void start() {
    {
      std::lock_guard lock(srv_.mu_);
      srv_.sessions_.emplace(this, this->weak_from_this());
    }
    beast::error_code ec;
    remote_ = tcp_layer().socket().remote_endpoint(ec);
    deadline_ = clock_type::now() + srv_.limits_.header_timeout;
    if constexpr (Tls) {
      phase_ = phase::idle;
      tcp_layer().expires_at(deadline_);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close_now();
                                self->read_request();
                              });
    } else {
      read_request();
    }
  }

  void post_shutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->phase_ == phase::idle) self->close_now();
    });
  }

  void post_close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  // idle: waiting for the first byte of a request (or the TLS handshake);
  // shutdown closes such connections at once. The others finish first.
  enum class phase { idle, reading, handling, writing, closed };

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  void read_request() {
    if (srv_.shutting_down_.load()) return close_gracefully();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(srv_.limits_.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(srv_.limits_.max_body_bytes));
    is_head_ = false;
    keep_alive_ = false;
    if (buffer_.size() > 0) return on_first_bytes({}, 0);  // pipelined request already here
    phase_ = phase::idle;
    if (first_) {
      tcp_layer().expires_at(deadline_);
    } else {
      tcp_layer().expires_after(srv_.limits_.idle_timeout);
    }
    stream_.async_read_some(
        buffer_.prepare(first_read_bytes),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) { self->on_first_bytes(ec, n); });
  }

  void on_first_bytes(beast::error_code ec, size_t n) {
    if (ec) return close_now();  // idle timeout, client gone, or shutdown
    buffer_.commit(n);
    phase_ = phase::reading;
    // The first request's header deadline runs from accept; a later one's
    // from its first byte.
    if (!first_) deadline_ = clock_type::now() + srv_.limits_.header_timeout;
    tcp_layer().expires_at(deadline_);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto& msg = parser_->get();
    version_ = msg.version();
    auto length = parser_->content_length();
    if (length && *length > srv_.limits_.max_body_bytes) {
      return send_error(413, "Request Entity Too Large", true);
    }
    auto expect = to_std(msg[bhttp::field::expect]);
    if (!expect.empty() && iequals(expect, "100-continue") && !parser_->is_done()) {
      static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
      tcp_layer().expires_after(srv_.limits_.idle_timeout);
      net::async_write(stream_, net::buffer(continue_line),
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->close_now();
                         self->read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return on_body({});
    tcp_layer().expires_after(srv_.limits_.idle_timeout);
    if (auto length = parser_->content_length(); length && !parser_->chunked()) {
      return read_body_of_length(static_cast<size_t>(*length));
    }
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  // A body of known length (checked against max_body_bytes in on_header) is
  // read straight into its string. Beast's parser would read it into buffer_
  // at most 64 KiB per call and copy each piece into the string body: a
  // user-space copy of every byte and an asio operation per 64 KiB, several
  // percent of the server's CPU on 5,000-line writes. Bytes of the body
  // already read with the header are taken from buffer_; bytes after the
  // body stay there for the next request.
  void read_body_of_length(size_t length) {
    body_.resize(length);
    const size_t have = std::min(buffer_.size(), length);
    net::buffer_copy(net::buffer(body_.data(), have), buffer_.data());
    buffer_.consume(have);
    if (have == length) return on_body_of_length({});
    net::async_read(
        stream_, net::buffer(body_.data() + have, length - have),
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_body_of_length(ec); });
  }

  void on_body_of_length(beast::error_code ec) {
    if (ec) return close_now();  // timeout (slow client), reset, end of stream mid-body
    bhttp::request<bhttp::string_body> msg = parser_->release();
    msg.body() = std::move(body_);
    body_ = std::string();
    handle_request(std::move(msg));
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return send_error(413, "Request Entity Too Large", true);
    if (ec == bhttp::error::header_limit) return send_error(431, "Request Header Fields Too Large", true);
    bool protocol_error = ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
                          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
    if (protocol_error) return send_error(400, "Bad Request: " + ec.message(), true);
    close_now();  // timeout (slow client), reset, end of stream
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    handle_request(parser_->release());
  }

  void handle_request(bhttp::request<bhttp::string_body> msg) {
    if constexpr (!Tls) {
      if (beast::websocket::is_upgrade(msg)) return upgrade(std::move(msg));
    }
    keep_alive_ = msg.keep_alive();
    request req;
    req.method = msg.method();
    req.method_string = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto parts = split_target(req.target);
    if (!parts) return send_error(400, parts.error().message(), false);
    req.path = std::move(parts->path);
    req.query = std::move(parts->query);
    req.headers.reserve(std::distance(msg.begin(), msg.end()));
    for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.remote_address = remote_.address().to_string();
    req.remote_port = remote_.port();
    req.tls = Tls;
    auto encoding = to_std(msg[bhttp::field::content_encoding]);
    if (encoding.empty() || iequals(encoding, "identity")) {
      req.body = std::move(msg.body());
    } else if (iequals(encoding, "gzip")) {
      auto plain = gunzip(msg.body(), srv_.limits_.max_body_bytes);
      if (!plain) {
        if (plain.error().code() == errc::limit_exceeded)
          return send_error(413, "Request Entity Too Large", false);
        return send_error(400, plain.error().message(), false);
      }
      req.body = std::move(*plain);
    } else {
      return send_error(415, "unsupported Content-Encoding: " + std::string(encoding), false);
    }
    is_head_ = req.method == bhttp::verb::head;
    dispatch(std::move(req));
  }

  // A WebSocket upgrade: the handler decides (auth, parameters) on a handler
  // thread; on 101 the TCP stream moves to a ws_session and this HTTP session
  // ends. Upgraded connections no longer count against max_connections.
  void upgrade(bhttp::request<bhttp::string_body> msg) requires(!Tls) {
    request req;
    req.method = msg.method();
    req.target = std::string(msg.target());
    auto parts = split_target(req.target);
    if (!parts) return send_error(400, parts.error().message(), true);
    req.path = std::move(parts->path);
    req.query = std::move(parts->query);
    for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.remote_address = remote_.address().to_string();
    req.remote_port = remote_.port();
    const websocket_handler* h = srv_.router_.find_websocket(req.path);
    if (h == nullptr) return send_error(404, "no WebSocket endpoint at " + req.path, true);
    phase_ = phase::handling;
    tcp_layer().expires_never();
    auto channel = std::make_shared<ws_channel>();
    net::post(srv_.pool_, [self = this->shared_from_this(), h, req = std::move(req), msg = std::move(msg),
                           channel]() mutable {
      response res;
      try {
        res = (*h)(req, channel);
      } catch (const std::exception& e) {
        res = json_error(500, std::string("internal error: ") + e.what());
      }
      auto executor = self->stream_.get_executor();
      net::post(executor,
                [self = std::move(self), res = std::move(res), msg = std::move(msg), channel]() mutable {
                  if (res.status != 101) {
                    channel->mark_closed();
                    self->close_after_ = true;
                    return self->write_response(std::move(res));
                  }
                  self->phase_ = phase::closed;
                  auto ws = std::make_shared<ws_session>(std::move(self->stream_), channel);
                  ws->start(std::move(msg));
                });
    });
  }

  void dispatch(request req) {
    phase_ = phase::handling;
    tcp_layer().expires_never();
    if (srv_.enter_inline(req)) {
      response res = srv_.run_handler(req);
      srv_.leave_inline();
      return write_response(std::move(res));
    }
    net::post(srv_.pool_, [self = this->shared_from_this(), req = std::move(req)]() mutable {
      response res = self->srv_.run_handler(req);
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), res = std::move(res)]() mutable {
        self->write_response(std::move(res));
      });
    });
  }

  // close: the request was not (fully) read, so the connection cannot be reused.
  void send_error(unsigned status, std::string_view message, bool close) {
    if (close) close_after_ = true;
    write_response(json_error(status, message));
  }

  void write_response(response res) {
    if (phase_ == phase::closed) return;
    // Past the shutdown grace a response is dropped: a handler that ran on
    // this I/O thread finishes after post_close() was queued behind it.
    if (srv_.past_grace_.load()) return close_now();
    if (srv_.shutting_down_.load()) close_after_ = true;
    bool keep = keep_alive_ && !close_after_;
    phase_ = phase::writing;
    if (res.status < 200 || res.status > 599) res = json_error(500, "handler returned an invalid status");
    if (res.stream && !is_head_) return write_stream(std::move(res), keep);

    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    msg->version(version_);
    msg->result(res.status);
    copy_headers(res.headers, *msg);
    bool no_body = res.status == 204 || res.status == 304;
    if (!no_body) {
      if (is_head_) {
        if (!res.stream) msg->content_length(res.body.size());
      } else {
        msg->body() = std::move(res.body);
        msg->prepare_payload();
      }
    }
    msg->keep_alive(keep);
    tcp_layer().expires_after(srv_.limits_.idle_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = this->shared_from_this(), msg, keep](beast::error_code ec, size_t) {
                         self->on_written(ec, keep);
                       });
  }

  void on_written(beast::error_code ec, bool keep) {
    if (ec) return close_now();
    if (!keep) return close_gracefully();
    first_ = false;
    read_request();
  }

  void write_stream(response res, bool keep) {
    auto head = std::make_shared<bhttp::response<bhttp::empty_body>>();
    head->version(version_);
    head->result(res.status);
    copy_headers(res.headers, *head);
    head->keep_alive(keep);
    head->chunked(true);
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*head);
    producer_ = std::move(res.stream);
    stream_keep_ = keep;
    tcp_layer().expires_after(srv_.limits_.idle_timeout);
    bhttp::async_write_header(stream_, *serializer,
                              [self = this->shared_from_this(), head, serializer,
                               first = std::move(res.body)](beast::error_code ec, size_t) mutable {
                                if (ec) return self->close_now();
                                self->write_chunk(std::move(first));
                              });
  }

  void write_chunk(std::string data) {
    if (phase_ == phase::closed) return;
    if (data.empty()) return produce_next();  // an empty chunk would end the body
    auto buf = std::make_shared<std::string>(std::move(data));
    tcp_layer().expires_after(srv_.limits_.idle_timeout);
    net::async_write(stream_, bhttp::make_chunk(net::buffer(*buf)),
                     [self = this->shared_from_this(), buf](beast::error_code ec, size_t) {
                       if (ec) return self->close_now();
                       self->produce_next();
                     });
  }

  void produce_next() {
    tcp_layer().expires_never();
    net::post(srv_.pool_, [self = this->shared_from_this()]() mutable {
      std::optional<std::string> chunk;
      bool failed = false;
      try {
        chunk = self->producer_();
      } catch (...) {
        failed = true;
      }
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), chunk = std::move(chunk), failed]() mutable {
        if (failed) return self->close_now();  // no last chunk: the client sees a cut response
        if (chunk) return self->write_chunk(std::move(*chunk));
        self->finish_stream();
      });
    });
  }

  void finish_stream() {
    producer_ = nullptr;
    if (phase_ == phase::closed) return;
    tcp_layer().expires_after(srv_.limits_.idle_timeout);
    net::async_write(stream_, bhttp::make_chunk_last(),
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->on_written(ec, self->stream_keep_);
                     });
  }

  void close_now() {
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    producer_ = nullptr;
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer().close();
  }

  // Stop sending, drain for a while, then close (see linger_time).
  void close_gracefully() {
    if (phase_ == phase::closed) return;
    if constexpr (Tls) {
      return close_now();
    } else {
      phase_ = phase::closed;
      beast::error_code ec;
      tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
      tcp_layer().expires_after(linger_time);
      drain();
    }
  }

  void drain() {
    if (!scratch_) scratch_ = std::make_unique<std::array<char, 16384>>();
    tcp_layer().async_read_some(net::buffer(*scratch_),
                                [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                                  self->lingered_ += n;
                                  if (ec || self->lingered_ > linger_max_bytes) {
                                    self->tcp_layer().close();
                                    return;
                                  }
                                  self->drain();
                                });
  }

  server::impl& srv_;
  std::shared_ptr<net::ssl::context> tls_;  // keeps the context alive; null for plain
  stream_type stream_;
  beast::flat_buffer buffer_;
  std::string body_;  // a body of known length being read (read_body_of_length)
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  tcp::endpoint remote_;
  phase phase_ = phase::idle;
  clock_type::time_point deadline_;
  unsigned version_ = 11;
  bool first_ = true;
  bool keep_alive_ = false;
  bool close_after_ = false;
  bool is_head_ = false;
  bool stream_keep_ = false;
  chunk_producer producer_;
  std::unique_ptr<std::array<char, 16384>> scratch_;
  size_t lingered_ = 0;
};

// Answers a connection over max_connections with a canned 503, then closes.
class rejecter : public std::enable_shared_from_this<rejecter> {
 public:
  rejecter(server::impl& srv, tcp::socket&& socket) : srv_(srv), stream_(std::move(socket)) {
    srv_.rejecting_.fetch_add(1);
  }
  ~rejecter() { srv_.rejecting_.fetch_sub(1); }

  void run() {
    stream_.expires_after(std::chrono::seconds(1));
    net::async_write(stream_, net::buffer(srv_.busy_response_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->stream_.close();
                       beast::error_code ignored;
                       self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                       self->drain();
                     });
  }

 private:
  void drain() {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > sizeof self->scratch_ * 16)
                                return self->stream_.close();
                              self->drain();
                            });
  }

  server::impl& srv_;
  beast::tcp_stream stream_;
  std::array<char, 4096> scratch_;
  size_t drained_ = 0;
};

}  // namespace

// Accepts connections on one address. The acceptor lives on its own strand.
class server::impl::listener : public std::enable_shared_from_this<listener> {
 public:
  listener(impl& srv, std::shared_ptr<net::ssl::context> tls)
      : srv_(srv),
        tls_(std::move(tls)),
        acceptor_(net::make_strand(srv.ioc_)),
        retry_(acceptor_.get_executor()) {}

  tcp::acceptor& acceptor() { return acceptor_; }

  void start() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
  }

  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      self->closed_ = true;
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void accept() {
    if (closed_) return;
    acceptor_.async_accept(net::make_strand(srv_.ioc_),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (closed_ || ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of file descriptors and the like: try again shortly instead of
      // spinning.
      retry_.expires_after(accept_retry_delay);
      retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->accept();
      });
      return;
    }
    srv_.on_accept(std::move(socket), tls_);
    accept();
  }

  impl& srv_;
  std::shared_ptr<net::ssl::context> tls_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  bool closed_ = false;
};

void server::impl::on_accept(tcp::socket socket, const std::shared_ptr<net::ssl::context>& tls) {
  if (shutting_down_.load()) return;  // the socket closes as it goes out of scope
  if (open_.load() >= limits_.max_connections) {
    if (!tls) reject(std::move(socket));
    return;  // TLS: just close; a 503 would need a handshake first
  }
  open_.fetch_add(1);
  if (tls) {
    std::make_shared<session<true>>(*this, std::move(socket), tls)->start();
  } else {
    std::make_shared<session<false>>(*this, std::move(socket))->start();
  }
}

void server::impl::reject(tcp::socket socket) {
  // Once rejections themselves pile up, just close.
  if (rejecting_.load() >= limits_.max_connections) return;
  std::make_shared<rejecter>(*this, std::move(socket))->run();
}

result<uint16_t> server::impl::listen(const std::string& host, uint16_t port,
                                      std::shared_ptr<net::ssl::context> tls) {
  std::lock_guard lock(mu_);
  if (stopping_) return error(errc::invalid_argument, "listen: server is shutting down");
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return error(errc::io_error, "listen: cannot resolve " + host + ": " + ec.message());
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto l = std::make_shared<listener>(*this, std::move(tls));
  auto& acc = l->acceptor();
  auto where = [&] { return host + ":" + std::to_string(port) + ": "; };
  if (acc.open(endpoint.protocol(), ec); ec) return error(errc::io_error, "listen " + where() + ec.message());
  if (acc.set_option(net::socket_base::reuse_address(true), ec); ec) {
    return error(errc::io_error, "listen " + where() + ec.message());
  }
  if (acc.bind(endpoint, ec); ec) return error(errc::io_error, "listen " + where() + ec.message());
  if (acc.listen(net::socket_base::max_listen_connections, ec); ec) {
    return error(errc::io_error, "listen " + where() + ec.message());
  }
  uint16_t bound = acc.local_endpoint(ec).port();
  if (ec) return error(errc::io_error, "listen " + where() + ec.message());
  listeners_.push_back(l);
  l->start();
  return bound;
}

void server::impl::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (size_t i = 0; i < io_threads_; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (...) {
          // A completion handler threw; sessions catch their own errors, so
          // keep the thread serving the others.
        }
      }
    });
  }
}

void server::impl::stop_accepting() {
  std::lock_guard lock(mu_);
  for (auto& l : listeners_) l->close();
}

std::vector<std::shared_ptr<session_base>> server::impl::live_sessions() {
  std::vector<std::shared_ptr<session_base>> out;
  std::lock_guard lock(mu_);
  for (auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

void server::impl::shutdown(std::chrono::milliseconds grace) {
  {
    std::unique_lock lock(mu_);
    if (stopping_) {
      stopped_cv_.wait(lock, [this] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  shutting_down_.store(true);
  stop_accepting();
  bool was_started;
  {
    std::lock_guard lock(mu_);
    was_started = started_;
  }
  if (was_started) {
    // Copies of the session pointers are released outside mu_: a session's
    // destructor takes mu_.
    for (auto& s : live_sessions()) s->post_shutdown();
    auto deadline = clock_type::now() + grace;
    while (open_.load() > 0 && clock_type::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    past_grace_.store(true);
    for (auto& s : live_sessions()) s->post_close();
    pool_.join();  // handlers still running finish; their responses are dropped
    auto settle = clock_type::now() + std::chrono::milliseconds(200);
    while ((open_.load() > 0 || rejecting_.load() > 0) && clock_type::now() < settle) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  } else {
    pool_.join();
  }
  work_.reset();
  ioc_.stop();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
  stopped_cv_.notify_all();
}

server::server(router routes, server_limits limits, size_t threads)
    : impl_(std::make_shared<impl>(std::move(routes), limits, threads)) {}

server::~server() { impl_->shutdown(std::chrono::milliseconds(0)); }

result<uint16_t> server::listen(const std::string& host, uint16_t port) {
  return impl_->listen(host, port, nullptr);
}

result<uint16_t> server::listen_tls(const std::string& host, uint16_t port, const tls_files& files) {
  auto ctx = tls::make_server_context(files.cert_chain_file, files.private_key_file);
  if (!ctx.ok()) return error(ctx.error().code(), "tls: " + ctx.error().message());
  return impl_->listen(host, port, std::move(*ctx));
}

void server::start() { impl_->start(); }

void server::run() {
  impl_->start();
  std::unique_lock lock(impl_->mu_);
  impl_->stopped_cv_.wait(lock, [this] { return impl_->stopped_; });
}

void server::stop_accepting() { impl_->stop_accepting(); }

void server::shutdown(std::chrono::milliseconds grace) { impl_->shutdown(grace); }

size_t server::open_connections() const { return impl_->open_.load(); }

}  // namespace liandu::http
