#include "toolbox/rules/engine.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "base/coding.h"
#include "base/hash.h"
#include "base/json_string.h"
#include "base/regex.h"

namespace liandu::toolbox::rules {

using json = nlohmann::json;

namespace {

constexpr int64_t no_time = INT64_MIN;
constexpr char group_separator = '\x1f';

struct node {
  condition_kind kind = condition_kind::threshold;
  std::vector<int> children;
  int leaf = -1;
};

// A FIFO of (time, value) samples on a growable ring buffer: unlike
// std::deque it stops allocating once it has grown to the window's size.
//
// Its capacity is what the window has needed, not a power of two: a window
// that holds n samples and, at a steady rate, drops one as it takes one
// (add_sample drops first) writes the new sample into the slot it just
// freed, so a point touches one or two of the ring's cache lines (the old
// front, the next front) instead of three (with a capacity of 32 for 30
// samples the new one went two slots behind the front). While it fills
// (nothing dropped yet, head at 0) the capacity grows a sample at a time
// within the allocation; once full and wrapped it is copied into a larger
// allocation with room for one more, or, after 8 such copies (a window whose
// rate keeps rising), for an eighth more.
class sample_ring {
 public:
  using sample = std::pair<int64_t, double>;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  const sample& front() const { return buf_[head_]; }
  const sample& back() const { return buf_[index(size_ - 1)]; }
  void pop_front() {
    if (++head_ == capacity_) head_ = 0;
    --size_;
  }
  void pop_back() { --size_; }
  // The oldest sample (dropped first) and the slot the next one goes to.
  // Always inlined, like the helpers below: GCC deletes a call it did not
  // inline to a function whose only effect is a prefetch.
  [[gnu::always_inline]] void prefetch() const {
    if (capacity_ == 0) return;
    __builtin_prefetch(&buf_[head_]);
    __builtin_prefetch(&buf_[index(size_)]);
  }
  void emplace_back(int64_t t, double v) {
    if (size_ == capacity_) grow();
    buf_[index(size_)] = {t, v};
    ++size_;
  }

 private:
  // The slot of the i-th sample from the front, i <= capacity_.
  uint32_t index(uint32_t i) const {
    uint32_t j = head_ + i;
    return j >= capacity_ ? j - capacity_ : j;
  }
  // Out of line: emplace_back, on every point, stays small enough to inline.
  [[gnu::noinline]] void grow() {
    if (head_ == 0 && capacity_ < allocated_) {  // not wrapped: the next slot is free
      ++capacity_;
      return;
    }
    uint32_t slack = 1;
    if (head_ != 0 && copies_ < 8) {
      ++copies_;
    } else if (head_ != 0) {
      slack += size_ / 8;
    }
    uint32_t allocated = std::max<uint32_t>({8, 2 * size_, size_ + slack});
    auto next = std::make_unique<sample[]>(allocated);
    for (uint32_t i = 0; i < size_; ++i) next[i] = buf_[index(i)];
    buf_ = std::move(next);
    allocated_ = allocated;
    capacity_ = size_ + slack;
    head_ = 0;
  }

  // 24 bytes, so that a leaf_state's hot part fits in a cache line.
  std::unique_ptr<sample[]> buf_;
  uint32_t capacity_ = 0;  // the ring's length, <= allocated_
  uint32_t head_ = 0;
  uint32_t size_ = 0;
  uint32_t allocated_ : 28 = 0;
  uint32_t copies_ : 4 = 0;  // copies made when full and wrapped, up to 8
};
static_assert(sizeof(sample_ring) == 24);

// What an aggregate window keeps besides its samples: for min and max, a
// monotonic queue whose front is the extreme.
enum class extreme_kind : uint8_t { none, min, max };

extreme_kind extreme_of(const condition& c) {
  if (c.kind != condition_kind::aggregate) return extreme_kind::none;
  if (c.fn == aggregate_fn::min) return extreme_kind::min;
  if (c.fn == aggregate_fn::max) return extreme_kind::max;
  return extreme_kind::none;
}

// What evaluating a leaf reads of its condition, in one cache line. A
// condition is 200 bytes over four lines, its field a std::string behind
// them: per point and rule, reading those (and the rule's node tree) took a
// quarter of apply_target's samples in a perf profile of stream_bench, the
// rules' lines evicted by the groups' state streaming through; comparing
// the point's field names with the condition's, whose bytes were on another
// line, took a third. The plans of 100 rules take 6.4 KB.
struct alignas(64) leaf_plan {
  char name[12] = {};              // the field's first bytes (all of a name of up to 12)
  uint32_t field_size = 0;         // 0: no field
  const condition* def = nullptr;  // the rest: a longer name, state_for's state and duration
  double value = 0;
  double clear = 0;
  int64_t window_ns = 0;
  condition_kind kind = condition_kind::threshold;
  compare_op op = compare_op::gt;
  aggregate_fn fn = aggregate_fn::mean;
  extreme_kind extreme = extreme_kind::none;
  bool has_clear = false;

