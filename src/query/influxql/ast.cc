#include "query/influxql/ast.h"

#include <charconv>
#include <cstdio>
#include <limits>

#include "base/backslash_escape.h"
#include "query/influxql/lexer.h"

namespace liandu::query::influxql {

const char* binary_op_text(binary_op op) {
  switch (op) {
    case binary_op::add: return "+";
    case binary_op::sub: return "-";
    case binary_op::mul: return "*";
    case binary_op::div: return "/";
    case binary_op::mod: return "%";
    case binary_op::bit_and: return "&";
    case binary_op::bit_or: return "|";
    case binary_op::bit_xor: return "^";
    case binary_op::and_: return "AND";
    case binary_op::or_: return "OR";
    case binary_op::eq: return "=";
    case binary_op::neq: return "!=";
    case binary_op::eq_regex: return "=~";
    case binary_op::neq_regex: return "!~";
    case binary_op::lt: return "<";
    case binary_op::lte: return "<=";
    case binary_op::gt: return ">";
    case binary_op::gte: return ">=";
  }
  return "?";
}

int precedence(binary_op op) {
  switch (op) {
    case binary_op::or_: return 1;
    case binary_op::and_: return 2;
    case binary_op::eq:
    case binary_op::neq:
    case binary_op::eq_regex:
    case binary_op::neq_regex:
    case binary_op::lt:
    case binary_op::lte:
    case binary_op::gt:
    case binary_op::gte: return 3;
    case binary_op::add:
    case binary_op::sub:
    case binary_op::bit_or:
    case binary_op::bit_xor: return 4;
    case binary_op::mul:
    case binary_op::div:
    case binary_op::mod:
    case binary_op::bit_and: return 5;
  }
  return 0;
}

bool is_comparison(binary_op op) { return precedence(op) == 3; }

bool comparison_holds(binary_op op, int order) {
  switch (op) {
    case binary_op::eq: return order == 0;
    case binary_op::neq: return order != 0;
    case binary_op::lt: return order < 0;
    case binary_op::lte: return order <= 0;
    case binary_op::gt: return order > 0;
    case binary_op::gte: return order >= 0;
    default: return false;
  }
}
bool is_arithmetic(binary_op op) { return precedence(op) >= 4; }

expr expr::var(std::string name, data_type t) {
  expr e;
  e.kind = expr_kind::var_ref;
  e.text = std::move(name);
  e.type = t;
  return e;
}

expr expr::make_call(std::string name, std::vector<expr> args) {
  expr e;
  e.kind = expr_kind::call;
  e.text = std::move(name);
  e.args = std::move(args);
  return e;
}

expr expr::make_binary(binary_op op, expr lhs, expr rhs) {
  expr e;
  e.kind = expr_kind::binary;
  e.op = op;
  e.args.push_back(std::move(lhs));
  e.args.push_back(std::move(rhs));
  return e;
}

expr expr::make_integer(int64_t v) {
  expr e;
  e.kind = expr_kind::integer;
  e.integer = v;
  return e;
}

expr expr::make_number(double v) {
  expr e;
  e.kind = expr_kind::number;
  e.number = v;
  return e;
}

expr expr::make_string(std::string v) {
  expr e;
  e.kind = expr_kind::string;
  e.text = std::move(v);
  return e;
}

expr expr::make_duration(int64_t ns) {
  expr e;
  e.kind = expr_kind::duration;
  e.integer = ns;
  return e;
}

expr expr::make_regex(std::string pattern) {
  expr e;
  e.kind = expr_kind::regex;
  e.text = std::move(pattern);
  return e;
}

bool source::operator==(const source& o) const {
  if (!(m == o.m)) return false;
  if (!subquery || !o.subquery) return !subquery && !o.subquery;
  return *subquery == *o.subquery;
}

std::string quote_ident(std::string_view ident) {
  bool need = ident.empty() || lookup_keyword(ident) != token::ident;
  for (size_t i = 0; i < ident.size() && !need; ++i) {
    char c = ident[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(letter || (i > 0 && digit))) need = true;
  }
  if (!need) return std::string(ident);
  std::string out = "\"";
  append_backslash_escaped(out, ident, '"');
  out.push_back('"');
  return out;
}

std::string quote_string(std::string_view s) {
  std::string out = "'";
  append_backslash_escaped(out, s, '\'');
  out.push_back('\'');
  return out;
}

std::string format_duration(int64_t d) {
  constexpr int64_t us = 1000, ms = 1000 * us, s = 1000 * ms, m = 60 * s, h = 60 * m, day = 24 * h,
                    w = 7 * day;
  if (d == 0) return "0s";
  char buf[40];
  if (d % w == 0) {
    std::snprintf(buf, sizeof buf, "%lldw", static_cast<long long>(d / w));
  } else if (d % day == 0) {
    std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(d / day));
  } else if (d % h == 0) {
    std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(d / h));
  } else if (d % m == 0) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(d / m));
  } else if (d % s == 0) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(d / s));
  } else if (d % ms == 0) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(d / ms));
  } else if (d % us == 0) {
    std::snprintf(buf, sizeof buf, "%lldu", static_cast<long long>(d / us));
  } else {
    std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(d));
  }
  return buf;
}

