#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "connect/sparkplug/topic.h"
#include "model/point.h"

namespace liandu::connect::sparkplug {

// Sparkplug B (Eclipse Sparkplug 3.0) as a host application sees it: turns
// each message of an edge node into points, keeping the per-node session
// state the protocol needs — metric aliases and datatypes learnt from
// NBIRTH/DBIRTH, the 0..255 sequence number, bdSeq, which nodes and devices
// are online. No I/O: the caller writes the points and publishes the rebirth
// requests it is given.
//
// What a message becomes (times: metric timestamp, else payload timestamp,
// else arrival; all ms → ns):
//   NBIRTH/DBIRTH/NDATA/DDATA  one `sparkplug` point per distinct time, tags
//                              group, edge_node, device (omitted for node
//                              messages), one field per metric name: scalars
//                              as typed fields, arrays as one string field
//                              holding a JSON array, template instances
//                              flattened into `<metric>/<member>/...` fields;
//                              a DataSet gives one `sparkplug_dataset` point
//                              per row (tags as above plus metric and row,
//                              one field per column);
//   NBIRTH/DBIRTH/NDEATH/DDEATH a `sparkplug_state` point: online, event,
//                              bdseq (births and deaths that carry one); an
//                              NDEATH takes every online device down too;
//   every problem              a `sparkplug_errors` point (tag kind:
//                              seq_gap, unknown_alias, no_birth, bad_metric,
//                              malformed, limit) with message and topic fields.
// A sequence gap, an unknown alias, DATA without a BIRTH, or a malformed
// payload from an edge node asks for a rebirth: an NCMD with the Boolean
// metric "Node Control/Rebirth" = true (at most once per
// options::rebirth_interval_ns per node, until its next NBIRTH).
//
// Thread safety: decode() may be called from any thread; messages of one edge
// node must be decoded in the order they were published.

inline constexpr char data_measurement[] = "sparkplug";
inline constexpr char dataset_measurement[] = "sparkplug_dataset";
inline constexpr char state_measurement[] = "sparkplug_state";
inline constexpr char errors_measurement[] = "sparkplug_errors";
inline constexpr char rebirth_metric[] = "Node Control/Rebirth";

struct decoder_options {
  int64_t rebirth_interval_ns = 5'000'000'000;
  size_t max_nodes = 100'000;              // edge nodes remembered at most
  size_t max_devices_per_node = 10'000;    // devices per edge node
  size_t max_metrics_per_scope = 100'000;  // metrics of one node or device birth
  // Beyond these a metric is rejected (kind limit), the rest of the message kept.
  size_t max_array_elements = 100'000;  // elements of one *Array metric
  size_t max_dataset_rows = 10'000;     // rows of one DataSet metric
  int max_template_depth = 16;          // a template instance counts 1, each nested one 1 more
  // Field names and tag values one template instance or DataSet may expand to:
  // every member repeats the names above it, every row the column names.
  size_t max_expanded_bytes = 16 << 20;
};

struct decoded {
  topic where;
  // `sparkplug` points, then `sparkplug_dataset` points, then state points,
  // then error points.
  std::vector<model::point> points;
  size_t data_points = 0;     // the first data_points of `points` are `sparkplug` points
  size_t dataset_points = 0;  // the next dataset_points are `sparkplug_dataset` points
  // Metric values stored: a scalar or array field, a whole DataSet, each
  // member stored of a template instance.
  size_t metrics = 0;
  // Metrics skipped: null, transient, unsupported datatype (Bytes, File,
  // PropertySet(List), Unknown), template members included.
  size_t skipped = 0;
  std::vector<std::string> errors;  // one text per sparkplug_errors point
  // Not empty: publish `rebirth_payload` to this topic (QoS 0, not retained).
  std::string rebirth_topic;
  std::string rebirth_payload;
};

struct decoder_stats {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> metrics{0};          // metric values turned into fields
  std::atomic<uint64_t> skipped_metrics{0};  // null, transient or unsupported datatype
  std::atomic<uint64_t> births{0};
  std::atomic<uint64_t> deaths{0};
  std::atomic<uint64_t> seq_gaps{0};
  std::atomic<uint64_t> unknown_aliases{0};
  std::atomic<uint64_t> errors{0};  // every sparkplug_errors point, gaps included
  std::atomic<uint64_t> rebirths_requested{0};
  std::atomic<uint64_t> stale_deaths{0};  // NDEATH whose bdSeq is not the current session's
};

class decoder {
 public:
  explicit decoder(decoder_options o = {}) : options_(o) {}

  // Decodes one message published on `topic`. Fails (invalid_argument) only
  // when the topic is not a Sparkplug B topic; everything wrong with the
  // payload or its metrics is in decoded::errors (and its error points).
  // NCMD, DCMD and STATE give no points.
  result<decoded> decode(std::string_view topic, std::string_view payload, int64_t arrival_ns);

  // The NCMD payload that asks an edge node to publish its births again.
  static std::string rebirth_payload(int64_t now_ms);

  // Whether the edge node (or its device, when not empty) is born and not dead.
  bool online(std::string_view group, std::string_view edge_node, std::string_view device = {}) const;

  const decoder_stats& stats() const { return stats_; }

 private:
  struct metric_type {
    uint32_t datatype = 0;
    std::string template_ref;  // Template: the definition an instance names
  };
  struct metric_def {
    std::string name;
    metric_type type;
  };
  // What one birth defined: metrics by alias and by name.
  struct scope {
    std::map<uint64_t, metric_def> by_alias;
    std::map<std::string, metric_type, std::less<>> by_name;
  };
  // A template definition (Template metric with is_definition, in a birth):
  // its members' types, so instances may leave out datatypes and members.
  using template_def = std::map<std::string, metric_type, std::less<>>;
  struct node_state {
    bool born = false;
    int last_seq = -1;   // -1: unknown
    int64_t bdseq = -1;  // -1: unknown
    int64_t last_rebirth_ns = 0;
    bool rebirth_asked = false;
    scope metrics;
    std::map<std::string, scope, std::less<>> devices;  // born devices
    // Template definitions of the NBIRTH and DBIRTHs by name (a leading
    // "_types_/" removed, as Ignition names them), until the next NBIRTH.
    std::map<std::string, template_def, std::less<>> templates;
  };

  decoder_options options_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, node_state> nodes_;
  decoder_stats stats_;
};

}  // namespace liandu::connect::sparkplug