  // Whether key is the condition's field: a name of 4 to 12 bytes with two
  // overlapping loads from each (never past either end), as hash_bytes
  // reads a key's tail. string_view's == called memcmp once per point and
  // rule, and a byte loop cost more instructions than the rest of a
  // threshold's evaluation.
  bool is_field(std::string_view key) const {
    const size_t n = field_size;
    if (key.size() != n) return false;
    const char* k = key.data();
    if (n >= 8 && n <= sizeof name)
      return get_fixed64(k) == get_fixed64(name) && get_fixed64(k + n - 8) == get_fixed64(name + n - 8);
    if (n >= 4 && n < 8)
      return get_fixed32(k) == get_fixed32(name) && get_fixed32(k + n - 4) == get_fixed32(name + n - 4);
    if (n < 4) return std::memcmp(k, name, n) == 0;
    return std::memcmp(k, name, sizeof name) == 0 &&
           std::memcmp(k + sizeof name, def->field.data() + sizeof name, n - sizeof name) == 0;
  }
};
static_assert(sizeof(leaf_plan) == 64);

leaf_plan plan_of(const condition& c) {
  leaf_plan p;
  std::memcpy(p.name, c.field.data(), std::min(c.field.size(), sizeof p.name));
  p.field_size = static_cast<uint32_t>(c.field.size());
  p.def = &c;
  p.value = c.value;
  p.clear = c.clear.value_or(0);
  p.window_ns = c.window_ns;
  p.kind = c.kind;
  p.op = c.op;
  p.fn = c.fn;
  p.extreme = extreme_of(c);
  p.has_clear = c.clear.has_value();
  return p;
}

// Adds (t, x) to a window of window_ns: appends it, drops the samples that
// fell out, keeps their running sum and, unless k is none, the extreme
// queue. The sum drifts by rounding: it is reset to the one sample left,
// before the next sample is added (an aggregate reads the sum in between).
void add_sample(sample_ring& samples, double& sum, sample_ring* extreme_queue, extreme_kind k,
                int64_t window_ns, int64_t t, double x) {
  if (samples.size() == 1) sum = samples.front().second;
  int64_t cutoff = t - window_ns;
  // The sum as if x were appended before the old samples are dropped (x,
  // later than the cutoff, is never dropped), but x goes in after them: into
  // the slot the oldest left (see sample_ring).
  sum += x;
  while (!samples.empty() && samples.front().first <= cutoff) {
    sum -= samples.front().second;
    samples.pop_front();
  }
  samples.emplace_back(t, x);
  if (k == extreme_kind::none) return;
  sample_ring& extreme = *extreme_queue;
  bool is_max = k == extreme_kind::max;
  while (!extreme.empty() && (is_max ? extreme.back().second <= x : extreme.back().second >= x)) {
    extreme.pop_back();
  }
  extreme.emplace_back(t, x);
  while (!extreme.empty() && extreme.front().first <= cutoff) extreme.pop_front();
}

// A window shared by the leaves of several rules (or of one rule) that see
// the same points: same measurement, tag filters and group-by, same field
// and window length, groups created by the same point (see
// engine::share_leaves). Its samples are added once per point, by whichever
// sharer comes first (stamp), and read by all. Reference counted by the
// leaves that point to it.
struct shared_window {
  sample_ring samples;
  double sum = 0;
  uint64_t stamp = 0;  // engine::point_seq_ of the last point added
  int64_t window_ns = 0;
  uint32_t refs = 0;
  extreme_kind extreme_type = extreme_kind::none;
  sample_ring extreme;
};

// An anomaly detector shared like a window: the score of a point is
// computed once (stamp) and read by every sharer.
struct shared_detector {
  std::unique_ptr<anomaly::detector> detector;
  uint64_t stamp = 0;
  double score = 0;
  uint32_t refs = 0;
};

// Per-group state of one leaf condition, one cache line. The first leaf of
// a group also holds the group's alert state (every rule has at least one
// leaf), so that a point that changes no alert, the common case, reads the
// leaf lines and never the group's.
//
// A window or detector is the leaf's own (inline window; ext owns the
// detector) unless it is shared (ext points to the shared_window or
// shared_detector). An own window's header is in the leaf's line; a shared
// one costs a line of its own, but its samples are written once a point
// for all its leaves instead of once per leaf. An aggregate min or max,
// which keeps an extreme queue besides its samples, always has a
// shared_window (of its own until another leaf shares it): the queue's
// header inline made every leaf two lines, and the groups' leaves twice
// the memory a point's evaluation streams through.
struct alignas(64) leaf_state {
  enum class ext_kind : uint8_t { none, own_detector, shared_window, shared_detector };

  leaf_state() = default;
  leaf_state(leaf_state&& o) noexcept
      : window(std::move(o.window)),
        sum(o.sum),
        value(o.value),
        ext(std::exchange(o.ext, nullptr)),
        since(o.since),
        active(o.active),
        ext_of(std::exchange(o.ext_of, ext_kind::none)),
        alert(o.alert) {}
  leaf_state& operator=(leaf_state&&) = delete;
  ~leaf_state() { release(); }

  anomaly::detector* own_detector() const { return static_cast<anomaly::detector*>(ext); }
  shared_window* window_shared() const { return static_cast<shared_window*>(ext); }
  shared_detector* detector_shared() const { return static_cast<shared_detector*>(ext); }
  void set_own_detector(std::unique_ptr<anomaly::detector> d) {
    release();
    ext = d.release();
    ext_of = ext_kind::own_detector;
  }
  void set_shared(shared_window* w) {
    release();
    ++w->refs;
    ext = w;
    ext_of = ext_kind::shared_window;
  }
  void set_shared(shared_detector* d) {
    release();
    ++d->refs;
    ext = d;
    ext_of = ext_kind::shared_detector;
  }
  void release() {
    switch (ext_of) {
      case ext_kind::none: break;
      case ext_kind::own_detector: delete own_detector(); break;
      case ext_kind::shared_window:
        if (--window_shared()->refs == 0) delete window_shared();
        break;
      case ext_kind::shared_detector:
        if (--detector_shared()->refs == 0) delete detector_shared();
        break;
    }
    ext = nullptr;
    ext_of = ext_kind::none;
  }

  // aggregate, rate: the points in the window, oldest first (own window).
  sample_ring window;
  double sum = 0;
  double value = 0;
  void* ext = nullptr;  // see ext_of
  // absence: time of the last point; state_for: since when the state holds.
  int64_t since = no_time;
  bool active = false;
  ext_kind ext_of = ext_kind::none;
  alert_state alert = alert_state::inactive;  // first leaf only: see group_state::state()
};
static_assert(sizeof(leaf_state) == 64);

[[gnu::always_inline]] inline void prefetch(const void* p) { __builtin_prefetch(p); }

bool is_open(alert_state s) {
  return s == alert_state::pending || s == alert_state::firing || s == alert_state::acknowledged;
}

std::optional<double> numeric(const model::field_value_view& v) {
  switch (v.index()) {
    case 0: return std::get<double>(v);
    case 1: return static_cast<double>(std::get<int64_t>(v));
    case 2: return static_cast<double>(std::get<uint64_t>(v));
    case 3: return std::get<bool>(v) ? 1.0 : 0.0;
    default: return std::nullopt;
  }
}

std::string format_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

// Whether the field, as text, is `text`, for state conditions: strings as
// they are, booleans as true/false, numbers in their shortest form (1, 2.5).
// Formats into a buffer on the stack: no allocation per point.
bool text_is(const model::field_value_view& v, std::string_view text) {
  char buf[64];
  std::to_chars_result r{buf, std::errc()};
  switch (v.index()) {
    case 0:
      r = std::to_chars(buf, buf + sizeof buf, std::get<double>(v));
      return r.ec == std::errc() ? std::string_view(buf, static_cast<size_t>(r.ptr - buf)) == text
                                 : text == "nan";
    case 1: r = std::to_chars(buf, buf + sizeof buf, std::get<int64_t>(v)); break;
    case 2: r = std::to_chars(buf, buf + sizeof buf, std::get<uint64_t>(v)); break;
    case 3: return text == (std::get<bool>(v) ? "true" : "false");
    default: return std::get<std::string_view>(v) == text;
  }
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf)) == text;
}

const model::field_view* find_field(std::span<const model::field_view> fields, const leaf_plan& p) {
  for (const auto& f : fields) {
    if (p.is_field(f.key)) return &f;
  }
  return nullptr;
}

std::string_view find_tag(std::span<const model::tag> tags, const std::string& key) {
  for (const auto& t : tags) {
    if (t.key == key) return t.value;
  }
  return {};
}

bool hysteresis(const leaf_plan& p, bool active, double x) {
  return compare(p.op, x, active && p.has_clear ? p.clear : p.value);
}

}  // namespace

struct engine::group_state {
  // Sized once, by make_group, to the rule's leaves: never empty.
  std::vector<leaf_state> leaves;
  // The alert state lives in the first leaf's cache line (see leaf_state).
  alert_state state() const { return leaves[0].alert; }
  void set_state(alert_state s) { leaves[0].alert = s; }
  int64_t pending_since = 0;
  double value = 0;
  uint64_t alert_id = 0;
  std::vector<model::tag> tags;
  int64_t started = 0;
  int64_t last_change = 0;
  std::string user;
  std::string comment;
};

