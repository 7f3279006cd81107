// MQTT load generator: N publishers → 1 subscriber over real TCP, or N idle
// connections held open. Used by bench/mqtt/run.sh against mosquitto, the
// standalone mqtt_test_server and `liandu serve`.
//
//   mqtt_load --port P [--host 127.0.0.1] [--publishers 4] [--qos 0|1]
//             [--duration 5 | --messages N] [--payload 100] [--window 1000]
//             [--rate R] [--topic bench] [--user U --password P]
//   mqtt_load --port P --idle 10000 [--hold 10]
//
// One thread, one epoll loop, MQTT 3.1.1. Packets are encoded once with the
// project codec (CONNECT, SUBSCRIBE, one PUBLISH per publisher) and copied
// into the send buffer with the sequence number, the send timestamp and (QoS
// 1) the packet id patched in place. The payload is a line-protocol line of
// exactly --payload bytes, so the same load also exercises ingest rules:
//
//   bench,pub=0003 seq=0000001234i,ts=0000000123456789012i,pad="xxxx…"
//
// ts is CLOCK_MONOTONIC nanoseconds when the message was put in the send
// buffer; the subscriber takes now − ts as the end-to-end latency.
//
// Flow control: every publisher has window/publishers messages outstanding at
// most, counted end to end (sent, not yet received by the subscriber; for QoS
// 1 also not yet PUBACKed), so queues stay bounded and no broker has to drop
// messages. --rate paces the publishers to R messages per second in all
// (open loop within the window), for latency at a load every server carries;
// without it they send as fast as the window allows. The rate is messages received by the subscriber divided
// by the time from the first send to the last receive. The subscriber acknowledges QoS 1 deliveries at once.
//
// Output: one line of key=value pairs (mode, publishers, qos, sent, received,
// lost, seconds, msgs_per_s, p50_ms, p99_ms, max_ms, load_cpu_s: this
// process's CPU time). Exit status 1 when a
// connection fails or nothing was received.
//
// Idle mode opens N connections (CONNECT, keep-alive 600 s), waits for every
// CONNACK, prints "ready N" and holds them for --hold seconds, then resets
// them (SO_LINGER 0: no TIME_WAIT left behind for the next run).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "connect/mqtt/codec/codec.h"

using namespace liandu::connect::mqtt;

namespace {

int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "mqtt_load: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct options {
  std::string host = "127.0.0.1";
  int port = 1883;
  int publishers = 4;
  int qos = 0;
  double duration = 5;
  int64_t messages = 0;  // > 0: stop after this many instead of duration
  size_t payload = 100;
  int64_t window = 1000;
  double rate = 0;  // > 0: messages per second in all, paced
  std::string topic = "bench";
  std::string user, password;
  int idle = 0;
  double hold = 10;
};

// Fixed payload layout (offsets of the patched digits).
constexpr size_t pub_at = 10, seq_at = 19, ts_at = 34, min_payload = 62;

void put_digits(char* at, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

uint64_t get_digits(const char* at, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) v = v * 10 + static_cast<uint64_t>(at[i] - '0');
  return v;
}

std::string make_payload(size_t size, int pub) {
  std::string p = "bench,pub=0000 seq=0000000000i,ts=0000000000000000000i,pad=\"";
  p.append(size - p.size() - 1, 'x');
  p += '"';
  put_digits(p.data() + pub_at, static_cast<uint64_t>(pub), 4);
  return p;
}

struct conn {
  int fd = -1;
  int index = 0;  // publisher number; -1: subscriber
  bool connected = false;
  bool want_out = false;
  std::string in;
  size_t in_pos = 0;
  std::string out;
  size_t out_pos = 0;
  // Publisher state.
  std::string tmpl;  // encoded PUBLISH
  size_t payload_at = 0;
  int64_t sent = 0, acked = 0, received = 0;
};

class load {
 public:
  explicit load(options o) : o_(std::move(o)) {
    ep_ = epoll_create1(0);
    if (ep_ < 0) die("epoll_create1");
  }

