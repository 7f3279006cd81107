// The broker state file, data_dir/broker.state: persistent sessions (their
// subscriptions, undelivered QoS 1/2 messages and QoS 2 ids awaiting PUBREL)
// and retained messages. Rewritten whole and atomically on save.
//
// Layout (integers big-endian):
//   "LDMQTT01"                      magic and version
//   record*                         u8 kind, u32 length, length bytes
//   u8 0xFF, u32 crc32c             CRC-32C of every byte before the 0xFF
// Record kinds:
//   1 retained message   an MQTT 5 PUBLISH packet (retain set; message expiry
//                        holds the seconds left at save time)
//   2 session            u16 id length, client id, u8 protocol level,
//                        u32 expiry interval, i64 ms left until expiry (-1 never)
//   3 subscription       an MQTT 5 SUBSCRIBE packet with one filter (and its
//                        subscription identifier), of the last session record
//   4 queued message     an MQTT 5 PUBLISH packet of the last session record;
//                        sent-but-unacknowledged ones are stored as queued
//   5 incoming QoS 2 id  u16, of the last session record
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/crc32c.h"
#include "base/result.h"
#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::mqtt {

namespace {

constexpr char magic[] = "LDMQTT01";
constexpr size_t magic_size = 8;

void put_u16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
void put_u32(uint32_t v, std::string* out) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>(v >> s));
}
void put_u64(uint64_t v, std::string* out) {
  for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<char>(v >> s));
}
uint64_t get_be(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

void put_record(uint8_t kind, const std::string& body, std::string* out) {
  out->push_back(static_cast<char>(kind));
  put_u32(static_cast<uint32_t>(body.size()), out);
  out->append(body);
}

std::string publish_record(const message& m, uint8_t qos, bool retain, const std::vector<uint32_t>& ids,
                           int64_t now) {
  publish_packet p;
  p.qos = qos;
  p.retain = retain;
  p.topic = m.topic;
  p.packet_id = qos ? 1 : 0;
  p.payload = m.payload;
  p.props = m.props;
  if (m.expires_at_ms >= 0) {
    int64_t left = std::max<int64_t>(0, (m.expires_at_ms - now + 999) / 1000);
    p.props.set_number(property_id::message_expiry_interval, static_cast<uint32_t>(left));
  }
  for (uint32_t id : ids) p.props.items.push_back(property{property_id::subscription_identifier, id, {}, {}});
  return encode_packet(p, protocol_v5);
}

// Decodes a whole encoded packet (fixed header included).
std::optional<packet> decode_whole(const std::string& bytes) {
  decoder d(max_possible_packet_size, protocol_v5);
  d.feed(bytes.data(), bytes.size());
  packet p;
  decode_error e;
  if (d.next(&p, &e) != decoder::state::packet) return std::nullopt;
  return p;
}

status write_atomically(const std::string& dir, const std::string& name, const std::string& data) {
  std::string path = dir + "/" + name;
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error(errc::io_error, "open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string msg = "write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      return error(errc::io_error, msg);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    // An fsync failure leaves the file in an unknown state (fsyncgate).
    std::fprintf(stderr, "mqtt: fsync %s failed: %s\n", tmp.c_str(), std::strerror(errno));
    std::abort();
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return error(errc::io_error, "rename " + tmp + ": " + std::strerror(errno));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (::fsync(dfd) != 0) {
      std::fprintf(stderr, "mqtt: fsync %s failed: %s\n", dir.c_str(), std::strerror(errno));
      std::abort();
    }
    ::close(dfd);
  }
  return status();
}

}  // namespace

std::string broker::serialize_locked() {
  int64_t now = now_ms();
  std::string out(magic, magic_size);
  for (auto& [topic, m] : retained_) {
    if (m->expires_at_ms >= 0 && now >= m->expires_at_ms) continue;
    put_record(1, publish_record(*m, m->qos, true, {}, now), &out);
  }
  for (auto& [id, s] : sessions_) {
    if (s->expiry_interval == 0) continue;
    std::string rec;
    put_u16(static_cast<uint16_t>(id.size()), &rec);
    rec.append(id);
    rec.push_back(static_cast<char>(s->level));
    put_u32(s->expiry_interval, &rec);
    int64_t left = -1;
    if (s->conn == nullptr && s->expires_at_ms >= 0) left = std::max<int64_t>(0, s->expires_at_ms - now);
    if (s->conn != nullptr && s->expiry_interval != 0xFFFFFFFFu) left = int64_t{s->expiry_interval} * 1000;
    put_u64(static_cast<uint64_t>(left), &rec);
    put_record(2, rec, &out);
    const session_state& st = s->state();
    for (auto& [filter, e] : st.subscriptions) {
      subscribe_packet sp;
      sp.packet_id = 1;
      sp.subscriptions.push_back(e.options);
      if (e.subscription_id) {
        sp.props.items.push_back(property{property_id::subscription_identifier, e.subscription_id, {}, {}});
      }
      put_record(3, encode_packet(sp, protocol_v5), &out);
    }
    for (const auto* list : {&st.inflight, &st.queue}) {
      for (const outgoing& o : *list) {
        put_record(4, publish_record(*o.msg, o.qos, o.retain, o.subscription_ids, now), &out);
      }
    }
    for (uint16_t pid : st.incoming_qos2) {
      std::string r;
      put_u16(pid, &r);
      put_record(5, r, &out);
    }
  }
  out.push_back(static_cast<char>(0xFF));
  put_u32(crc32c(out.data(), out.size() - 1), &out);
  return out;
}