namespace {

// process_series() prefetches a group's state in two steps, a few points
// ahead: its leaves (which hold the alert state, so the group itself is read
// only when an alert changes), then what the leaves point to (windows,
// detectors), whose addresses are in the leaves.
[[gnu::always_inline]] inline void prefetch_leaves(const leaf_state* leaves, size_t n) {
  for (size_t i = 0; i < n; ++i) prefetch(&leaves[i]);
}

// The second step for shared windows and detectors: their headers, whose
// addresses are in the leaves.
[[gnu::always_inline]] inline void prefetch_shared(const leaf_state* leaves, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (leaves[i].ext_of == leaf_state::ext_kind::shared_window ||
        leaves[i].ext_of == leaf_state::ext_kind::shared_detector) {
      prefetch(leaves[i].ext);
    }
  }
}

// The last step: window samples and detectors, own or shared.
[[gnu::always_inline]] inline void prefetch_leaf_data(const leaf_state* leaves, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const leaf_state& ls = leaves[i];
    switch (ls.ext_of) {
      case leaf_state::ext_kind::none: ls.window.prefetch(); break;
      case leaf_state::ext_kind::own_detector: prefetch(ls.ext); break;
      case leaf_state::ext_kind::shared_window: ls.window_shared()->samples.prefetch(); break;
      case leaf_state::ext_kind::shared_detector: prefetch(ls.detector_shared()->detector.get()); break;
    }
  }
}

}  // namespace

struct engine::compiled_rule {
  // First, so that a point's evaluation reads one line of the rule (and
  // the plans): see leaf_plan.
  std::vector<leaf_plan> plans;  // per leaf, made by plan() once leaves is complete
  // One leaf: whatever the tree above it (all/any of one child decide as
  // the child does), the rule holds when the leaf is active, with its value.
  bool one_leaf = false;
  rule def;
  std::vector<node> nodes;                            // nodes[0] is the root
  std::vector<condition> leaves;                      // leaf definitions, in tree pre-order
  std::vector<std::optional<liandu::regex>> regexes;  // per where filter
  bool needs_tick = false;
  bool has_absence = false;
  uint32_t signature = 0;                            // of def.group_by
  uint32_t rank = 0;                                 // position in id order (evaluation order)
  std::unordered_map<uint32_t, group_state> groups;  // by interned group id

  int compile(const condition& c) {
    int index = static_cast<int>(nodes.size());
    nodes.push_back(node{c.kind, {}, -1});
    if (c.kind == condition_kind::all || c.kind == condition_kind::any) {
      for (const auto& child : c.children) {
        int ci = compile(child);
        nodes[static_cast<size_t>(index)].children.push_back(ci);
      }
    } else {
      nodes[static_cast<size_t>(index)].leaf = static_cast<int>(leaves.size());
      leaves.push_back(c);
      if (c.kind == condition_kind::absence || c.kind == condition_kind::state_for) needs_tick = true;
      if (c.kind == condition_kind::absence) has_absence = true;
    }
    return index;
  }

  bool matches(std::span<const model::tag> tags) const {
    for (size_t i = 0; i < def.where.size(); ++i) {
      const tag_filter& f = def.where[i];
      std::string_view v = find_tag(tags, f.key);
      bool ok = true;
      switch (f.match) {
        case tag_match::eq: ok = v == f.value; break;
        case tag_match::ne: ok = v != f.value; break;
        case tag_match::regex: ok = regexes[i]->search(v); break;
        case tag_match::not_regex: ok = !regexes[i]->search(v); break;
      }
      if (!ok) return false;
    }
    return true;
  }

  // After compile(): the plans point into leaves.
  void plan() {
    plans.clear();
    for (const condition& c : leaves) plans.push_back(plan_of(c));
    one_leaf = leaves.size() == 1;
  }

  group_state make_group(std::vector<model::tag> tags) const {
    group_state g;
    g.tags = std::move(tags);
    std::sort(g.tags.begin(), g.tags.end(),
              [](const model::tag& a, const model::tag& b) { return a.key < b.key; });
    g.leaves.resize(leaves.size());
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (leaves[i].kind == condition_kind::anomaly)
        g.leaves[i].set_own_detector(anomaly::make_detector(leaves[i].detector));
      if (plans[i].extreme != extreme_kind::none) {  // see leaf_state
        auto* w = new shared_window;
        w->window_ns = plans[i].window_ns;
        w->extreme_type = plans[i].extreme;
        g.leaves[i].set_shared(w);
      }
    }
    return g;
  }

  // Evaluates node `n`; `value` is the value of the leaf that decided it.
  bool eval(int n, const leaf_state* leaves, double& value) const {
    const node& nd = nodes[static_cast<size_t>(n)];
    if (nd.leaf >= 0) {
      const leaf_state& ls = leaves[static_cast<size_t>(nd.leaf)];
      value = ls.value;
      return ls.active;
    }
    bool all = nd.kind == condition_kind::all;
    bool decided = false;
    bool out = all;
    double first = 0;
    for (size_t i = 0; i < nd.children.size(); ++i) {
      double v = 0;
      bool b = eval(nd.children[i], leaves, v);
      if (i == 0) first = v;
      if (!decided && b != all) {
        decided = true;
        out = b;
        value = v;
      }
    }
    if (!decided) value = first;
    return out;
  }
};

