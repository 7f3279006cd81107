#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace liandu::storage::fs {

// Thin POSIX helpers with status errors. Functions named must_* treat a
// failure as fatal (an fsync that fails cannot be retried safely: the kernel
// may have dropped the dirty pages; PostgreSQL's "fsyncgate"), so they log and
// abort; recovery happens from the WAL on restart.

status create_dirs(const std::string& path);
result<std::string> read_file(const std::string& path);
// Writes path atomically: temp file, fsync, rename, fsync of the directory.
status write_file_atomic(const std::string& path, std::string_view data);
result<std::vector<std::string>> list_dir(const std::string& path);  // names, sorted; missing dir = empty
status remove_all(const std::string& path);
status remove_file(const std::string& path);
bool exists(const std::string& path);
void must_fsync(int fd, const std::string& what);
void must_fsync_dir(const std::string& dir);
std::string join(std::string_view a, std::string_view b);

// A whole file mapped read-only. Replaying a WAL segment through a mapping
// reads the page cache in place: read() into a heap string copied every byte
// and faulted in fresh anonymous pages (a third of start-up time).
class mapped_file {
 public:
  mapped_file() = default;
  ~mapped_file();
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  // Errors: not_found when the file is missing, io_error otherwise.
  status open(const std::string& path);
  std::string_view data() const { return {static_cast<const char*>(addr_), size_}; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// Append-only file used by the WAL and the series log.
class append_file {
 public:
  append_file() = default;
  ~append_file();
  append_file(const append_file&) = delete;
  append_file& operator=(const append_file&) = delete;

  status open(const std::string& path);  // creates or appends
  status append(std::string_view data);
  // Appends the pieces in order (writev, 64 pieces per call at most).
  status append_all(std::span<const std::string_view> pieces);
  void must_sync();  // fdatasync; fatal on failure
  status truncate(uint64_t size);
  void close();
  uint64_t size() const { return size_; }
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

}  // namespace liandu::storage::fs