bool parse_duration(std::string_view a, int64_t& out, bool* overflow) {
  if (overflow) *overflow = false;
  if (a.size() < 2) return false;
  size_t i = 0;
  bool negative = false;
  if (a[0] == '-') {
    negative = true;
    ++i;
  }
  int64_t total = 0;
  auto add = [&](int64_t n, int64_t unit) {
    if (n > std::numeric_limits<int64_t>::max() / unit) return false;
    int64_t v = n * unit;
    if (total > std::numeric_limits<int64_t>::max() - v) return false;
    total += v;
    return true;
  };
  while (i < a.size()) {
    size_t start = i;
    while (i < a.size() && a[i] >= '0' && a[i] <= '9') ++i;
    if (i >= a.size() || i == start) return false;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(a.data() + start, a.data() + i, n);
    (void)p;
    if (ec != std::errc()) {
      if (overflow) *overflow = true;
      return false;
    }
    int64_t unit = 0;
    char c = a[i];
    size_t width = 1;
    if (c == 'n') {
      if (i + 1 < a.size() && a[i + 1] == 's') {
        unit = 1;
        width = 2;
      } else {
        return false;
      }
    } else if (c == 'u') {
      unit = 1000;
    } else if (c == '\xc2' && i + 1 < a.size() && a[i + 1] == '\xb5') {
      unit = 1000;
      width = 2;
    } else if (c == 'm') {
      if (i + 1 < a.size() && a[i + 1] == 's') {
        unit = 1000000;
        width = 2;
      } else {
        unit = 60LL * 1000000000;
      }
    } else if (c == 's') {
      unit = 1000000000;
    } else if (c == 'h') {
      unit = 3600LL * 1000000000;
    } else if (c == 'd') {
      unit = 86400LL * 1000000000;
    } else if (c == 'w') {
      unit = 7 * 86400LL * 1000000000;
    } else {
      return false;
    }
    if (!add(n, unit)) {
      if (overflow) *overflow = true;
      return false;
    }
    i += width;
  }
  out = negative ? -total : total;
  return true;
}