namespace {

// extreme: the window's extreme queue, for min and max.
double aggregate_of(aggregate_fn fn, const sample_ring& window, double sum, const sample_ring* extreme) {
  double n = static_cast<double>(window.size());
  switch (fn) {
    case aggregate_fn::mean: return n > 0 ? sum / n : 0;
    case aggregate_fn::sum: return sum;
    case aggregate_fn::count: return n;
    case aggregate_fn::min:
    case aggregate_fn::max: return extreme->empty() ? 0 : extreme->front().second;
  }
  return 0;
}

// Sets a rate leaf from its window: the change per second from the first
// sample to the last.
void set_rate(const leaf_plan& p, leaf_state& ls, const sample_ring& window) {
  const auto& first = window.front();
  const auto& last = window.back();
  if (window.size() < 2 || last.first <= first.first) {
    ls.active = false;
    return;
  }
  double rate = (last.second - first.second) / (static_cast<double>(last.first - first.first) / 1e9);
  ls.value = rate;
  ls.active = hysteresis(p, ls.active, rate);
}

// seq numbers the point (engine::point_seq_): a shared window or detector
// takes each point once. Inlined into apply_target: GCC called it.
[[gnu::always_inline]] inline void update_leaf(const leaf_plan& p, leaf_state& ls, const model::field_view* f,
                                               int64_t t, uint64_t seq) {
  switch (p.kind) {
    case condition_kind::all:
    case condition_kind::any: return;
    case condition_kind::absence:
      if (p.field_size == 0 || f) {
        ls.since = t;
        ls.active = false;
        ls.value = 0;
      }
      return;
    case condition_kind::state_for: {
      if (!f) return;
      bool same = text_is(f->value, p.def->state);
      bool holds = p.op == compare_op::eq ? same : !same;
      if (!holds) {
        ls.since = no_time;
        ls.active = false;
        ls.value = 0;
        return;
      }
      if (ls.since == no_time) ls.since = t;
      ls.value = static_cast<double>(t - ls.since) / 1e9;
      ls.active = t - ls.since >= p.def->for_ns;
      return;
    }
    default: break;
  }
  if (!f) return;
  std::optional<double> x = numeric(f->value);
  if (!x) return;
  switch (p.kind) {
    case condition_kind::threshold:
      ls.value = *x;
      ls.active = hysteresis(p, ls.active, *x);
      return;
    case condition_kind::anomaly: {
      double score = 0;
      if (ls.ext_of == leaf_state::ext_kind::shared_detector) {
        shared_detector& d = *ls.detector_shared();
        if (d.stamp != seq) {
          d.stamp = seq;
          d.score = d.detector->update(t, *x);
        }
        score = d.score;
      } else {
        score = ls.own_detector()->update(t, *x);
      }
      ls.value = score;
      ls.active = hysteresis(p, ls.active, score);
      return;
    }
    case condition_kind::aggregate:
    case condition_kind::rate: {
      sample_ring* samples = &ls.window;
      double sum = 0;
      const sample_ring* extreme = nullptr;  // min, max: always in a shared_window
      if (ls.ext_of == leaf_state::ext_kind::shared_window) {
        shared_window& w = *ls.window_shared();
        if (w.stamp != seq) {
          w.stamp = seq;
          add_sample(w.samples, w.sum, &w.extreme, w.extreme_type, w.window_ns, t, *x);
        }
        samples = &w.samples;
        sum = w.sum;
        extreme = &w.extreme;
      } else {
        add_sample(ls.window, ls.sum, nullptr, extreme_kind::none, p.window_ns, t, *x);
        sum = ls.sum;
      }
      if (p.kind == condition_kind::rate) {
        set_rate(p, ls, *samples);
        return;
      }
      double agg = aggregate_of(p.fn, *samples, sum, extreme);
      ls.value = agg;
      ls.active = hysteresis(p, ls.active, agg);
      return;
    }
    default: return;
  }
}

std::string render_message(const rule& r, const std::vector<model::tag>& group, alert_state state,
                           double value, std::string_view why) {
  std::string out;
  if (r.message.empty()) {
    out = (r.name.empty() ? r.id : r.name) + " " + alert_state_name(state);
    for (const auto& t : group) out += " " + t.key + "=" + t.value;
    out += " value=" + format_number(value);
  } else {
    const std::string& m = r.message;
    for (size_t i = 0; i < m.size(); ++i) {
      size_t close = m[i] == '{' ? m.find('}', i) : std::string::npos;
      if (close == std::string::npos) {
        out += m[i];
        continue;
      }
      std::string key = m.substr(i + 1, close - i - 1);
      if (key == "rule") {
        out += r.name.empty() ? r.id : r.name;
      } else if (key == "state") {
        out += alert_state_name(state);
      } else if (key == "value") {
        out += format_number(value);
      } else {
        for (const auto& t : group) {
          if (t.key == key) out += t.value;
        }
      }
      i = close;
    }
  }
  if (!why.empty()) {
    out += " (";
    out += why;
    out += ")";
  }
  return out;
}

}  // namespace

engine::engine(event_sink sink) : sink_(std::move(sink)) {}
engine::~engine() = default;

status engine::add_rule(rule r, int64_t now) {
  LIANDU_RETURN_IF_ERROR(validate(r));
  // The same definition again (a rules file applied at every start, a
  // client retrying its PUT) changes nothing: its groups and open alerts
  // stay as they are instead of being resolved as "rule replaced".
  if (auto same = rules_.find(r.id); same != rules_.end() && same->second->def == r) return status();
  auto cr = std::make_unique<compiled_rule>();
  cr->def = std::move(r);
  cr->compile(cr->def.when);
  cr->plan();
  cr->signature = signature_of(cr->def.group_by);
  if (cr->def.for_ns > 0) cr->needs_tick = true;
  for (const auto& f : cr->def.where) {
    if (f.match == tag_match::regex || f.match == tag_match::not_regex) {
      auto re = liandu::regex::compile(f.value);
      if (!re.ok()) return error(errc::invalid_argument, "where: " + re.error().message());
      cr->regexes.emplace_back(std::move(re).value());
    } else {
      cr->regexes.emplace_back(std::nullopt);
    }
  }
  auto it = rules_.find(cr->def.id);
  if (it != rules_.end()) {
    close_all(*it->second, now, "rule replaced");
    it->second = std::move(cr);
  } else {
    std::string id = cr->def.id;
    rules_.emplace(std::move(id), std::move(cr));
  }
  rebuild_index();
  return status();
}

status engine::remove_rule(std::string_view id, int64_t now) {
  auto it = rules_.find(std::string(id));
  if (it == rules_.end()) return error(errc::not_found, "rule \"" + std::string(id) + "\" not found");
  close_all(*it->second, now, "rule removed");
  rules_.erase(it);
  rebuild_index();
  return status();
}

void engine::close_all(compiled_rule& cr, int64_t now, std::string_view why) {
  for (auto& [key, g] : cr.groups) {
    if (g.state() == alert_state::pending) {
      transition(cr, g, alert_state::inactive, now, g.value, why);
    } else if (is_open(g.state())) {
      transition(cr, g, alert_state::resolved, now, g.value, why);
    }
  }
}

const rule* engine::find_rule(std::string_view id) const {
  auto it = rules_.find(std::string(id));
  return it == rules_.end() ? nullptr : &it->second->def;
}

std::vector<rule> engine::rules() const {
  std::vector<rule> out;
  out.reserve(rules_.size());
  for (const auto& [id, cr] : rules_) out.push_back(cr->def);
  std::sort(out.begin(), out.end(), [](const rule& a, const rule& b) { return a.id < b.id; });
  return out;
}

size_t engine::rule_count() const { return rules_.size(); }

void engine::rebuild_index() {
  by_measurement_.clear();
  clear_series();
  std::vector<compiled_rule*> all;
  for (auto& [id, cr] : rules_) all.push_back(cr.get());
  // Deterministic order of evaluation (and so of events) within a point.
  std::sort(all.begin(), all.end(),
            [](const compiled_rule* a, const compiled_rule* b) { return a->def.id < b->def.id; });
  for (size_t i = 0; i < all.size(); ++i) {
    compiled_rule* cr = all[i];
    cr->rank = static_cast<uint32_t>(i);
    measurement_rules& m = by_measurement_[cr->def.measurement];
    auto eq = std::find_if(cr->def.where.begin(), cr->def.where.end(),
                           [](const tag_filter& f) { return f.match == tag_match::eq; });
    if (eq == cr->def.where.end()) {
      m.unkeyed.push_back(cr);
      continue;
    }
    auto k = std::find_if(m.keyed.begin(), m.keyed.end(), [&](const auto& e) { return e.first == eq->key; });
    if (k == m.keyed.end()) {
      m.keyed.emplace_back(eq->key, measurement_rules::by_value{});
      k = m.keyed.end() - 1;
    }
    k->second[eq->value].push_back(cr);
  }
}

