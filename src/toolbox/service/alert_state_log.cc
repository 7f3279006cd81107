#include "toolbox/service/alert_state_log.h"

#include "storage/wal/wal_reader.h"
#include "toolbox/service/framed_record.h"

namespace liandu::toolbox {

result<std::unique_ptr<alert_state_log>> alert_state_log::open(const std::string& path) {
  std::unique_ptr<alert_state_log> log(new alert_state_log(path));
  auto data = storage::fs::read_file(path);
  if (data.ok()) {
    storage::wal::replay_report report =
        storage::wal::read_segment(*data, path, [&](storage::wal::record_type t, std::string_view in) {
          const auto kind = static_cast<record_kind>(t);
          if (kind != record_kind::state && kind != record_kind::change) {
            const uint64_t offset =
                static_cast<uint64_t>(in.data() - data->data()) - storage::wal::record_header_bytes;
            log->messages_.push_back(path + ": unknown record type in the record at offset " +
                                     std::to_string(offset) + " (record dropped)");
            return;
          }
          log->records_.push_back({kind, std::string(in)});
        });
    for (auto& m : report.messages) log->messages_.push_back(std::move(m));
  } else if (data.error().code() != errc::not_found) {
    return data.error();
  }
  LIANDU_RETURN_IF_ERROR(log->file_.open(path));
  return log;
}

status alert_state_log::append(std::string_view change_json) {
  if (!file_.is_open()) return error(errc::io_error, path_ + ": not open");
  const uint64_t before = file_.size();
  if (status s = file_.append(framed_record(static_cast<uint8_t>(record_kind::change), change_json));
      !s.ok()) {
    // Part of the record may be on disk: cut it off, so that the next record
    // follows the last whole one.
    (void)file_.truncate(before);
    return s;
  }
  file_.must_sync();
  return {};
}

status alert_state_log::rewrite(std::string_view state_json) {
  LIANDU_RETURN_IF_ERROR(storage::fs::write_file_atomic(
      path_, framed_record(static_cast<uint8_t>(record_kind::state), state_json)));
  return file_.open(path_);
}

}  // namespace liandu::toolbox
