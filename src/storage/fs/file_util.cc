#include "storage/fs/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace liandu::storage::fs {

namespace {
status io_error(const std::string& what, const std::string& path) {
  return error(errc::io_error, what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

status create_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return error(errc::io_error, "create directory " + path + ": " + ec.message());
  return {};
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return error(errc::not_found, "no such file " + path);
    return io_error("open", path);
  }
  std::string out;
  struct stat st;
  if (::fstat(fd, &st) == 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      status s = io_error("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

mapped_file::~mapped_file() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
}

status mapped_file::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return error(errc::not_found, "no such file " + path);
    return io_error("open", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    status s = io_error("stat", path);
    ::close(fd);
    return s;
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      status s = io_error("mmap", path);
      ::close(fd);
      return s;
    }
    ::madvise(addr, size, MADV_SEQUENTIAL);
  }
  ::close(fd);  // the mapping keeps the file
  if (addr_ != nullptr) ::munmap(addr_, size_);
  addr_ = addr;
  size_ = size;
  return {};
}

void must_fsync(int fd, const std::string& what) {
  if (::fdatasync(fd) != 0) {
    std::fprintf(stderr, "liandu: fatal: fsync of %s failed: %s\n", what.c_str(), std::strerror(errno));
    std::abort();
  }
}

void must_fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "liandu: fatal: open directory %s: %s\n", dir.c_str(), std::strerror(errno));
    std::abort();
  }
  if (::fsync(fd) != 0) {
    std::fprintf(stderr, "liandu: fatal: fsync of directory %s failed: %s\n", dir.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  ::close(fd);
}

status write_file_atomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create", tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      status s = io_error("write", tmp);
      ::close(fd);
      return s;
    }
    off += static_cast<size_t>(n);
  }
  must_fsync(fd, tmp);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("rename", tmp);
  must_fsync_dir(std::filesystem::path(path).parent_path().string());
  return {};
}

result<std::vector<std::string>> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return io_error("list", path);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

status remove_all(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return error(errc::io_error, "remove " + path + ": " + ec.message());
  return {};
}

status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("remove", path);
  return {};
}

append_file::~append_file() { close(); }

status append_file::open(const std::string& path) {
  close();
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return io_error("open", path);
  struct stat st;
  if (::fstat(fd_, &st) != 0) return io_error("stat", path);
  size_ = static_cast<uint64_t>(st.st_size);
  path_ = path;
  return {};
}

status append_file::append(std::string_view data) { return append_all(std::span(&data, 1)); }

status append_file::append_all(std::span<const std::string_view> pieces) {
  // Up to 64 pieces per writev (a WAL group has a few; no allocation for
  // them); a short write resumes mid-piece.
  constexpr size_t max_iov = std::min<size_t>(64, IOV_MAX);
  iovec iov[max_iov];
  size_t piece = 0, offset = 0;  // the first byte not written yet
  while (piece < pieces.size()) {
    size_t used = 0;
    for (size_t i = piece; i < pieces.size() && used < max_iov; ++i) {
      const size_t skip = i == piece ? offset : 0;
      if (pieces[i].size() == skip) continue;
      iov[used++] = {const_cast<char*>(pieces[i].data() + skip), pieces[i].size() - skip};
    }
    if (used == 0) break;
    ssize_t n = ::writev(fd_, iov, static_cast<int>(used));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("append", path_);
    }
    size_ += static_cast<size_t>(n);
    // Advance past the n bytes written.
    auto left = static_cast<size_t>(n);
    while (piece < pieces.size() && left >= pieces[piece].size() - offset) {
      left -= pieces[piece].size() - offset;
      ++piece;
      offset = 0;
    }
    offset += left;
  }
  return {};
}

void append_file::must_sync() { must_fsync(fd_, path_); }

status append_file::truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return io_error("truncate", path_);
  size_ = size;
  return {};
}

void append_file::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace liandu::storage::fs