namespace {

std::string format_number(double v) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  std::string s(buf, r.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

std::string format_regex(const std::string& pattern) {
  std::string out = "/";
  for (char c : pattern) {
    if (c == '/') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('/');
  return out;
}

void append_expr(std::string& out, const expr& e);

void append_operand(std::string& out, const expr& e, int parent_prec, bool right) {
  bool wrap = false;
  if (e.kind == expr_kind::binary) {
    int p = precedence(e.op);
    wrap = right ? p <= parent_prec : p < parent_prec;
  }
  if (wrap) out.push_back('(');
  append_expr(out, e);
  if (wrap) out.push_back(')');
}

void append_expr(std::string& out, const expr& e) {
  switch (e.kind) {
    case expr_kind::var_ref:
      out += quote_ident(e.text);
      switch (e.type) {
        case data_type::float_: out += "::float"; break;
        case data_type::integer: out += "::integer"; break;
        case data_type::unsigned_: out += "::unsigned"; break;
        case data_type::string: out += "::string"; break;
        case data_type::boolean: out += "::boolean"; break;
        case data_type::any_field: out += "::field"; break;
        case data_type::tag: out += "::tag"; break;
        case data_type::unknown: break;
      }
      return;
    case expr_kind::wildcard:
      out += "*";
      if (e.type == data_type::any_field) out += "::field";
      if (e.type == data_type::tag) out += "::tag";
      return;
    case expr_kind::call: {
      out += e.text == "distinct" ? std::string("distinct") : quote_ident(e.text);
      out.push_back('(');
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) out += ", ";
        append_expr(out, e.args[i]);
      }
      out.push_back(')');
      return;
    }
    case expr_kind::binary: {
      int p = precedence(e.op);
      append_operand(out, e.args[0], p, false);
      out.push_back(' ');
      out += binary_op_text(e.op);
      out.push_back(' ');
      append_operand(out, e.args[1], p, true);
      return;
    }
    case expr_kind::paren:
      out.push_back('(');
      append_expr(out, e.args[0]);
      out.push_back(')');
      return;
    case expr_kind::integer: out += std::to_string(e.integer); return;
    case expr_kind::number: out += format_number(e.number); return;
    case expr_kind::string: out += quote_string(e.text); return;
    case expr_kind::boolean: out += e.boolean ? "true" : "false"; return;
    case expr_kind::duration: out += format_duration(e.integer); return;
    case expr_kind::regex: out += format_regex(e.text); return;
  }
}

void append_sources(std::string& out, const std::vector<source>& sources) {
  for (size_t i = 0; i < sources.size(); ++i) {
    if (i) out += ", ";
    if (sources[i].subquery) {
      out += "(" + format(*sources[i].subquery) + ")";
    } else {
      out += format(sources[i].m);
    }
  }
}

void append_on(std::string& out, const std::string& db) {
  if (!db.empty()) out += " ON " + quote_ident(db);
}

void append_from(std::string& out, const std::vector<source>& sources) {
  if (sources.empty()) return;
  out += " FROM ";
  append_sources(out, sources);
}

void append_where(std::string& out, const std::optional<expr>& cond) {
  if (cond) out += " WHERE " + format(*cond);
}

void append_int(std::string& out, const char* kw, int64_t v) {
  if (v > 0) out += std::string(" ") + kw + " " + std::to_string(v);
}

struct statement_formatter {
  std::string operator()(const select_statement& s) const { return format(s); }
  std::string operator()(const show_databases_statement&) const { return "SHOW DATABASES"; }
  std::string operator()(const show_measurements_statement& s) const {
    std::string out = "SHOW MEASUREMENTS";
    append_on(out, s.database);
    if (s.with) {
      out += s.with_op == binary_op::eq_regex ? " WITH MEASUREMENT =~ " : " WITH MEASUREMENT = ";
      out += format(*s.with);
    }
    append_where(out, s.condition);
    append_int(out, "LIMIT", s.limit);
    append_int(out, "OFFSET", s.offset);
    return out;
  }
  std::string operator()(const show_tag_keys_statement& s) const {
    std::string out = "SHOW TAG KEYS";
    append_on(out, s.database);
    append_from(out, s.sources);
    append_where(out, s.condition);
    append_int(out, "LIMIT", s.limit);
    append_int(out, "OFFSET", s.offset);
    append_int(out, "SLIMIT", s.slimit);
    append_int(out, "SOFFSET", s.soffset);
    return out;
  }
  std::string operator()(const show_tag_values_statement& s) const {
    std::string out = "SHOW TAG VALUES";
    append_on(out, s.database);
    append_from(out, s.sources);
    out += " WITH KEY ";
    switch (s.op) {
      case tag_key_op::eq: out += "= " + quote_ident(s.keys.at(0)); break;
      case tag_key_op::neq: out += "!= " + quote_ident(s.keys.at(0)); break;
      case tag_key_op::eq_regex: out += "=~ " + format_regex(s.keys.at(0)); break;
      case tag_key_op::neq_regex: out += "!~ " + format_regex(s.keys.at(0)); break;
      case tag_key_op::in:
        out += "IN (";
        for (size_t i = 0; i < s.keys.size(); ++i) {
          if (i) out += ", ";
          out += quote_ident(s.keys[i]);
        }
        out += ")";
        break;
    }
    append_where(out, s.condition);
    append_int(out, "LIMIT", s.limit);
    append_int(out, "OFFSET", s.offset);
    return out;
  }
  std::string operator()(const show_field_keys_statement& s) const {
    std::string out = "SHOW FIELD KEYS";
    append_on(out, s.database);
    append_from(out, s.sources);
    append_int(out, "LIMIT", s.limit);
    append_int(out, "OFFSET", s.offset);
    return out;
  }
  std::string operator()(const show_series_statement& s) const {
    std::string out = "SHOW SERIES";
    append_on(out, s.database);
    append_from(out, s.sources);
    append_where(out, s.condition);
    append_int(out, "LIMIT", s.limit);
    append_int(out, "OFFSET", s.offset);
    return out;
  }
  std::string operator()(const show_retention_policies_statement& s) const {
    std::string out = "SHOW RETENTION POLICIES";
    append_on(out, s.database);
    return out;
  }
  std::string operator()(const show_continuous_queries_statement&) const { return "SHOW CONTINUOUS QUERIES"; }
  std::string operator()(const create_database_statement& s) const {
    std::string out = "CREATE DATABASE " + quote_ident(s.name);
    if (s.rp_given) {
      out += " WITH";
      if (s.duration) out += " DURATION " + format_duration(*s.duration);
      if (s.replication) out += " REPLICATION " + std::to_string(*s.replication);
      if (s.shard_duration) out += " SHARD DURATION " + format_duration(*s.shard_duration);
      if (!s.rp_name.empty()) out += " NAME " + quote_ident(s.rp_name);
    }
    return out;
  }
  std::string operator()(const drop_database_statement& s) const {
    return "DROP DATABASE " + quote_ident(s.name);
  }
  std::string operator()(const create_retention_policy_statement& s) const {
    std::string out = "CREATE RETENTION POLICY " + quote_ident(s.name) + " ON " + quote_ident(s.database) +
                      " DURATION " + format_duration(s.duration) + " REPLICATION " +
                      std::to_string(s.replication);
    if (s.shard_duration) out += " SHARD DURATION " + format_duration(s.shard_duration);
    if (s.is_default) out += " DEFAULT";
    return out;
  }
  std::string operator()(const alter_retention_policy_statement& s) const {
    std::string out = "ALTER RETENTION POLICY " + quote_ident(s.name) + " ON " + quote_ident(s.database);
    if (s.duration) out += " DURATION " + format_duration(*s.duration);
    if (s.replication) out += " REPLICATION " + std::to_string(*s.replication);
    if (s.shard_duration) out += " SHARD DURATION " + format_duration(*s.shard_duration);
    if (s.is_default) out += " DEFAULT";
    return out;
  }
  std::string operator()(const drop_retention_policy_statement& s) const {
    return "DROP RETENTION POLICY " + quote_ident(s.name) + " ON " + quote_ident(s.database);
  }
  std::string operator()(const drop_series_statement& s) const {
    std::string out = "DROP SERIES";
    append_from(out, s.sources);
    append_where(out, s.condition);
    return out;
  }
  std::string operator()(const delete_statement& s) const {
    std::string out = "DELETE";
    append_from(out, s.sources);
    append_where(out, s.condition);
    return out;
  }
  std::string operator()(const drop_measurement_statement& s) const {
    return "DROP MEASUREMENT " + quote_ident(s.name);
  }
  std::string operator()(const create_continuous_query_statement& s) const {
    std::string out = "CREATE CONTINUOUS QUERY " + quote_ident(s.name) + " ON " + quote_ident(s.database);
    if (s.resample_every || s.resample_for) {
      out += " RESAMPLE";
      if (s.resample_every) out += " EVERY " + format_duration(s.resample_every);
      if (s.resample_for) out += " FOR " + format_duration(s.resample_for);
    }
    out += " BEGIN " + format(s.select) + " END";
    return out;
  }
  std::string operator()(const drop_continuous_query_statement& s) const {
    return "DROP CONTINUOUS QUERY " + quote_ident(s.name) + " ON " + quote_ident(s.database);
  }
};

}  // namespace

