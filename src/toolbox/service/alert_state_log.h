#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "storage/fs/file_util.h"

namespace liandu::toolbox {

// The alert state of one database's rules, kept so that every alert
// transition survives a crash or kill -9 from the moment its effects can be
// seen. One append-only file, <rules dir>/<db>.state.log, in the WAL's record
// framing (framed_record); byte-level spec: docs/formats/alert_state_log.md.
//
//   state  (type 1)   rules::engine::serialize_state(): the whole state
//   change (type 2)   rules::engine::serialize_state_of(events): the groups
//                     that a set of transitions changed, as they were after
//                     them
//
// The state is the first record's, then each change applied in order
// (rules::engine::deserialize_state of each record). Why a log and not the
// whole state saved at each transition: the whole state holds every group
// (50,000 in stream_bench, megabytes of JSON), a change only those that
// moved, so a transition costs one small record and one fdatasync however
// many groups there are; the whole state is written only by rewrite().
//
// Durability: append() returns once its record is written and fdatasynced.
// rewrite() replaces the file atomically (temp file, fsync, rename, fsync of
// the directory) with one state record: a crash leaves the old file or the
// new one, and each holds every transition appended before.
//
// Not thread-safe: the rules service calls it under its own mutex.
class alert_state_log {
 public:
  enum class record_kind : uint8_t { state = 1, change = 2 };
  struct record {
    record_kind kind;
    std::string json;
  };

  // Reads path (missing: no records). A damaged record is dropped with a
  // line in messages(), the records before and after it kept. Errors: I/O
  // errors reading or opening the file.
  static result<std::unique_ptr<alert_state_log>> open(const std::string& path);

  // What open() read, in file order; release_records() frees them.
  const std::vector<record>& records() const { return records_; }
  void release_records() { std::vector<record>().swap(records_); }
  // What open() dropped and why ("<path>: corrupt record at offset 120 ...").
  const std::vector<std::string>& messages() const { return messages_; }

  // Appends a change record and fdatasyncs it. Errors: I/O errors (the
  // record is cut off again; the change is kept by the next rewrite()).
  status append(std::string_view change_json);
  // Replaces the file with one state record. Errors: I/O errors (the old
  // file stays, and is appended to).
  status rewrite(std::string_view state_json);
  uint64_t bytes() const { return file_.size(); }

 private:
  explicit alert_state_log(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  std::vector<record> records_;
  std::vector<std::string> messages_;
  storage::fs::append_file file_;
};

}  // namespace liandu::toolbox
