#include "http/handlers/live_filter.h"

#include <cmath>

#include "query/influxql/parser.h"

namespace liandu::http::handlers {

namespace iql = query::influxql;
using iql::binary_op;
using iql::expr_kind;

namespace {

status not_live(const std::string& what) {
  return error(errc::invalid_argument, "live query: " + what +
                                           " is not allowed (one point at a time: "
                                           "SELECT fields FROM measurement WHERE tag and field conditions)");
}

// Both places a subscription names a pattern (FROM /re/, tag =~ /re/) report
// a bad one the same way.
result<liandu::regex> compile_regex(const std::string& pattern) {
  auto re = liandu::regex::compile(pattern);
  if (!re.ok())
    return error(errc::invalid_argument, "live query: bad regex /" + pattern + "/: " + re.error().message());
  return re;
}

// Numbers compare as numbers whatever their type (int64 with int64 exactly).
template <typename V>
double as_double(const V& v) {
  switch (v.index()) {
    case 0: return std::get<0>(v);
    case 1: return static_cast<double>(std::get<1>(v));
    default: return static_cast<double>(std::get<2>(v));
  }
}

template <typename T>
int order(const T& a, const T& b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

}  // namespace

status live_filter::compile(const iql::expr& e, node& out, int depth) {
  if (depth > 64) return not_live("a condition nested this deep");
  out.kind = e.kind;
  switch (e.kind) {
    case expr_kind::paren: return compile(e.args[0], out, depth + 1);
    case expr_kind::integer: out.value = e.integer; return {};
    case expr_kind::number: out.value = e.number; return {};
    case expr_kind::string: out.value = e.text; return {};
    case expr_kind::boolean: out.value = e.boolean; return {};
    case expr_kind::regex: {
      auto re = compile_regex(e.text);
      if (!re.ok()) return re.error();
      out.re = std::make_shared<const liandu::regex>(std::move(re).value());
      return {};
    }
    case expr_kind::var_ref:
      if (e.text == "time") return not_live("a time condition");
      out.name = e.text;
      out.type = e.type;
      return {};
    case expr_kind::binary: {
      out.op = e.op;
      if (e.op != binary_op::and_ && e.op != binary_op::or_ && !iql::is_comparison(e.op)) {
        return not_live("arithmetic (" + iql::format(e) + ")");
      }
      out.args.resize(2);
      LIANDU_RETURN_IF_ERROR(compile(e.args[0], out.args[0], depth + 1));
      LIANDU_RETURN_IF_ERROR(compile(e.args[1], out.args[1], depth + 1));
      if (iql::is_comparison(e.op)) {
        // One side a name, the other a literal (or a regex for =~ and !~).
        bool regex_op = e.op == binary_op::eq_regex || e.op == binary_op::neq_regex;
        const node& l = out.args[0];
        const node& r = out.args[1];
        if (l.kind != expr_kind::var_ref ||
            (regex_op ? r.kind != expr_kind::regex
                      : (r.kind == expr_kind::var_ref || r.kind == expr_kind::regex ||
                         r.kind == expr_kind::binary))) {
          return not_live("the comparison " + iql::format(e) + " (write name OP literal)");
        }
      } else if (out.args[0].kind != expr_kind::binary || out.args[1].kind != expr_kind::binary) {
        return not_live("a bare value under AND/OR (" + iql::format(e) + ")");
      }
      return {};
    }
    case expr_kind::call: return not_live("the function " + e.text + "()");
    case expr_kind::wildcard: return not_live("a wildcard in a condition");
    case expr_kind::duration: return not_live("a duration in a condition");
  }
  return not_live("this expression");
}

result<std::shared_ptr<const live_filter>> live_filter::parse(std::string_view q) {
  auto st = iql::parse_statement(q);
  if (!st.ok()) return error(errc::invalid_argument, "error parsing query: " + st.error().message());
  const auto* s = std::get_if<iql::select_statement>(&*st);
  if (s == nullptr) return error(errc::invalid_argument, "live query: only a SELECT statement can be live");
  auto f = std::make_shared<live_filter>();
  if (s->into) return not_live("INTO");
  if (!s->dimensions.empty()) return not_live("GROUP BY");
  if (s->limit || s->offset || s->slimit || s->soffset) return not_live("LIMIT/OFFSET");
  if (s->has_order) return not_live("ORDER BY");
  if (s->sources.size() != 1) return not_live("more than one measurement");
  const iql::source& src = s->sources[0];
  if (src.subquery) return not_live("a subquery");
  f->database_ = src.m.database;
  if (src.m.regex) {
    auto re = compile_regex(*src.m.regex);
    if (!re.ok()) return re.error();
    f->measurement_re_ = std::make_unique<liandu::regex>(std::move(re).value());
  } else {
    f->measurement_ = src.m.name;
  }
  for (const iql::field& fld : s->fields) {
    if (fld.e.kind == expr_kind::wildcard) {
      f->fields_.clear();
      break;
    }
    if (fld.e.kind != expr_kind::var_ref) return not_live(iql::format(fld.e) + " in SELECT");
    f->fields_.push_back(fld.e.text);
  }
  if (s->condition) {
    f->condition_ = std::make_unique<node>();
    LIANDU_RETURN_IF_ERROR(compile(*s->condition, *f->condition_, 0));
    if (f->condition_->kind != expr_kind::binary) return not_live("a bare value as the condition");
  }
  return std::shared_ptr<const live_filter>(std::move(f));
}

bool live_filter::measurement_matches(std::string_view m) const {
  if (measurement_re_) return measurement_re_->search(m);
  return m == measurement_;
}

bool live_filter::keeps_field(std::string_view key) const {
  if (fields_.empty()) return true;
  for (const auto& f : fields_) {
    if (f == key) return true;
  }
  return false;
}

bool live_filter::matches(std::span<const model::tag> tags, std::span<const model::field_view> fields) const {
  if (!fields_.empty()) {
    bool any = false;
    for (const auto& f : fields) any = any || keeps_field(f.key);
    if (!any) return false;  // nothing selected in this point
  }
  return !condition_ || holds(*condition_, tags, fields);
}

bool live_filter::holds(const node& n, std::span<const model::tag> tags,
                        std::span<const model::field_view> fields) const {
  if (n.op == binary_op::and_) return holds(n.args[0], tags, fields) && holds(n.args[1], tags, fields);
  if (n.op == binary_op::or_) return holds(n.args[0], tags, fields) || holds(n.args[1], tags, fields);
  // name OP literal: the name is a field if the point has one by that name
  // (unless ::tag), else a tag; a missing tag is "", a missing field fails.
  const node& name = n.args[0];
  const model::field_value& lit = n.args[1].value;
  model::field_value_view l = std::string_view();
  bool found = false;
  if (name.type != iql::data_type::tag) {
    for (const auto& f : fields) {
      if (f.key == name.name) {
        l = f.value;
        found = true;
        break;
      }
    }
  }
  if (!found) {
    if (name.type != iql::data_type::unknown && name.type != iql::data_type::tag) return false;
    for (const auto& t : tags) {
      if (t.key == name.name) {
        l = std::string_view(t.value);
        break;
      }
    }
  }
  const auto* text = std::get_if<std::string_view>(&l);
  if (n.op == binary_op::eq_regex || n.op == binary_op::neq_regex) {
    if (text == nullptr) return false;
    bool m = n.args[1].re->search(*text);
    return n.op == binary_op::eq_regex ? m : !m;
  }
  switch (lit.index()) {
    case 0:
    case 1:
    case 2: {
      if (l.index() > 2) return false;
      if (lit.index() == 1 && l.index() == 1)
        return iql::comparison_holds(n.op, order(std::get<1>(l), std::get<1>(lit)));
      double x = as_double(l), y = as_double(lit);
      if (std::isnan(x) || std::isnan(y)) return false;
      return iql::comparison_holds(n.op, order(x, y));
    }
    case 3:
      if (l.index() != 3 || (n.op != binary_op::eq && n.op != binary_op::neq)) return false;
      return iql::comparison_holds(n.op, std::get<3>(l) == std::get<3>(lit) ? 0 : 1);
    default:
      if (text == nullptr) return false;
      return iql::comparison_holds(n.op, text->compare(std::get<std::string>(lit)));
  }
}

}  // namespace liandu::http::handlers