uint32_t engine::signature_of(const std::vector<std::string>& group_by) {
  for (size_t i = 0; i < signatures_.size(); ++i) {
    if (signatures_[i] == group_by) return static_cast<uint32_t>(i);
  }
  signatures_.push_back(group_by);
  group_ids_.emplace_back();
  return static_cast<uint32_t>(signatures_.size() - 1);
}

std::optional<uint32_t> engine::group_id(uint32_t signature, std::span<const model::tag> tags, bool insert) {
  scratch_key_.clear();
  for (const auto& key : signatures_[signature]) {
    scratch_key_ += find_tag(tags, key);
    scratch_key_ += group_separator;
  }
  auto& ids = group_ids_[signature];
  auto it = ids.find(std::string_view(scratch_key_));
  if (it != ids.end()) return it->second;
  if (!insert) return std::nullopt;
  uint32_t id = next_group_id_++;
  ids.emplace(scratch_key_, id);
  return id;
}

void engine::process(const model::point& p) {
  std::vector<model::field_view> fields;
  fields.reserve(p.fields.size());
  for (const auto& f : p.fields) fields.push_back(model::view_of(f));
  process(p.measurement, p.tags, fields, p.time);
}

void engine::process(std::string_view measurement, std::span<const model::tag> tags,
                     std::span<const model::field_view> fields, int64_t time) {
  ++stats_.points;
  scratch_targets_.clear();
  resolve(measurement, tags, scratch_targets_);
  apply(scratch_targets_, fields, time);
}

namespace {

// Series keys are hashed once per point with the storage index's hash.
uint64_t hash_key(std::string_view k) { return hash_bytes(k); }

}  // namespace

void engine::clear_series() {
  series_slots_.clear();
  series_entries_.clear();
  series_keys_.clear();
  series_targets_.clear();
}

uint32_t engine::find_series(std::string_view key, uint64_t hash) {
  const size_t mask = series_slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    series_slot& s = series_slots_[i];
    if (s.entry == empty_slot) break;
    if (s.hash != hash) continue;
    const series_entry& e = series_entries_[s.entry];
    if (std::string_view(series_keys_).substr(e.key_offset, e.key_size) == key) return s.entry;
  }
  // New: resolve it, and keep the table at most half full.
  series_entry e{static_cast<uint32_t>(series_keys_.size()), static_cast<uint32_t>(key.size()),
                 static_cast<uint32_t>(series_targets_.size()), 0, false};
  series_keys_.append(key);
  if (model::parse_series_key(key, series_measurement_, series_tags_)) {
    e.parsed = true;
    resolve(series_measurement_, series_tags_, series_targets_);
    e.count = static_cast<uint32_t>(series_targets_.size() - e.first);
  }
  uint32_t id = static_cast<uint32_t>(series_entries_.size());
  series_entries_.push_back(e);
  if (series_entries_.size() * 2 > series_slots_.size()) {
    std::vector<series_slot> old(std::max<size_t>(1024, series_slots_.size() * 2), {0, empty_slot});
    old.swap(series_slots_);
    const size_t m = series_slots_.size() - 1;
    for (const series_slot& s : old) {
      if (s.entry == empty_slot) continue;
      size_t i = s.hash & m;
      while (series_slots_[i].entry != empty_slot) i = (i + 1) & m;
      series_slots_[i] = s;
    }
    uint64_t h = hash;
    size_t i = h & m;
    while (series_slots_[i].entry != empty_slot) i = (i + 1) & m;
    series_slots_[i] = {hash, id};
    return id;
  }
  size_t i = hash & mask;
  while (series_slots_[i].entry != empty_slot) i = (i + 1) & mask;
  series_slots_[i] = {hash, id};
  return id;
}

void engine::process_series(std::string_view series_key, std::span<const model::field_view> fields,
                            int64_t time) {
  series_point p{series_key, time, fields};
  process_series(std::span<const series_point>(&p, 1));
}

void engine::process_series(std::span<const series_point> points) {
  const size_t n = points.size();
  // Between batches only: batch_entries_ holds indices into the table.
  if (series_entries_.size() >= max_cached_series || series_keys_.size() >= max_cached_key_bytes)
    clear_series();
  if (series_slots_.empty()) series_slots_.assign(1024, {0, empty_slot});
  batch_hashes_.resize(n);
  batch_entries_.resize(n);
  for (size_t i = 0; i < n; ++i) batch_hashes_[i] = hash_key(points[i].series_key);
  // Look up every point's series, prefetching the slot 8 points ahead and
  // the key of the entry it holds 4 ahead. Resolving a new series creates
  // its groups now, before the points ahead are evaluated: creating a group
  // raises no event, and a group is created by its series' first point
  // either way.
  constexpr size_t slot_ahead = 8, key_ahead = 4;
  for (size_t i = 0; i < n; ++i) {
    if (i + slot_ahead < n)
      prefetch(&series_slots_[batch_hashes_[i + slot_ahead] & (series_slots_.size() - 1)]);
    if (i + key_ahead < n) {
      const series_slot& s = series_slots_[batch_hashes_[i + key_ahead] & (series_slots_.size() - 1)];
      if (s.entry != empty_slot) {
        prefetch(&series_entries_[s.entry]);
        prefetch(series_keys_.data() + series_entries_[s.entry].key_offset);
      }
    }
    batch_entries_[i] = find_series(points[i].series_key, batch_hashes_[i]);
  }
  // Evaluate in order, prefetching a group's state in three steps (see
  // prefetch_leaves) ahead of the target being evaluated: its leaves
  // leaves_ahead targets ahead, the headers of its shared windows and
  // detectors shared_ahead, the windows' samples and the detectors
  // data_ahead. The distances count targets, not points: a point meets one
  // group per rule it matches (about 7 at 100 rules in stream_bench, 65 at
  // 1,000). When they counted points, each point prefetched the leaves of
  // every group of the point 8 ahead at once, more than the core keeps in
  // flight: the prefetches stalled, the next step read leaves that had not
  // arrived, and at 1,000 rules that cost more than it saved. Now each
  // target evaluated prefetches one target's state at each step.
  constexpr size_t leaves_ahead = 48, shared_ahead = 32, data_ahead = 16;
  // The batch's targets in evaluation order (a point whose key does not
  // parse has none), listed once: a step of the prefetch pipeline is an
  // index, where walking the points' entries for each step cost a fifth of
  // process_series' instructions (callgrind, stream_bench).
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += series_entries_[batch_entries_[i]].count;
  batch_targets_.resize(total);
  const target** listed = batch_targets_.data();
  for (size_t i = 0; i < n; ++i) {
    const series_entry& e = series_entries_[batch_entries_[i]];
    for (uint32_t k = 0; k < e.count; ++k) *listed++ = &series_targets_[e.first + k];
  }
  const target* const* targets = batch_targets_.data();
  auto step = [&](size_t k, auto prefetch_step) {
    if (k >= total) return;
    const target& t = *targets[k];
    if (t.group) prefetch_step(static_cast<const leaf_state*>(t.leaves), t.leaf_count);
  };
  auto leaves_step = [](const leaf_state* l, size_t k) { prefetch_leaves(l, k); };
  auto shared_step = [](const leaf_state* l, size_t k) { prefetch_shared(l, k); };
  auto data_step = [](const leaf_state* l, size_t k) { prefetch_leaf_data(l, k); };
  for (size_t k = 0; k < leaves_ahead; ++k) step(k, leaves_step);
  for (size_t k = 0; k < shared_ahead; ++k) step(k, shared_step);
  for (size_t k = 0; k < data_ahead; ++k) step(k, data_step);
  size_t k = 0;  // in targets
  for (size_t i = 0; i < n; ++i) {
    const series_entry& e = series_entries_[batch_entries_[i]];
    if (!e.parsed) continue;
    ++stats_.points;
    const uint64_t seq = ++point_seq_;
    for (const size_t end = k + e.count; k < end; ++k) {
      step(k + leaves_ahead, leaves_step);
      step(k + shared_ahead, shared_step);
      step(k + data_ahead, data_step);
      apply_target(*targets[k], points[i].fields, points[i].time, seq);
    }
  }
}

