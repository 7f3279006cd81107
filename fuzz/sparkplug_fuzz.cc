// Fuzzes the Sparkplug B decoder with a sequence of messages for one edge
// node, so the session state (births, aliases, seq, deaths) is exercised too.
// The input is split at each "\xff\xfe" pair; in each message the first byte
// picks the message type (and a device), the rest is the payload. Invariants:
// a valid topic never fails; every point has a measurement, sorted unique tag
// keys and at least one field; `sparkplug` points come first, then
// `sparkplug_dataset` points (tags metric and row), as data_points and
// dataset_points say; every error has its point; a rebirth request is a
// Sparkplug payload on the node's NCMD topic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connect/sparkplug/decoder.h"
#include "connect/sparkplug/sparkplug_b.pb.h"

using namespace liandu::connect::sparkplug;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kinds[] = {"NBIRTH", "NDEATH", "NDATA", "NCMD",
                                      "DBIRTH", "DDEATH", "DDATA", "DCMD"};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  decoder dec;
  int64_t now = 1'700'000'000'000'000'000;
  while (!in.empty()) {
    size_t end = in.find("\xff\xfe");
    std::string_view msg = in.substr(0, end);
    in = end == std::string_view::npos ? std::string_view{} : in.substr(end + 2);
    if (msg.empty()) continue;
    const uint8_t sel = static_cast<uint8_t>(msg[0]);
    std::string topic = std::string("spBv1.0/g/") + kinds[sel % 8] + "/n";
    if (sel % 8 >= 4) topic += (sel & 0x80) ? "/d2" : "/d1";
    now += 1'000'000'000;
    auto r = dec.decode(topic, msg.substr(1), now);
    if (!r.ok()) std::abort();
    size_t error_points = 0;
    if (r->data_points + r->dataset_points > r->points.size()) std::abort();
    for (size_t i = 0; i < r->points.size(); ++i) {
      const auto& p = r->points[i];
      if (p.measurement.empty() || p.fields.empty()) std::abort();
      const bool data = i < r->data_points, dataset = !data && i < r->data_points + r->dataset_points;
      if ((p.measurement == data_measurement) != data) std::abort();
      if ((p.measurement == dataset_measurement) != dataset) std::abort();
      if (dataset &&
          (p.tags.size() < 4 || p.tags[p.tags.size() - 2].key != "metric" || p.tags.back().key != "row"))
        std::abort();
      for (size_t k = 1; k < p.tags.size(); ++k) {
        if (!(p.tags[k - 1].key < p.tags[k].key)) std::abort();
      }
      if (p.measurement == errors_measurement) ++error_points;
    }
    if (error_points != r->errors.size()) std::abort();
    if (!r->rebirth_topic.empty()) {
      org::eclipse::tahu::protobuf::Payload cmd;
      if (r->rebirth_topic != "spBv1.0/g/NCMD/n" || !cmd.ParseFromString(r->rebirth_payload)) std::abort();
    }
  }
  return 0;
}
