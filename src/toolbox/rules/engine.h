#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "model/point.h"
#include "toolbox/rules/alert_event.h"
#include "toolbox/rules/rule.h"

namespace liandu::toolbox::rules {

// An open alert, as listed by engine::alerts().
struct alert_info {
  std::string rule_id;
  std::string rule_name;
  std::vector<model::tag> group;
  uint64_t alert_id = 0;
  alert_state state = alert_state::inactive;
  double value = 0;
  int64_t started = 0;
  int64_t last_change = 0;
  std::string user;
  std::string comment;
};

// The rule engine. Points are fed one at a time (process) in event-time order
// per series; time-based conditions (absence, state held, pending for) also
// advance on tick(now), which the application calls periodically with the
// same clock as the point times. Every alert transition is handed to the sink
// synchronously, inside process/tick/acknowledge/remove_rule.
//
// Rules are indexed by measurement, so a point costs only the rules of its
// measurement. Rules that watch the same points (same measurement, tag
// filters and group-by) keep one window per field and window length, and
// one anomaly detector per field and options, for groups that start
// together (see share_leaves). Window contents and anomaly baselines live in memory only;
// serialize_state() keeps the alert lifecycle (open alerts, acknowledgements,
// last-seen times, hysteresis flags) across restarts.
//
// Not thread-safe: call from one thread or strand. The sink must not call
// back into the engine.
class engine {
 public:
  using event_sink = std::function<void(const alert_event&)>;

  explicit engine(event_sink sink);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Adds a rule, or replaces the rule with the same id: the old rule's open
  // alerts are resolved at `now` (events emitted) and its groups dropped.
  // invalid_argument when the rule does not validate.
  status add_rule(rule r, int64_t now = 0);
  // Resolves the rule's open alerts at `now` (events emitted) and removes it.
  // not_found when there is no such rule.
  status remove_rule(std::string_view id, int64_t now);
  const rule* find_rule(std::string_view id) const;
  std::vector<rule> rules() const;  // sorted by id
  size_t rule_count() const;

  void process(const model::point& p);
  // The stream's form: field values point into the caller's batch.
  void process(std::string_view measurement, std::span<const model::tag> tags,
               std::span<const model::field_view> fields, int64_t time);
  // The durable stream's form: points named by their canonical series key
  // (measurement and sorted tags, escaped, as in a write batch), in order.
  // What a series meets — its rules and their groups — is worked out on the
  // series' first point and kept, so the next points of the series cost one
  // hash lookup instead of parsing the key, the index lookups, the tag
  // filters and the group key. Given a batch at once, the engine looks up
  // the points' series a few places ahead and prefetches the state of the
  // (rule, group) pairs a few places ahead of the one it evaluates (with
  // 10,000s of series and groups, evaluation waits on memory, not
  // arithmetic). The same events in the same order as process() with the
  // keys' parts, point by point. Points whose key does not parse are skipped
  // (not counted).
  struct series_point {
    std::string_view series_key;
    int64_t time = 0;
    std::span<const model::field_view> fields;
  };
  void process_series(std::span<const series_point> points);
  void process_series(std::string_view series_key, std::span<const model::field_view> fields, int64_t time);
  void tick(int64_t now);

  // Acknowledges the firing alert of (rule, group); group holds the group-by
  // tags (any order; extra tags are ignored). not_found when no alert is
  // firing there; conflict when it is already acknowledged.
  status acknowledge(std::string_view rule_id, const std::vector<model::tag>& group, std::string user,
                     std::string comment, int64_t time);

  std::vector<alert_info> alerts() const;  // open alerts, sorted by rule id then group

  std::string serialize_rules() const;              // JSON array of rules
  status deserialize_rules(std::string_view json);  // adds (or replaces) each rule, all or none
  std::string serialize_state() const;              // JSON
  // The state of the groups these events changed, as they are now, in
  // serialize_state()'s format: deserialize_state() of a whole state and then
  // of each such part, in order, restores the state after the events. Leaves
  // out groups that no longer exist (their rule was removed or replaced).
  std::string serialize_state_of(std::span<const alert_event> events);
  // Restores the alert lifecycle of rules already added: each group listed
  // replaces the group with the same rule and tags, groups not listed stay
  // (so a serialize_state_of() part applies over a whole state); groups of
  // unknown rules are skipped. Emits no events.
  status deserialize_state(std::string_view json);

  struct counters {
    uint64_t points = 0;          // points given to process()
    uint64_t evaluations = 0;     // (rule, point) pairs that matched and were evaluated
    uint64_t events = 0;          // transitions emitted
    uint64_t dropped_groups = 0;  // points of a new group beyond max_groups_per_rule
    uint64_t shared_states = 0;   // leaves given another leaf's window or detector
  };
  const counters& stats() const { return stats_; }

  // A rule grouped by a tag of unbounded cardinality stops creating groups here.
  static constexpr size_t max_groups_per_rule = 100'000;
  // process_series() forgets the series it knows when it has seen this many,
  // or this many bytes of their keys (and starts over): bounds memory under
  // series churn, and keeps key offsets in 32 bits.
  static constexpr size_t max_cached_series = 1'000'000;
  static constexpr size_t max_cached_key_bytes = size_t{1} << 28;

  struct compiled_rule;
  struct group_state;