void engine::resolve(std::string_view measurement, std::span<const model::tag> tags,
                     std::vector<target>& out) {
  auto it = by_measurement_.find(measurement);
  if (it == by_measurement_.end()) return;
  const measurement_rules& m = it->second;
  candidates_.assign(m.unkeyed.begin(), m.unkeyed.end());
  for (const auto& [key, by_value] : m.keyed) {
    // A point without the tag has value "": rules filtering on "" match it.
    auto hit = by_value.find(find_tag(tags, key));
    if (hit != by_value.end()) candidates_.insert(candidates_.end(), hit->second.begin(), hit->second.end());
  }
  if (!m.keyed.empty() && candidates_.size() > 1) {
    std::sort(candidates_.begin(), candidates_.end(),
              [](const compiled_rule* a, const compiled_rule* b) { return a->rank < b->rank; });
  }
  point_groups_.clear();
  created_groups_.clear();
  for (compiled_rule* cr : candidates_) {
    if (!cr->def.enabled || !cr->matches(tags)) continue;
    uint32_t id = 0;
    auto cached = std::find_if(point_groups_.begin(), point_groups_.end(),
                               [&](const auto& sg) { return sg.first == cr->signature; });
    if (cached != point_groups_.end()) {
      id = cached->second;
    } else {
      id = *group_id(cr->signature, tags, /*insert=*/true);
      point_groups_.emplace_back(cr->signature, id);
    }
    auto git = cr->groups.find(id);
    if (git == cr->groups.end()) {
      // No room: the group is not created now, and cannot be later while
      // the rule lives (groups are never erased), so null stays right.
      if (cr->groups.size() >= max_groups_per_rule) {
        out.push_back({cr, nullptr, nullptr, 0});
        continue;
      }
      std::vector<model::tag> group_tags;
      for (const auto& key : cr->def.group_by) group_tags.push_back({key, std::string(find_tag(tags, key))});
      git = cr->groups.emplace(id, cr->make_group(std::move(group_tags))).first;
      share_leaves(*cr, git->second);
    }
    out.push_back({cr, &git->second, git->second.leaves.data(), static_cast<uint32_t>(cr->leaves.size())});
  }
}

namespace {

// Whether two leaves of rules that see the same points keep the same window
// or detector: a rate and a mean, sum or count over the same field and
// window length keep the same samples; min and max keep a queue as well.
bool same_source(const condition& a, const condition& b) {
  auto windowed = [](const condition& c) {
    return c.kind == condition_kind::aggregate || c.kind == condition_kind::rate;
  };
  if (a.field != b.field) return false;
  if (windowed(a) && windowed(b)) return a.window_ns == b.window_ns && extreme_of(a) == extreme_of(b);
  return a.kind == condition_kind::anomaly && b.kind == condition_kind::anomaly && a.detector == b.detector;
}

// Makes `to` use `from`'s window or detector, shared. Both leaves are new:
// their windows are empty and their detectors have seen nothing.
void share(const condition& c, leaf_state& from, leaf_state& to) {
  using kind = leaf_state::ext_kind;
  if (c.kind == condition_kind::anomaly) {
    if (from.ext_of != kind::shared_detector) {
      auto* d = new shared_detector;
      d->detector.reset(from.own_detector());
      from.ext = nullptr;  // now owned by d
      from.ext_of = kind::none;
      from.set_shared(d);
    }
    to.set_shared(from.detector_shared());
    return;
  }
  if (from.ext_of != kind::shared_window) {
    auto* w = new shared_window;
    w->window_ns = c.window_ns;
    w->extreme_type = extreme_of(c);
    from.set_shared(w);
  }
  to.set_shared(from.window_shared());
}

}  // namespace

void engine::share_leaves(const compiled_rule& cr, group_state& g) {
  created_groups_.push_back({&cr, &g});
  for (size_t i = 0; i < cr.leaves.size(); ++i) {
    const condition& c = cr.leaves[i];
    if (c.kind != condition_kind::aggregate && c.kind != condition_kind::rate &&
        c.kind != condition_kind::anomaly) {
      continue;
    }
    bool shared = false;
    for (const auto& [other, og] : created_groups_) {
      // Same points: the same measurement (one resolve() is one point's),
      // tag filters and group-by, and groups created by the same point.
      if (other != &cr && (other->signature != cr.signature || other->def.where != cr.def.where)) continue;
      size_t end = og == &g ? i : other->leaves.size();
      for (size_t j = 0; j < end && !shared; ++j) {
        if (!same_source(other->leaves[j], c)) continue;
        share(c, og->leaves[j], g.leaves[i]);
        ++stats_.shared_states;
        shared = true;
      }
      if (shared) break;
    }
  }
}

void engine::apply(std::span<const target> targets, std::span<const model::field_view> fields, int64_t time) {
  const uint64_t seq = ++point_seq_;
  for (const target& t : targets) apply_target(t, fields, time, seq);
}

// Inlined into process_series' loop, like evaluate (a call per point and
// rule, with its prologue and epilogue, was a tenth of their instructions).
[[gnu::always_inline]] inline void engine::apply_target(const target& t,
                                                        std::span<const model::field_view> fields,
                                                        int64_t time, uint64_t seq) {
  if (!t.group) {
    ++stats_.dropped_groups;
    return;
  }
  compiled_rule& cr = *t.rule;
  // t.leaves is t.group->leaves.data(): the group itself is not read
  // unless an alert changes.
  leaf_state* leaves = static_cast<leaf_state*>(const_cast<void*>(t.leaves));
  ++stats_.evaluations;
  // The plans, not the conditions: see leaf_plan.
  const leaf_plan* plans = cr.plans.data();
  for (uint32_t i = 0; i < t.leaf_count; ++i) {
    const leaf_plan& p = plans[i];
    update_leaf(p, leaves[i], p.field_size == 0 ? nullptr : find_field(fields, p), time, seq);
  }
  evaluate(cr, *t.group, leaves, time);
}

