#include "connect/modbus/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <modbus/modbus.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace liandu::connect::modbus {

namespace {

modbus_mapping_t* mapping(void* p) { return static_cast<modbus_mapping_t*>(p); }

status sys_error(const std::string& what) {
  return error(errc::io_error, what + ": " + std::strerror(errno));
}

// A listening TCP socket on host:port (numeric address or name).
result<int> listen_on(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return error(errc::invalid_argument, "modbus server " + host + ": " + gai_strerror(rc));
  status last = error(errc::io_error, "modbus server " + host + ": no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = sys_error("socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      last = sys_error("modbus server " + host + ":" + service);
      ::close(fd);
      continue;
    }
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return last;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

}  // namespace

server::~server() {
  stop();
  for (auto& [unit, m] : banks_) modbus_mapping_free(mapping(m));
}

result<uint16_t> server::start(const std::string& host, uint16_t port) {
  stop();
  auto fd = listen_on(host, port);
  if (!fd.ok()) return fd.error();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ::close(*fd);
    return sys_error("pipe");
  }
  wake_write_ = pipe_fds[1];
  uint16_t bound = bound_port(*fd);
  thread_ = std::thread([this, lfd = *fd, wfd = pipe_fds[0]] { run(lfd, wfd); });
  return bound;
}

void server::stop() {
  if (!thread_.joinable()) return;
  char c = 'x';
  (void)!::write(wake_write_, &c, 1);
  thread_.join();
  ::close(wake_write_);
  wake_write_ = -1;
}

status server::add_unit(uint8_t unit, uint16_t bits, uint16_t input_registers, uint16_t holding_registers) {
  modbus_mapping_t* m = modbus_mapping_new(bits, bits, holding_registers, input_registers);
  if (m == nullptr)
    return error(errc::internal, "modbus_mapping_new: " + std::string(modbus_strerror(errno)));
  std::lock_guard lock(mu_);
  auto [it, fresh] = banks_.try_emplace(unit, m);
  if (!fresh) {
    modbus_mapping_free(mapping(it->second));
    it->second = m;
  }
  return {};
}

status server::edit(uint8_t unit, const std::function<void(bank_ref)>& fn) {
  std::lock_guard lock(mu_);
  auto it = banks_.find(unit);
  if (it == banks_.end()) return error(errc::not_found, "no Modbus unit " + std::to_string(unit));
  modbus_mapping_t* m = mapping(it->second);
  fn(bank_ref{{m->tab_bits, static_cast<size_t>(m->nb_bits)},
              {m->tab_input_bits, static_cast<size_t>(m->nb_input_bits)},
              {m->tab_input_registers, static_cast<size_t>(m->nb_input_registers)},
              {m->tab_registers, static_cast<size_t>(m->nb_registers)}});
  return {};
}

void server::run(int listen_fd, int wake_fd) {
  // One libmodbus context does the framing for every client: it is pointed
  // at a client's socket (modbus_set_socket) before each receive and reply.
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", 502);
  std::vector<int> fds;
  std::vector<uint8_t> req(MODBUS_TCP_MAX_ADU_LENGTH);
  const int header = ctx != nullptr ? modbus_get_header_length(ctx) : 7;
  auto drop = [&](size_t i) {
    ::close(fds[i]);
    fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
    clients_ = fds.size();
  };
  while (ctx != nullptr) {
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(listen_fd, &rd);
    FD_SET(wake_fd, &rd);
    int top = std::max(listen_fd, wake_fd);
    for (int fd : fds) {
      FD_SET(fd, &rd);
      top = std::max(top, fd);
    }
    if (::select(top + 1, &rd, nullptr, nullptr, nullptr) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (FD_ISSET(wake_fd, &rd)) break;
    if (FD_ISSET(listen_fd, &rd)) {
      int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        // select() cannot watch descriptors past FD_SETSIZE.
        if (c >= FD_SETSIZE || fds.size() >= 256) {
          ::close(c);
        } else {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          fds.push_back(c);
          clients_ = fds.size();
        }
      }
    }
    for (size_t i = fds.size(); i-- > 0;) {
      if (!FD_ISSET(fds[i], &rd)) continue;
      modbus_set_socket(ctx, fds[i]);
      int n = modbus_receive(ctx, req.data());
      if (n < 0) {  // closed by the client, or a bad frame
        drop(i);
        continue;
      }
      if (n == 0) continue;
      ++requests_;
      std::lock_guard lock(mu_);
      auto it = banks_.find(req[static_cast<size_t>(header) - 1]);
      int rc = it == banks_.end() ? modbus_reply_exception(ctx, req.data(), MODBUS_EXCEPTION_GATEWAY_TARGET)
                                  : modbus_reply(ctx, req.data(), n, mapping(it->second));
      if (rc < 0) drop(i);
    }
  }
  for (int fd : fds) ::close(fd);
  fds.clear();
  clients_ = 0;
  ::close(listen_fd);
  ::close(wake_fd);
  if (ctx != nullptr) {
    modbus_set_socket(ctx, -1);
    modbus_free(ctx);
  }
}

}  // namespace liandu::connect::modbus