  int run_idle() {
    raise_fd_limit(static_cast<rlim_t>(o_.idle) + 64);
    std::vector<conn> cs(static_cast<size_t>(o_.idle));
    size_t acked = 0;
    // Connect in slices so the listen backlog is never the limit.
    size_t next = 0;
    int64_t deadline = mono_ns() + 120'000'000'000;
    while (acked < cs.size()) {
      while (next < cs.size() && next - acked < 500) {
        open(cs[next], -2, "mqb-idle-" + std::to_string(getpid()) + "-" + std::to_string(next));
        ++next;
      }
      poll(100, [&](conn& c) {
        if (!c.connected && parse(c)) ++acked;
      });
      if (mono_ns() > deadline) {
        std::fprintf(stderr, "mqtt_load: only %zu of %zu connections acknowledged\n", acked, cs.size());
        return 1;
      }
    }
    std::printf("ready %zu\n", cs.size());
    std::fflush(stdout);
    int64_t until = mono_ns() + static_cast<int64_t>(o_.hold * 1e9);
    while (mono_ns() < until) poll(200, [&](conn& c) { parse(c); });
    for (conn& c : cs) {
      linger l{1, 0};
      setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(c.fd);
    }
    return 0;
  }

  int run_pubsub() {
    if (o_.payload < min_payload) {
      std::fprintf(stderr, "mqtt_load: --payload must be at least %zu\n", min_payload);
      return 2;
    }
    raise_fd_limit(static_cast<rlim_t>(o_.publishers) + 64);
    int64_t per_pub = std::max<int64_t>(1, o_.window / o_.publishers);
    if (o_.qos == 1) per_pub = std::min<int64_t>(per_pub, 60000);
    int64_t chunk = o_.rate > 0 ? 1 : std::min<int64_t>(32, std::max<int64_t>(1, per_pub / 4));
    std::string tag = std::to_string(getpid());
    // Subscriber first, and subscribed before any publisher sends.
    conn sub;
    sub.index = -1;
    open(sub, -1, "mqb-sub-" + tag);
    while (!sub.connected) poll(100, [&](conn& c) { parse(c); });
    subscribe_packet sp;
    sp.packet_id = 1;
    sp.subscriptions.push_back(subscription{o_.topic + "/#", static_cast<uint8_t>(o_.qos), false, false, 0});
    queue(sub, encode_packet(sp, protocol_v311));
    while (!subscribed_) poll(100, [&](conn& c) { parse(c); });

    std::vector<conn> pubs(static_cast<size_t>(o_.publishers));
    for (int i = 0; i < o_.publishers; ++i) {
      conn& c = pubs[static_cast<size_t>(i)];
      c.index = i;
      open(c, i, "mqb-pub-" + tag + "-" + std::to_string(i));
      publish_packet p;
      p.qos = static_cast<uint8_t>(o_.qos);
      p.topic = o_.topic + "/p" + std::to_string(i);
      p.packet_id = o_.qos ? 1 : 0;
      p.payload = make_payload(o_.payload, i);
      c.tmpl = encode_packet(p, protocol_v311);
      c.payload_at = c.tmpl.size() - o_.payload;
    }
    pubs_ = &pubs;
    for (;;) {
      bool all = true;
      for (conn& c : pubs) all = all && c.connected;
      if (all) break;
      poll(100, [&](conn& c) { parse(c); });
    }
    latencies_.reserve(1 << 20);
    start_ns_ = mono_ns();
    int64_t stop_ns = o_.messages > 0 ? INT64_MAX : start_ns_ + static_cast<int64_t>(o_.duration * 1e9);
    int64_t total_sent = 0;
    int64_t last_progress = start_ns_;
    int64_t last_received = 0;
    bool sending = true;
    for (;;) {
      int64_t now = mono_ns();
      if (sending && (now >= stop_ns || (o_.messages > 0 && total_sent >= o_.messages))) sending = false;
      if (sending) {
        for (conn& c : pubs) {
          int64_t outstanding = c.sent - std::min(c.received, o_.qos ? c.acked : c.received);
          int64_t n = per_pub - outstanding;
          if (o_.messages > 0) n = std::min(n, o_.messages - total_sent);
          if (o_.rate > 0) {
            auto due = static_cast<int64_t>(static_cast<double>(now - start_ns_) * o_.rate / 1e9) + 1;
            n = std::min(n, due - total_sent);
          }
          // Refill in chunks, not message by message: fewer, larger writes.
          if (n <= 0 || (outstanding > 0 && n < chunk)) continue;
          n = std::min<int64_t>(n, 64);
          for (int64_t k = 0; k < n; ++k) {
            ++c.sent;
            size_t at = c.out.size();
            c.out += c.tmpl;
            char* pl = c.out.data() + at + c.payload_at;
            put_digits(pl + seq_at, static_cast<uint64_t>(c.sent), 10);
            put_digits(pl + ts_at, static_cast<uint64_t>(mono_ns()), 19);
            if (o_.qos) {
              uint16_t id = static_cast<uint16_t>(c.sent % 65535 + 1);
              c.out[at + c.payload_at - 2] = static_cast<char>(id >> 8);
              c.out[at + c.payload_at - 1] = static_cast<char>(id & 0xff);
            }
          }
          total_sent += n;
          flush(c);
        }
      }
      poll(sending ? 1 : 20, [&](conn& c) { parse(c); });
      if (received_ != last_received) {
        last_received = received_;
        last_progress = mono_ns();
      }
      if (!sending && received_ >= total_sent) break;
      if (mono_ns() - last_progress > 3'000'000'000) {
        std::fprintf(stderr, "mqtt_load: no message for 3 s, giving up (%lld of %lld received)\n",
                     static_cast<long long>(received_), static_cast<long long>(total_sent));
        break;
      }
    }
    double secs = received_ > 0 ? static_cast<double>(last_recv_ns_ - start_ns_) / 1e9 : 0;
    double p50 = 0, p99 = 0, mx = 0;
    if (!latencies_.empty()) {
      auto pct = [&](double q) {
        size_t k =
            std::min(latencies_.size() - 1, static_cast<size_t>(q * static_cast<double>(latencies_.size())));
        std::nth_element(latencies_.begin(), latencies_.begin() + static_cast<long>(k), latencies_.end());
        return static_cast<double>(latencies_[k]) / 1000.0;
      };
      p50 = pct(0.50);
      p99 = pct(0.99);
      mx = static_cast<double>(*std::max_element(latencies_.begin(), latencies_.end())) / 1000.0;
    }
    std::printf(
        "mode=pubsub publishers=%d qos=%d payload=%zu sent=%lld received=%lld lost=%lld seconds=%.3f "
        "msgs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f load_cpu_s=%.2f\n",
        o_.publishers, o_.qos, o_.payload, static_cast<long long>(total_sent),
        static_cast<long long>(received_), static_cast<long long>(total_sent - received_), secs,
        secs > 0 ? static_cast<double>(received_) / secs : 0, p50, p99, mx, cpu_seconds());
    std::fflush(stdout);
    for (conn& c : pubs) ::close(c.fd);
    ::close(sub.fd);
    return received_ > 0 ? 0 : 1;
  }