void engine::tick(int64_t now) {
  for (auto& [id, crp] : rules_) {
    compiled_rule& cr = *crp;
    if (!cr.needs_tick || !cr.def.enabled) continue;
    // A rule without group-by has one group, known before any point: start
    // its absence clock at the first tick.
    if (cr.has_absence && cr.def.group_by.empty() && cr.groups.empty()) {
      group_state g = cr.make_group({});
      for (size_t i = 0; i < cr.leaves.size(); ++i) {
        if (cr.leaves[i].kind == condition_kind::absence) g.leaves[i].since = now;
      }
      cr.groups.emplace(*group_id(cr.signature, {}, /*insert=*/true), std::move(g));
    }
    for (auto& [key, g] : cr.groups) {
      for (size_t i = 0; i < cr.leaves.size(); ++i) {
        const condition& c = cr.leaves[i];
        leaf_state& ls = g.leaves[i];
        if (ls.since == no_time) continue;
        if (c.kind == condition_kind::absence || c.kind == condition_kind::state_for) {
          ls.value = static_cast<double>(now - ls.since) / 1e9;
          ls.active = now - ls.since >= c.for_ns;
        }
      }
      evaluate(cr, g, g.leaves.data(), now);
    }
  }
}

[[gnu::always_inline]] inline void engine::evaluate(compiled_rule& cr, group_state& g, void* leaves,
                                                    int64_t time) {
  const leaf_state* ls = static_cast<const leaf_state*>(leaves);
  double value = ls[0].value;
  bool holds = cr.one_leaf ? ls[0].active : cr.eval(0, ls, value);
  switch (ls[0].alert) {
    case alert_state::inactive:
    case alert_state::resolved:
      if (!holds) return;
      g.alert_id = next_alert_id_++;
      g.started = time;
      g.pending_since = time;
      g.user.clear();
      g.comment.clear();
      transition(cr, g, cr.def.for_ns > 0 ? alert_state::pending : alert_state::firing, time, value);
      return;
    case alert_state::pending:
      if (!holds) {
        transition(cr, g, alert_state::inactive, time, value);
      } else if (time - g.pending_since >= cr.def.for_ns) {
        transition(cr, g, alert_state::firing, time, value);
      }
      return;
    case alert_state::firing:
    case alert_state::acknowledged:
      if (holds) {
        g.value = value;
      } else {
        transition(cr, g, alert_state::resolved, time, value);
      }
      return;
  }
}

void engine::transition(compiled_rule& cr, group_state& g, alert_state to, int64_t time, double value,
                        std::string_view why) {
  alert_event e;
  e.rule_id = cr.def.id;
  e.rule_name = cr.def.name;
  e.rule_version = cr.def.version;
  e.severity = cr.def.severity;
  e.group = g.tags;
  e.alert_id = g.alert_id;
  e.previous = g.state();
  e.state = to;
  e.value = value;
  e.time = time;
  e.started = g.started;
  if (to == alert_state::acknowledged) {
    e.user = g.user;
    e.comment = g.comment;
  }
  e.message = render_message(cr.def, g.tags, to, value, why);
  e.actions = cr.def.actions;
  g.set_state(to);
  g.value = value;
  g.last_change = time;
  ++stats_.events;
  if (sink_) sink_(e);
}

status engine::acknowledge(std::string_view rule_id, const std::vector<model::tag>& group, std::string user,
                           std::string comment, int64_t time) {
  auto it = rules_.find(std::string(rule_id));
  if (it == rules_.end()) return error(errc::not_found, "rule \"" + std::string(rule_id) + "\" not found");
  compiled_rule& cr = *it->second;
  std::optional<uint32_t> id = group_id(cr.signature, group, /*insert=*/false);
  auto git = id ? cr.groups.find(*id) : cr.groups.end();
  if (git == cr.groups.end() ||
      (git->second.state() != alert_state::firing && git->second.state() != alert_state::acknowledged)) {
    return error(errc::not_found, "no firing alert for rule \"" + cr.def.id + "\" and this group");
  }
  group_state& g = git->second;
  if (g.state() == alert_state::acknowledged) {
    return error(errc::conflict,
                 "alert " + std::to_string(g.alert_id) + " already acknowledged by " + g.user);
  }
  g.user = std::move(user);
  g.comment = std::move(comment);
  transition(cr, g, alert_state::acknowledged, time, g.value);
  return status();
}

std::vector<alert_info> engine::alerts() const {
  std::vector<alert_info> out;
  for (const auto& [id, cr] : rules_) {
    for (const auto& [key, g] : cr->groups) {
      if (!is_open(g.state())) continue;
      alert_info a;
      a.rule_id = cr->def.id;
      a.rule_name = cr->def.name;
      a.group = g.tags;
      a.alert_id = g.alert_id;
      a.state = g.state();
      a.value = g.value;
      a.started = g.started;
      a.last_change = g.last_change;
      a.user = g.user;
      a.comment = g.comment;
      out.push_back(std::move(a));
    }
  }
  std::sort(out.begin(), out.end(), [](const alert_info& a, const alert_info& b) {
    if (a.rule_id != b.rule_id) return a.rule_id < b.rule_id;
    return std::lexicographical_compare(a.group.begin(), a.group.end(), b.group.begin(), b.group.end(),
                                        [](const model::tag& x, const model::tag& y) {
                                          return std::tie(x.key, x.value) < std::tie(y.key, y.value);
                                        });
  });
  return out;
}

std::string engine::serialize_rules() const {
  json list = json::array();
  for (const rule& r : rules()) list.push_back(rule_to_json(r));
  return list.dump();
}

status engine::deserialize_rules(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return error(errc::invalid_argument, "rules: not a JSON array");
  std::vector<rule> parsed;
  for (size_t i = 0; i < j.size(); ++i) {
    auto r = rule_from_json(j[i]);
    if (!r.ok())
      return error(errc::invalid_argument, "rules[" + std::to_string(i) + "]." + r.error().message());
    parsed.push_back(std::move(*r));
  }
  for (auto& r : parsed) LIANDU_RETURN_IF_ERROR(add_rule(std::move(r)));
  return status();
}