std::string format(const expr& e) {
  std::string out;
  append_expr(out, e);
  return out;
}

std::string format(const measurement& m) {
  std::string out;
  if (!m.database.empty()) {
    out += quote_ident(m.database) + "." +
           (m.retention_policy.empty() ? "" : quote_ident(m.retention_policy)) + ".";
  } else if (!m.retention_policy.empty()) {
    out += quote_ident(m.retention_policy) + ".";
  }
  if (m.regex) {
    out += format_regex(*m.regex);
  } else {
    out += quote_ident(m.name);
  }
  return out;
}

std::string format(const select_statement& s) {
  std::string out = "SELECT ";
  for (size_t i = 0; i < s.fields.size(); ++i) {
    if (i) out += ", ";
    out += format(s.fields[i].e);
    if (!s.fields[i].alias.empty()) out += " AS " + quote_ident(s.fields[i].alias);
  }
  if (s.into) {
    out += " INTO ";
    if (s.into->source_name) {
      measurement m = s.into->m;
      std::string prefix = format(measurement{m.database, m.retention_policy, "x", {}});
      out += prefix.substr(0, prefix.size() - 1) + ":MEASUREMENT";
    } else {
      out += format(s.into->m);
    }
  }
  out += " FROM ";
  append_sources(out, s.sources);
  append_where(out, s.condition);
  if (!s.dimensions.empty()) {
    out += " GROUP BY ";
    for (size_t i = 0; i < s.dimensions.size(); ++i) {
      if (i) out += ", ";
      out += format(s.dimensions[i]);
    }
  }
  switch (s.fill) {
    case fill_option::null: break;
    case fill_option::none: out += " fill(none)"; break;
    case fill_option::previous: out += " fill(previous)"; break;
    case fill_option::linear: out += " fill(linear)"; break;
    case fill_option::number: out += " fill(" + (s.fill_value ? format(*s.fill_value) : "0") + ")"; break;
  }
  if (s.has_order) out += s.ascending ? " ORDER BY time ASC" : " ORDER BY time DESC";
  append_int(out, "LIMIT", s.limit);
  append_int(out, "OFFSET", s.offset);
  append_int(out, "SLIMIT", s.slimit);
  append_int(out, "SOFFSET", s.soffset);
  if (s.tz) out += " tz(" + quote_string(*s.tz) + ")";
  return out;
}

std::string format(const statement& s) { return std::visit(statement_formatter{}, s); }

std::string format(const query& q) {
  std::string out;
  for (size_t i = 0; i < q.statements.size(); ++i) {
    if (i) out += "; ";
    out += format(q.statements[i]);
  }
  return out;
}

}  // namespace liandu::query::influxql