 private:
  void rebuild_index();
  // A (rule, group) pair a series meets, in rank order; group is null when
  // the rule had no room for the series' group (max_groups_per_rule).
  // leaves is group->leaves.data(), kept here so that a point reads and
  // prefetches the leaves (which hold the alert state) without the group,
  // and leaf_count their number, so that prefetching them reads neither
  // group nor rule (at 1,000 rules, reading the rule's leaf count took 8% of
  // process_series' samples in a perf profile).
  struct target {
    compiled_rule* rule;
    group_state* group;
    const void* leaves;
    uint32_t leaf_count;
  };
  // Appends the targets of a point with these tags, creating the groups.
  // Valid until the rules change (rebuild_index) or groups are restored
  // (deserialize_state): groups live in node-based maps and are only ever
  // erased with their rule.
  void resolve(std::string_view measurement, std::span<const model::tag> tags, std::vector<target>& out);
  void apply(std::span<const target> targets, std::span<const model::field_view> fields, int64_t time);
  // One target of apply(): seq is the point's point_seq_.
  void apply_target(const target& t, std::span<const model::field_view> fields, int64_t time, uint64_t seq);
  // Gives the leaves of a group that resolve() has just created the window
  // or detector of an equal leaf (same field, same window length or detector
  // options) of a group created by the same point for a rule with the same
  // tag filters and group-by, or of an earlier leaf of the same group. Those
  // leaves see the same points from their start, so one window or detector
  // does for all: a point adds its sample once (point_seq_) and each leaf
  // compares it with its own limit, hysteresis and alert state. Groups made
  // otherwise (a rule added later, restored state, tick()) keep their own.
  void share_leaves(const compiled_rule& cr, group_state& g);
  // leaves is g.leaves.data(), passed so that the common case (no alert
  // changes) does not read the group.
  void evaluate(compiled_rule& cr, group_state& g, void* leaves, int64_t time);
  void transition(compiled_rule& cr, group_state& g, alert_state to, int64_t time, double value,
                  std::string_view why = {});
  void close_all(compiled_rule& cr, int64_t now, std::string_view why);

  event_sink sink_;
  std::unordered_map<std::string, std::unique_ptr<compiled_rule>> rules_;
  struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // The rules of one measurement. Rules with a tag equality filter (`where
  // sensor == "temp"`) are found by that tag's value, so a point costs the
  // rules that can match it, not every rule of its measurement.
  struct measurement_rules {
    std::vector<compiled_rule*> unkeyed;  // no equality filter: tried for every point
    using by_value =
        std::unordered_map<std::string, std::vector<compiled_rule*>, string_hash, std::equal_to<>>;
    std::vector<std::pair<std::string, by_value>> keyed;  // by the filtered tag key
  };
  std::unordered_map<std::string, measurement_rules, string_hash, std::equal_to<>> by_measurement_;
  std::vector<compiled_rule*> candidates_;  // in process(): the rules a point may match, in rank order
  // Group keys (the values of the group-by tags) are interned per distinct
  // group-by list, so that a point met by many rules with the same group-by
  // builds and hashes its key once. Interned keys are kept for the engine's
  // life (bounded by the groups seen, like the groups themselves).
  uint32_t signature_of(const std::vector<std::string>& group_by);
  std::optional<uint32_t> group_id(uint32_t signature, std::span<const model::tag> tags, bool insert);

  uint64_t next_alert_id_ = 1;
  counters stats_;
  std::vector<std::vector<std::string>> signatures_;
  std::vector<std::unordered_map<std::string, uint32_t, string_hash, std::equal_to<>>> group_ids_;
  uint32_t next_group_id_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> point_groups_;  // in resolve(): (signature, group id)
  std::vector<std::pair<const compiled_rule*, group_state*>> created_groups_;  // in resolve()
  uint64_t point_seq_ = 0;  // points given to apply(): shared windows take each once
  std::string scratch_key_;
  std::vector<target> scratch_targets_;  // in process()
  // process_series(): the series keys seen since the rules last changed, in
  // an open-addressing table (hash, index) over entries whose keys sit in one
  // arena and whose targets in one array: a lookup touches a slot and a key,
  // and both can be prefetched. Series no rule meets have no targets (the
  // cheap reject). Cleared by clear_series().
  struct series_entry {
    uint32_t key_offset, key_size;  // in series_keys_
    uint32_t first, count;          // in series_targets_
    bool parsed;                    // false: the key does not parse
  };
  struct series_slot {
    uint64_t hash;
    uint32_t entry;  // in series_entries_; empty_slot when free
  };
  static constexpr uint32_t empty_slot = UINT32_MAX;
  void clear_series();
  uint32_t find_series(std::string_view key, uint64_t hash);  // inserts (resolves) when new
  std::vector<series_slot> series_slots_;
  std::vector<series_entry> series_entries_;
  std::string series_keys_;
  std::vector<target> series_targets_;
  std::vector<uint64_t> batch_hashes_;        // in process_series(): per point
  std::vector<uint32_t> batch_entries_;       // in process_series(): per point
  std::vector<const target*> batch_targets_;  // in process_series(): the batch's targets in order
  std::string series_measurement_;            // in find_series(), on a miss
  std::vector<model::tag> series_tags_;       // in find_series(), on a miss
};

}  // namespace liandu::toolbox::rules