namespace {

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_group(std::string& out, const engine::group_state& g) {
  out += "{\"tags\":{";
  for (size_t t = 0; t < g.tags.size(); ++t) {
    if (t) out += ',';
    append_json_string(out, g.tags[t].key);
    out += ':';
    append_json_string(out, g.tags[t].value);
  }
  out += "},\"state\":\"";
  out += alert_state_name(g.state());
  out += "\",\"alert_id\":" + std::to_string(g.alert_id) + ",\"started\":" + std::to_string(g.started);
  out += ",\"pending_since\":" + std::to_string(g.pending_since);
  out += ",\"last_change\":" + std::to_string(g.last_change);
  out += ",\"value\":";
  append_number(out, g.value);
  out += ",\"user\":";
  append_json_string(out, g.user);
  out += ",\"comment\":";
  append_json_string(out, g.comment);
  out += ",\"leaves\":[";
  for (size_t l = 0; l < g.leaves.size(); ++l) {
    const leaf_state& ls = g.leaves[l];
    if (l) out += ',';
    out += ls.active ? "{\"active\":true,\"since\":" : "{\"active\":false,\"since\":";
    out += ls.since == no_time ? std::string("null") : std::to_string(ls.since);
    out += ",\"value\":";
    append_number(out, ls.value);
    out += '}';
  }
  out += "]}";
}

// The groups of one rule in the state's format: "<id>":{"version":..,"groups":[..]}.
template <typename Groups, typename Get>
void append_rule_state(std::string& out, const std::string& id, int64_t version, const Groups& groups,
                       Get get) {
  append_json_string(out, id);
  out += ":{\"version\":" + std::to_string(version) + ",\"groups\":[";
  bool first = true;
  for (const auto& g : groups) {
    if (!first) out += ',';
    first = false;
    append_group(out, get(g));
  }
  out += "]}";
}

}  // namespace

// Written by hand rather than through a JSON DOM: with 1,000 rules over
// hundreds of devices the state has hundreds of thousands of groups, and the
// rules thread stops evaluating while it writes (nlohmann's DOM took seconds
// and hundreds of MB for that). deserialize_state reads it with nlohmann.
std::string engine::serialize_state() const {
  std::string out = "{\"format\":1,\"next_alert_id\":" + std::to_string(next_alert_id_) + ",\"rules\":{";
  bool first_rule = true;
  for (const auto& [id, cr] : rules_) {
    if (!first_rule) out += ',';
    first_rule = false;
    append_rule_state(out, id, cr->def.version, cr->groups,
                      [](const auto& kv) -> const group_state& { return kv.second; });
  }
  out += "}}";
  return out;
}

std::string engine::serialize_state_of(std::span<const alert_event> events) {
  // By rule id, then the rule's groups in the order of their first event.
  std::map<std::string_view, std::pair<const compiled_rule*, std::vector<const group_state*>>> changed;
  std::unordered_set<const group_state*> seen;
  for (const alert_event& e : events) {
    auto rit = rules_.find(e.rule_id);
    if (rit == rules_.end()) continue;
    compiled_rule& cr = *rit->second;
    std::optional<uint32_t> id = group_id(cr.signature, e.group, /*insert=*/false);
    auto git = id ? cr.groups.find(*id) : cr.groups.end();
    if (git == cr.groups.end()) continue;
    if (!seen.insert(&git->second).second) continue;
    auto& [rule, groups] = changed[rit->first];
    rule = &cr;
    groups.push_back(&git->second);
  }
  std::string out = "{\"format\":1,\"next_alert_id\":" + std::to_string(next_alert_id_) + ",\"rules\":{";
  bool first_rule = true;
  for (const auto& [id, rule_groups] : changed) {
    if (!first_rule) out += ',';
    first_rule = false;
    append_rule_state(out, rule_groups.first->def.id, rule_groups.first->def.version, rule_groups.second,
                      [](const group_state* g) -> const group_state& { return *g; });
  }
  out += "}}";
  return out;
}

status engine::deserialize_state(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& what) { return error(errc::corruption, "alert state: " + what); };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("format") || j["format"] != 1) return bad("unknown format");
  if (!j.contains("rules") || !j["rules"].is_object()) return bad("rules missing");
  if (!j.contains("next_alert_id") || !j["next_alert_id"].is_number_unsigned())
    return bad("next_alert_id missing");
  // Validate everything before changing anything.
  struct restored {
    compiled_rule* cr;
    uint32_t key;
    group_state g;
  };
  std::vector<restored> out;
  for (auto it = j["rules"].begin(); it != j["rules"].end(); ++it) {
    auto rit = rules_.find(it.key());
    if (rit == rules_.end()) continue;
    compiled_rule& cr = *rit->second;
    const json& groups = it.value().contains("groups") ? it.value()["groups"] : json();
    if (!groups.is_array()) return bad("rule " + it.key() + ": groups missing");
    for (const json& gj : groups) {
      if (!gj.is_object() || !gj.contains("tags") || !gj["tags"].is_object())
        return bad("group without tags");
      std::vector<model::tag> tags;
      for (auto t = gj["tags"].begin(); t != gj["tags"].end(); ++t) {
        if (!t.value().is_string()) return bad("tag value not a string");
        tags.push_back({t.key(), t.value().get<std::string>()});
      }
      uint32_t key = *group_id(cr.signature, tags, /*insert=*/true);
      group_state g = cr.make_group(std::move(tags));
      alert_state s;
      if (!gj.contains("state") || !gj["state"].is_string() ||
          !parse_alert_state(gj["state"].get<std::string>(), s)) {
        return bad("bad state");
      }
      g.set_state(s);
      auto get_int = [&](const char* k, int64_t& dst) {
        if (!gj.contains(k) || !gj[k].is_number_integer()) return false;
        dst = gj[k].get<int64_t>();
        return true;
      };
      int64_t alert_id = 0;
      if (!get_int("alert_id", alert_id) || !get_int("started", g.started) ||
          !get_int("pending_since", g.pending_since) || !get_int("last_change", g.last_change)) {
        return bad("bad times or alert_id");
      }
      g.alert_id = static_cast<uint64_t>(alert_id);
      g.value = gj.contains("value") && gj["value"].is_number() ? gj["value"].get<double>() : 0.0;
      if (gj.contains("user") && gj["user"].is_string()) g.user = gj["user"].get<std::string>();
      if (gj.contains("comment") && gj["comment"].is_string()) g.comment = gj["comment"].get<std::string>();
      // Leaf flags only when the rule still has the same shape.
      if (gj.contains("leaves") && gj["leaves"].is_array() && gj["leaves"].size() == g.leaves.size()) {
        for (size_t i = 0; i < g.leaves.size(); ++i) {
          const json& lj = gj["leaves"][i];
          if (!lj.is_object()) return bad("bad leaf");
          if (lj.contains("active") && lj["active"].is_boolean())
            g.leaves[i].active = lj["active"].get<bool>();
          if (lj.contains("since") && lj["since"].is_number_integer())
            g.leaves[i].since = lj["since"].get<int64_t>();
          if (lj.contains("value") && lj["value"].is_number()) g.leaves[i].value = lj["value"].get<double>();
        }
      }
      out.push_back({&cr, std::move(key), std::move(g)});
    }
  }
  clear_series();  // a restored group may be one a series had no room for
  for (auto& r : out) r.cr->groups.insert_or_assign(r.key, std::move(r.g));
  next_alert_id_ = std::max(next_alert_id_, j["next_alert_id"].get<uint64_t>());
  return status();
}

}  // namespace liandu::toolbox::rules