 private:
  static double cpu_seconds() {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }

  static void raise_fd_limit(rlim_t want) {
    rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
    if (r.rlim_cur >= want) return;
    r.rlim_cur = std::min(want, r.rlim_max);
    setrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur < want) {
      std::fprintf(stderr, "mqtt_load: open files limit %llu < %llu (raise ulimit -n)\n",
                   static_cast<unsigned long long>(r.rlim_cur), static_cast<unsigned long long>(want));
    }
  }

  void open(conn& c, int index, const std::string& client_id) {
    c.index = index;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c.fd < 0) die("socket");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(o_.port));
    if (inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr) != 1) die("bad --host");
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
      die("connect");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &c;
    c.want_out = true;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) die("epoll_ctl");
    connect_packet cp;
    cp.client_id = client_id;
    cp.keep_alive = 600;
    cp.clean_start = true;
    if (!o_.user.empty()) cp.username = o_.user;
    if (!o_.password.empty()) cp.password = o_.password;
    c.out = encode_packet(cp, protocol_v311);
  }

  void queue(conn& c, const std::string& bytes) {
    c.out += bytes;
    flush(c);
  }

  void set_out(conn& c, bool on) {
    if (c.want_out == on) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void flush(conn& c) {
    while (c.out_pos < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ENOTCONN) break;
        die("send");
      }
      c.out_pos += static_cast<size_t>(n);
    }
    if (c.out_pos == c.out.size()) {
      c.out.clear();
      c.out_pos = 0;
      set_out(c, false);
    } else {
      set_out(c, true);
    }
  }

  template <typename F>
  void poll(int timeout_ms, F&& on_readable) {
    epoll_event evs[256];
    int n = epoll_wait(ep_, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      conn& c = *static_cast<conn*>(evs[i].data.ptr);
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        std::fprintf(stderr, "mqtt_load: connection %d closed by the server\n", c.index);
        die("connection");
      }
      if (evs[i].events & EPOLLOUT) flush(c);
      if (evs[i].events & EPOLLIN) {
        char buf[65536];
        for (;;) {
          ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            if (static_cast<size_t>(r) < sizeof buf) break;
            continue;
          }
          if (r == 0) {
            std::fprintf(stderr, "mqtt_load: connection %d closed by the server\n", c.index);
            std::exit(1);
          }
          if (errno == EAGAIN || errno == EINTR) break;
          die("recv");
        }
        on_readable(c);
      }
    }
  }

  // Consumes the complete packets in c.in; returns true when a CONNACK was
  // among them.
  bool parse(conn& c) {
    bool connack = false;
    const char* d = c.in.data();
    size_t size = c.in.size();
    size_t& pos = c.in_pos;
    int64_t now = 0;
    while (size - pos >= 2) {
      uint8_t h = static_cast<uint8_t>(d[pos]);
      uint32_t len = 0;
      size_t i = pos + 1;
      int shift = 0;
      bool complete = false;
      while (i < size && shift <= 21) {
        uint8_t b = static_cast<uint8_t>(d[i++]);
        len |= uint32_t{b & 0x7Fu} << shift;
        shift += 7;
        if (!(b & 0x80)) {
          complete = true;
          break;
        }
      }
      if (!complete || size - i < len) break;
      const char* body = d + i;
      switch (h >> 4) {
        case 2:  // CONNACK
          if (len < 2 || body[1] != 0) {
            std::fprintf(stderr, "mqtt_load: CONNACK refused (code %d)\n", len >= 2 ? body[1] : -1);
            std::exit(1);
          }
          c.connected = true;
          connack = true;
          break;
        case 9:  // SUBACK
          if (len < 3 || static_cast<uint8_t>(body[2]) >= 0x80) {
            std::fprintf(stderr, "mqtt_load: subscription refused\n");
            std::exit(1);
          }
          subscribed_ = true;
          break;
        case 4:  // PUBACK for a publisher
          ++c.acked;
          break;
        case 3: {  // PUBLISH to the subscriber
          uint8_t qos = (h >> 1) & 3;
          size_t tlen = (static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]);
          size_t off = 2 + tlen;
          if (qos) {
            c.out.push_back(0x40);
            c.out.push_back(0x02);
            c.out.push_back(body[off]);
            c.out.push_back(body[off + 1]);
            off += 2;
          }
          const char* pl = body + off;
          size_t plen = len - off;
          if (plen >= min_payload && pubs_) {
            if (!now) now = mono_ns();
            auto pub = get_digits(pl + pub_at, 4);
            int64_t ts = static_cast<int64_t>(get_digits(pl + ts_at, 19));
            if (pub < pubs_->size()) ++(*pubs_)[pub].received;
            latencies_.push_back(static_cast<uint32_t>(std::min<int64_t>((now - ts) / 1000, UINT32_MAX)));
            ++received_;
            last_recv_ns_ = now;
          }
          break;
        }
        default: break;
      }
      pos = i + len;
    }
    if (pos == size) {
      c.in.clear();
      pos = 0;
    } else if (pos > 65536) {
      c.in.erase(0, pos);
      pos = 0;
    }
    if (!c.out.empty()) flush(c);
    return connack;
  }

  options o_;
  int ep_ = -1;
  bool subscribed_ = false;
  std::vector<conn>* pubs_ = nullptr;
  std::vector<uint32_t> latencies_;  // microseconds
  int64_t received_ = 0;
  int64_t start_ns_ = 0, last_recv_ns_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "mqtt_load: %s needs a value\n", k.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = std::stoi(v);
    else if (k == "--publishers")
      o.publishers = std::max(1, std::stoi(v));
    else if (k == "--qos")
      o.qos = std::stoi(v) ? 1 : 0;
    else if (k == "--duration")
      o.duration = std::stod(v);
    else if (k == "--messages")
      o.messages = std::stoll(v);
    else if (k == "--payload")
      o.payload = std::stoul(v);
    else if (k == "--window")
      o.window = std::max<int64_t>(1, std::stoll(v));
    else if (k == "--topic")
      o.topic = v;
    else if (k == "--user")
      o.user = v;
    else if (k == "--password")
      o.password = v;
    else if (k == "--idle")
      o.idle = std::stoi(v);
    else if (k == "--hold")
      o.hold = std::stod(v);
    else if (k == "--rate")
      o.rate = std::stod(v);
    else {
      std::fprintf(stderr, "mqtt_load: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (o.publishers > 9999) {
    std::fprintf(stderr, "mqtt_load: at most 9999 publishers\n");
    return 2;
  }
  load l(o);
  return o.idle > 0 ? l.run_idle() : l.run_pubsub();
}