status broker::save(bool force) {
  if (config_.data_dir.empty()) return status();
  std::lock_guard save_lock(save_mu_);
  std::error_code mkdir_error;
  std::filesystem::create_directories(config_.data_dir, mkdir_error);
  std::string data;
  uint64_t changes;
  {
    std::lock_guard lock(mu_);
    if (!force && changes_ == saved_changes_) return status();
    changes = changes_;
    data = serialize_locked();
  }
  LIANDU_RETURN_IF_ERROR(write_atomically(config_.data_dir, "broker.state", data));
  std::lock_guard lock(mu_);
  saved_changes_ = changes;
  return status();
}

status broker::load() {
  if (config_.data_dir.empty()) return status();
  std::string path = config_.data_dir + "/broker.state";
  std::ifstream in(path, std::ios::binary);
  if (!in) return status();
  std::stringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  auto corrupt = [&](const std::string& what) { return error(errc::corruption, path + ": " + what); };
  if (data.size() < magic_size + 5 || data.compare(0, magic_size, magic) != 0) return corrupt("bad magic");
  size_t end = data.size() - 5;
  if (static_cast<uint8_t>(data[end]) != 0xFF) return corrupt("no trailer");
  if (crc32c(data.data(), end) != get_be(data, end + 1, 4)) return corrupt("checksum mismatch");
  std::lock_guard lock(mu_);
  int64_t now = now_ms();
  std::shared_ptr<session> current;
  std::string current_id;
  size_t pos = magic_size;
  while (pos < end) {
    if (end - pos < 5) return corrupt("truncated record header");
    uint8_t kind = static_cast<uint8_t>(data[pos]);
    size_t len = get_be(data, pos + 1, 4);
    pos += 5;
    if (end - pos < len) return corrupt("truncated record");
    std::string body = data.substr(pos, len);
    pos += len;
    auto to_message = [&](publish_packet& p, std::vector<uint32_t>* ids) {
      message m;
      m.topic = p.topic;
      m.payload = std::move(p.payload);
      m.qos = p.qos;
      m.retain = p.retain;
      for (property& prop : p.props.items) {
        if (prop.id == property_id::message_expiry_interval) {
          m.expires_at_ms = now + int64_t{prop.number} * 1000;
        } else if (prop.id == property_id::subscription_identifier) {
          if (ids) ids->push_back(prop.number);
        } else {
          m.props.items.push_back(std::move(prop));
        }
      }
      return m;
    };
    if (kind == 1 || kind == 4) {
      auto p = decode_whole(body);
      if (!p || !std::holds_alternative<publish_packet>(*p)) return corrupt("bad message record");
      auto& pub = std::get<publish_packet>(*p);
      if (kind == 1) {
        message m = to_message(pub, nullptr);
        std::string topic = m.topic;
        retained_[topic] = std::make_shared<const message>(std::move(m));
      } else if (current) {
        outgoing o;
        o.qos = pub.qos;
        o.retain = pub.retain;
        o.msg = std::make_shared<const message>(to_message(pub, &o.subscription_ids));
        current->mutable_state().queue.push_back(std::move(o));
      }
    } else if (kind == 2) {
      if (body.size() < 2) return corrupt("bad session record");
      size_t idlen = get_be(body, 0, 2);
      if (body.size() != 2 + idlen + 1 + 4 + 8) return corrupt("bad session record");
      current = std::make_shared<session>();
      current_id = body.substr(2, idlen);
      current->level = static_cast<uint8_t>(body[2 + idlen]);
      current->expiry_interval = static_cast<uint32_t>(get_be(body, 3 + idlen, 4));
      auto left = static_cast<int64_t>(get_be(body, 7 + idlen, 8));
      current->expires_at_ms = left < 0 ? -1 : now + left;
      sessions_[current_id] = current;
    } else if (kind == 3) {
      auto p = decode_whole(body);
      if (!p || !std::holds_alternative<subscribe_packet>(*p)) return corrupt("bad subscription record");
      auto& sp = std::get<subscribe_packet>(*p);
      if (!current || sp.subscriptions.size() != 1) continue;
      subscription_entry e;
      e.options = sp.subscriptions[0];
      e.subscription_id = sp.props.number(property_id::subscription_identifier).value_or(0);
      current->mutable_state().subscriptions[e.options.filter] = e;
      tree_.insert(current_id, e);
    } else if (kind == 5) {
      if (body.size() != 2) return corrupt("bad QoS 2 id record");
      if (current) current->mutable_state().incoming_qos2.insert(static_cast<uint16_t>(get_be(body, 0, 2)));
    } else {
      return corrupt("unknown record kind " + std::to_string(kind));
    }
  }
  saved_changes_ = changes_;
  return status();
}

}  // namespace liandu::connect::mqtt
