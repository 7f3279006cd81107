#include "query/influxql/parser.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>

#include "query/influxql/lexer.h"

namespace liandu::query::influxql {

namespace {

// Parse errors nest no deeper than this many parentheses / calls, so hostile
// input cannot exhaust the stack.
constexpr int max_depth = 200;

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

binary_op to_binary_op(token t) {
  switch (t) {
    case token::add: return binary_op::add;
    case token::sub: return binary_op::sub;
    case token::mul: return binary_op::mul;
    case token::div: return binary_op::div;
    case token::mod: return binary_op::mod;
    case token::bit_and: return binary_op::bit_and;
    case token::bit_or: return binary_op::bit_or;
    case token::bit_xor: return binary_op::bit_xor;
    case token::and_: return binary_op::and_;
    case token::or_: return binary_op::or_;
    case token::eq: return binary_op::eq;
    case token::neq: return binary_op::neq;
    case token::eq_regex: return binary_op::eq_regex;
    case token::neq_regex: return binary_op::neq_regex;
    case token::lt: return binary_op::lt;
    case token::lte: return binary_op::lte;
    case token::gt: return binary_op::gt;
    default: return binary_op::gte;
  }
}

bool is_binary_token(token t) { return is_operator(t) && t != token::in; }

class parser {
 public:
  explicit parser(std::string_view text) : lx_(text) {}

  status parse_query(query& q) {
    bool semi = true;
    while (true) {
      scanned t = next();
      if (t.tok == token::eof) return {};
      if (t.tok == token::semicolon) {
        semi = true;
        continue;
      }
      if (!semi) return expected(t, {";"});
      unscan();
      statement s;
      LIANDU_RETURN_IF_ERROR(parse_statement(s));
      q.statements.push_back(std::move(s));
      semi = false;
    }
  }

  status parse_single_statement(statement& s) {
    LIANDU_RETURN_IF_ERROR(parse_statement(s));
    scanned t = next();
    if (t.tok == token::semicolon) t = next();
    if (t.tok != token::eof) return expected(t, {"EOF"});
    return {};
  }

  status parse_single_expr(expr& e) {
    LIANDU_RETURN_IF_ERROR(parse_expr(e));
    scanned t = next();
    if (t.tok != token::eof) return expected(t, {"EOF"});
    return {};
  }

 private:
  // --- scanning helpers ---

  // Next token, skipping whitespace and comments. unscan() backs up to
  // before the skipped whitespace.
  scanned next() {
    last_ = lx_.offset();
    while (true) {
      scanned t = lx_.scan();
      if (t.tok != token::ws && t.tok != token::comment) return t;
    }
  }
  // Next token without skipping whitespace.
  scanned next_raw() {
    last_ = lx_.offset();
    return lx_.scan();
  }
  void unscan() { lx_.set_offset(last_); }

  void skip_whitespace() {
    while (!lx_.at_end()) {
      char c = lx_.peek_char();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') break;
      lx_.set_offset(lx_.offset() + 1);
    }
  }

  // True when a regex literal starts after optional whitespace.
  bool at_regex() {
    size_t save = lx_.offset();
    skip_whitespace();
    bool yes = lx_.peek_char() == '/' &&
               !(lx_.offset() + 1 < lx_.input().size() && lx_.input()[lx_.offset() + 1] == '*');
    if (!yes) lx_.set_offset(save);
    return yes;
  }

  status parse_regex(std::string& pattern) {
    size_t before = lx_.offset();
    if (!at_regex()) {
      scanned t = next();
      // InfluxDB's peek-and-skip of the whitespace leaves its position one
      // character early here; keep its error text.
      if (t.pos > before && t.tok != token::eof) --t.pos;
      return expected(t, {"regex"});
    }
    scanned t = lx_.scan_regex();
    if (t.tok != token::regex) return error_at("bad regex: " + t.lit, t.pos);
    pattern = std::move(t.lit);
    return {};
  }

  // --- errors ---

  void line_char(size_t pos, size_t& line, size_t& ch) const {
    std::string_view in = lx_.input();
    size_t end = pos < in.size() ? pos : in.size();
    size_t line_start = 0;
    line = 0;
    for (size_t i = 0; i < end; ++i) {
      if (in[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    ch = 0;
    for (size_t i = line_start; i < end; ++i) {
      if ((static_cast<unsigned char>(in[i]) & 0xC0) != 0x80) ++ch;
    }
    if (pos > in.size()) ch += pos - in.size();
  }

  status error_at(const std::string& message, size_t pos) const {
    size_t line = 0, ch = 0;
    line_char(pos, line, ch);
    return error(errc::parse_error,
                 message + " at line " + std::to_string(line + 1) + ", char " + std::to_string(ch + 1));
  }

  status expected(const scanned& t, std::initializer_list<const char*> what) const {
    std::string msg = "found ";
    msg += t.lit.empty() ? std::string(token_name(t.tok)) : t.lit;
    msg += ", expected ";
    bool first = true;
    for (const char* w : what) {
      if (!first) msg += ", ";
      msg += w;
      first = false;
    }
    return error_at(msg, t.pos);
  }

  status expect(token tok) {
    scanned t = next();
    if (t.tok != tok) return expected(t, {token_name(tok)});
    return {};
  }

  bool accept(token tok) {
    scanned t = next();
    if (t.tok == tok) return true;
    unscan();
    return false;
  }

  status unsupported(const scanned& t, const char* what) const {
    return error_at(std::string(what) + " is not supported", t.pos);
  }

  status parse_ident(std::string& out) {
    scanned t = next();
    if (t.tok != token::ident) return expected(t, {"identifier"});
    out = std::move(t.lit);
    return {};
  }

  status parse_int(int64_t min, int64_t max, int64_t& out) {
    scanned t = next();
    if (t.tok != token::integer) return expected(t, {"integer"});
    int64_t v = 0;
    auto [p, ec] = std::from_chars(t.lit.data(), t.lit.data() + t.lit.size(), v);
    (void)p;
    if (ec != std::errc()) return error_at("unable to parse integer", t.pos);
    if (v < min || v > max) {
      return error_at("invalid value " + std::to_string(v) + ": must be " + std::to_string(min) +
                          " <= n <= " + std::to_string(max),
                      t.pos);
    }
    out = v;
    return {};
  }

  status parse_duration_token(int64_t& out) {
    scanned t = next();
    if (t.tok == token::kw_inf) {
      out = 0;
      return {};
    }
    if (t.tok != token::duration) return expected(t, {"duration"});
    return duration_value(t, out);
  }

  status duration_value(const scanned& t, int64_t& out) const {
    bool overflow = false;
    if (!parse_duration(t.lit, out, &overflow)) {
      if (overflow)
        return error(errc::parse_error,
                     "overflowed duration " + t.lit + ": choose a smaller duration or INF");
      return error(errc::parse_error, "invalid duration");
    }
    return {};
  }

  // --- statements ---

  status parse_statement(statement& out) {
    scanned t = next();
    switch (t.tok) {
      case token::kw_select: {
        select_statement s;
        LIANDU_RETURN_IF_ERROR(parse_select(s, false));
        out = std::move(s);
        return {};
      }
      case token::kw_delete: return parse_delete(out);
      case token::kw_show: return parse_show(out);
      case token::kw_create: return parse_create(out);
      case token::kw_drop: return parse_drop(out);
      case token::kw_alter: return parse_alter(out);
      case token::kw_explain: return unsupported(t, "EXPLAIN");
      case token::kw_grant: return unsupported(t, "GRANT");
      case token::kw_revoke: return unsupported(t, "REVOKE");
      case token::kw_set: return unsupported(t, "SET");
      case token::kw_kill: return unsupported(t, "KILL");
      default:
        return expected(t, {"SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE",
                            "ALTER", "SET", "KILL"});
    }
  }

  status parse_select(select_statement& s, bool target_required) {
    if (++depth_ > max_depth) return error(errc::parse_error, "query is nested too deeply");
    LIANDU_RETURN_IF_ERROR(parse_fields(s.fields));
    scanned t = next();
    if (t.tok == token::kw_into) {
      into_target target;
      LIANDU_RETURN_IF_ERROR(parse_target(target));
      s.into = std::move(target);
    } else if (target_required) {
      return expected(t, {"INTO"});
    } else {
      unscan();
    }
    LIANDU_RETURN_IF_ERROR(expect(token::kw_from));
    LIANDU_RETURN_IF_ERROR(parse_sources(s.sources, true));
    if (accept(token::kw_where)) {
      expr cond;
      LIANDU_RETURN_IF_ERROR(parse_expr(cond));
      s.condition = std::move(cond);
    }
    if (accept(token::kw_group)) {
      LIANDU_RETURN_IF_ERROR(expect(token::kw_by));
      LIANDU_RETURN_IF_ERROR(parse_dimensions(s.dimensions));
    }
    LIANDU_RETURN_IF_ERROR(parse_fill(s));
    if (accept(token::kw_order)) {
      LIANDU_RETURN_IF_ERROR(expect(token::kw_by));
      LIANDU_RETURN_IF_ERROR(parse_order(s));
    }
    LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_limit, s.limit));
    LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_offset, s.offset));
    LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_slimit, s.slimit));
    LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_soffset, s.soffset));
    LIANDU_RETURN_IF_ERROR(parse_tz(s));
    --depth_;
    return {};
  }

  status parse_optional_int(token kw, int64_t& out) {
    if (!accept(kw)) return {};
    return parse_int(0, std::numeric_limits<int64_t>::max(), out);
  }

  status parse_fields(std::vector<field>& fields) {
    while (true) {
      field f;
      scanned first = next();
      unscan();
      LIANDU_RETURN_IF_ERROR(parse_expr(f.e));
      if (const char* bad = invalid_select_operator(f.e)) {
        size_t line = 0, ch = 0;
        line_char(first.pos, line, ch);
        return error(errc::parse_error, std::string("invalid operator ") + bad +
                                            " in SELECT clause at line " + std::to_string(line + 1) +
                                            ", char " + std::to_string(ch + 1) +
                                            "; operator is intended for WHERE clause");
      }
      if (accept(token::kw_as)) LIANDU_RETURN_IF_ERROR(parse_ident(f.alias));
      fields.push_back(std::move(f));
      if (!accept(token::comma)) return {};
    }
  }

  static const char* invalid_select_operator(const expr& e) {
    if (e.kind == expr_kind::binary && !is_arithmetic(e.op)) return binary_op_text(e.op);
    for (const expr& a : e.args) {
      if (const char* bad = invalid_select_operator(a)) return bad;
    }
    return nullptr;
  }

  status parse_target(into_target& target) {
    // [db.][rp.](name | :MEASUREMENT)
    std::vector<std::string> idents;
    while (true) {
      skip_whitespace();
      if (lx_.peek_char() == ':') {
        scanned c = next_raw();
        if (c.tok != token::colon) return expected(c, {"identifier"});
        scanned m = next_raw();
        if (m.tok != token::kw_measurement) return expected(m, {"MEASUREMENT"});
        target.source_name = true;
        break;
      }
      std::string id;
      LIANDU_RETURN_IF_ERROR(parse_ident(id));
      idents.push_back(std::move(id));
      if (lx_.peek_char() != '.') break;
      lx_.set_offset(lx_.offset() + 1);
      while (lx_.peek_char() == '.') {
        lx_.set_offset(lx_.offset() + 1);
        idents.emplace_back();
      }
    }
    size_t needed = target.source_name ? 2 : 3;
    if (idents.size() > needed) return error(errc::parse_error, "too many segments in INTO target");
    if (!target.source_name) {
      target.m.name = idents.back();
      idents.pop_back();
    }
    if (idents.size() == 2) {
      target.m.database = idents[0];
      target.m.retention_policy = idents[1];
    } else if (idents.size() == 1) {
      target.m.retention_policy = idents[0];
    }
    return {};
  }

  // [db.][rp.](name | /regex/)
  status parse_measurement(measurement& m) {
    std::vector<std::string> idents;
    std::optional<std::string> regex;
    while (true) {
      if (at_regex()) {
        std::string re;
        LIANDU_RETURN_IF_ERROR(parse_regex(re));
        regex = std::move(re);
        break;
      }
      std::string id;
      LIANDU_RETURN_IF_ERROR(parse_ident(id));
      idents.push_back(std::move(id));
      if (lx_.peek_char() != '.') break;
      lx_.set_offset(lx_.offset() + 1);
      while (lx_.peek_char() == '.') {
        lx_.set_offset(lx_.offset() + 1);
        idents.emplace_back();
      }
      if (idents.size() >= 3) {
        std::string joined;
        for (size_t i = 0; i < idents.size(); ++i) joined += (i ? "." : "") + idents[i];
        return error(errc::parse_error, "too many segments in " + joined);
      }
    }
    if (regex) {
      m.regex = std::move(regex);
    } else {
      m.name = idents.back();
      idents.pop_back();
    }
    if (idents.size() == 2) {
      m.database = idents[0];
      m.retention_policy = idents[1];
    } else if (idents.size() == 1) {
      m.retention_policy = idents[0];
    }
    return {};
  }

  status parse_source(source& src, bool subqueries) {
    if (subqueries && !at_regex()) {
      if (accept(token::lparen)) {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_select));
        auto sub = std::make_shared<select_statement>();
        LIANDU_RETURN_IF_ERROR(parse_select(*sub, false));
        LIANDU_RETURN_IF_ERROR(expect(token::rparen));
        src.subquery = std::move(sub);
        return {};
      }
    }
    return parse_measurement(src.m);
  }

  status parse_sources(std::vector<source>& sources, bool subqueries) {
    while (true) {
      source src;
      LIANDU_RETURN_IF_ERROR(parse_source(src, subqueries));
      sources.push_back(std::move(src));
      if (!accept(token::comma)) return {};
    }
  }

  status parse_dimensions(std::vector<expr>& dims) {
    while (true) {
      expr d;
      if (at_regex()) {
        std::string re;
        LIANDU_RETURN_IF_ERROR(parse_regex(re));
        d = expr::make_regex(std::move(re));
      } else {
        LIANDU_RETURN_IF_ERROR(parse_expr(d));
      }
      dims.push_back(std::move(d));
      if (!accept(token::comma)) return {};
    }
  }

  status parse_fill(select_statement& s) {
    size_t save = lx_.offset();
    scanned t = next();
    lx_.set_offset(save);
    if (t.tok != token::ident || to_lower(t.lit) != "fill") return {};
    expr e;
    LIANDU_RETURN_IF_ERROR(parse_expr(e));
    if (e.kind != expr_kind::call) return error(errc::parse_error, "fill must be a function call");
    if (e.args.size() != 1) {
      return error(errc::parse_error, "fill requires an argument, e.g.: 0, null, none, previous, linear");
    }
    const expr& a = e.args[0];
    if (a.kind == expr_kind::var_ref && a.type == data_type::unknown && a.text == "null") {
      s.fill = fill_option::null;
    } else if (a.kind == expr_kind::var_ref && a.type == data_type::unknown && a.text == "none") {
      s.fill = fill_option::none;
    } else if (a.kind == expr_kind::var_ref && a.type == data_type::unknown && a.text == "previous") {
      s.fill = fill_option::previous;
    } else if (a.kind == expr_kind::var_ref && a.type == data_type::unknown && a.text == "linear") {
      s.fill = fill_option::linear;
    } else if (a.kind == expr_kind::integer || a.kind == expr_kind::number) {
      s.fill = fill_option::number;
      s.fill_value = a;
    } else {
      return error(errc::parse_error, "expected number argument in fill()");
    }
    return {};
  }

  status parse_order(select_statement& s) {
    scanned t = next();
    bool named = false;
    std::string name;
    if (t.tok == token::kw_asc || t.tok == token::kw_desc) {
      s.ascending = t.tok == token::kw_asc;
    } else if (t.tok == token::ident) {
      named = true;
      name = t.lit;
      if (accept(token::kw_desc)) {
        s.ascending = false;
      } else {
        accept(token::kw_asc);
      }
    } else {
      return expected(t, {"identifier", "ASC", "DESC"});
    }
    int count = 1;
    while (accept(token::comma)) {
      std::string other;
      LIANDU_RETURN_IF_ERROR(parse_ident(other));
      if (!accept(token::kw_desc)) accept(token::kw_asc);
      ++count;
    }
    if (count > 1 || (named && to_lower(name) != "time")) {
      return error(errc::parse_error, "only ORDER BY time supported at this time");
    }
    s.has_order = true;
    return {};
  }

  status parse_tz(select_statement& s) {
    size_t save = lx_.offset();
    scanned t = next();
    if (t.tok != token::ident || to_lower(t.lit) != "tz") {
      lx_.set_offset(save);
      return {};
    }
    LIANDU_RETURN_IF_ERROR(expect(token::lparen));
    scanned name = next();
    if (name.tok != token::string) return expected(name, {"string"});
    LIANDU_RETURN_IF_ERROR(expect(token::rparen));
    s.tz = std::move(name.lit);
    return {};
  }

  status parse_on(std::string& db) {
    if (!accept(token::kw_on)) return {};
    return parse_ident(db);
  }

  status parse_show(statement& out) {
    scanned t = next();
    switch (t.tok) {
      case token::kw_continuous:
        LIANDU_RETURN_IF_ERROR(expect(token::kw_queries));
        out = show_continuous_queries_statement{};
        return {};
      case token::kw_databases: out = show_databases_statement{}; return {};
      case token::kw_field: {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_keys));
        show_field_keys_statement s;
        LIANDU_RETURN_IF_ERROR(parse_on(s.database));
        if (accept(token::kw_from)) LIANDU_RETURN_IF_ERROR(parse_sources(s.sources, false));
        LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_limit, s.limit));
        LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_offset, s.offset));
        out = std::move(s);
        return {};
      }
      case token::kw_measurements: {
        show_measurements_statement s;
        LIANDU_RETURN_IF_ERROR(parse_on(s.database));
        if (accept(token::kw_with)) {
          LIANDU_RETURN_IF_ERROR(expect(token::kw_measurement));
          scanned op = next();
          if (op.tok != token::eq && op.tok != token::eq_regex) return expected(op, {"=", "=~"});
          s.with_op = to_binary_op(op.tok);
          measurement m;
          LIANDU_RETURN_IF_ERROR(parse_measurement(m));
          s.with = std::move(m);
        }
        LIANDU_RETURN_IF_ERROR(parse_where(s.condition));
        LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_limit, s.limit));
        LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_offset, s.offset));
        out = std::move(s);
        return {};
      }
      case token::kw_retention: {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_policies));
        show_retention_policies_statement s;
        LIANDU_RETURN_IF_ERROR(parse_on(s.database));
        out = std::move(s);
        return {};
      }
      case token::kw_series: {
        show_series_statement s;
        LIANDU_RETURN_IF_ERROR(parse_on(s.database));
        if (accept(token::kw_from)) LIANDU_RETURN_IF_ERROR(parse_sources(s.sources, false));
        LIANDU_RETURN_IF_ERROR(parse_where(s.condition));
        LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_limit, s.limit));
        LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_offset, s.offset));
        out = std::move(s);
        return {};
      }
      case token::kw_tag: {
        scanned k = next();
        if (k.tok == token::kw_keys) {
          show_tag_keys_statement s;
          LIANDU_RETURN_IF_ERROR(parse_on(s.database));
          if (accept(token::kw_from)) LIANDU_RETURN_IF_ERROR(parse_sources(s.sources, false));
          LIANDU_RETURN_IF_ERROR(parse_where(s.condition));
          LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_limit, s.limit));
          LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_offset, s.offset));
          LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_slimit, s.slimit));
          LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_soffset, s.soffset));
          out = std::move(s);
          return {};
        }
        if (k.tok == token::kw_values) {
          show_tag_values_statement s;
          LIANDU_RETURN_IF_ERROR(parse_on(s.database));
          if (accept(token::kw_from)) LIANDU_RETURN_IF_ERROR(parse_sources(s.sources, false));
          LIANDU_RETURN_IF_ERROR(parse_tag_key_expr(s));
          LIANDU_RETURN_IF_ERROR(parse_where(s.condition));
          LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_limit, s.limit));
          LIANDU_RETURN_IF_ERROR(parse_optional_int(token::kw_offset, s.offset));
          out = std::move(s);
          return {};
        }
        return expected(k, {"KEYS", "VALUES"});
      }
      case token::kw_diagnostics: return unsupported(t, "SHOW DIAGNOSTICS");
      case token::kw_grants: return unsupported(t, "SHOW GRANTS");
      case token::kw_queries: return unsupported(t, "SHOW QUERIES");
      case token::kw_shard: return unsupported(t, "SHOW SHARD GROUPS");
      case token::kw_shards: return unsupported(t, "SHOW SHARDS");
      case token::kw_stats: return unsupported(t, "SHOW STATS");
      case token::kw_subscriptions: return unsupported(t, "SHOW SUBSCRIPTIONS");
      case token::kw_users: return unsupported(t, "SHOW USERS");
      default:
        return expected(
            t, {"CONTINUOUS", "DATABASES", "DIAGNOSTICS", "FIELD", "GRANTS", "MEASUREMENTS", "QUERIES",
                "RETENTION", "SERIES", "SHARD", "SHARDS", "STATS", "SUBSCRIPTIONS", "TAG", "USERS"});
    }
  }

  status parse_where(std::optional<expr>& cond) {
    if (!accept(token::kw_where)) return {};
    expr e;
    LIANDU_RETURN_IF_ERROR(parse_expr(e));
    cond = std::move(e);
    return {};
  }

  status parse_tag_key_expr(show_tag_values_statement& s) {
    LIANDU_RETURN_IF_ERROR(expect(token::kw_with));
    LIANDU_RETURN_IF_ERROR(expect(token::kw_key));
    scanned t = next();
    if (t.tok == token::in) {
      LIANDU_RETURN_IF_ERROR(expect(token::lparen));
      while (true) {
        std::string k;
        LIANDU_RETURN_IF_ERROR(parse_ident(k));
        s.keys.push_back(std::move(k));
        if (!accept(token::comma)) break;
      }
      LIANDU_RETURN_IF_ERROR(expect(token::rparen));
      s.op = tag_key_op::in;
      return {};
    }
    if (t.tok == token::eq || t.tok == token::neq) {
      std::string k;
      LIANDU_RETURN_IF_ERROR(parse_ident(k));
      s.keys.push_back(std::move(k));
      s.op = t.tok == token::eq ? tag_key_op::eq : tag_key_op::neq;
      return {};
    }
    if (t.tok == token::eq_regex || t.tok == token::neq_regex) {
      std::string re;
      LIANDU_RETURN_IF_ERROR(parse_regex(re));
      s.keys.push_back(std::move(re));
      s.op = t.tok == token::eq_regex ? tag_key_op::eq_regex : tag_key_op::neq_regex;
      return {};
    }
    return expected(t, {"IN", "=", "=~"});
  }

  status parse_create(statement& out) {
    scanned t = next();
    switch (t.tok) {
      case token::kw_continuous: {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_query));
        return parse_create_cq(out);
      }
      case token::kw_database: {
        create_database_statement s;
        LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
        if (accept(token::kw_with)) {
          s.rp_given = true;
          scanned o = next();
          if (o.tok != token::kw_duration && o.tok != token::kw_name && o.tok != token::kw_replication &&
              o.tok != token::kw_shard) {
            return expected(o, {"DURATION", "NAME", "REPLICATION", "SHARD"});
          }
          unscan();
          if (accept(token::kw_duration)) {
            int64_t d = 0;
            LIANDU_RETURN_IF_ERROR(parse_duration_token(d));
            s.duration = d;
          }
          if (accept(token::kw_replication)) {
            int64_t n = 0;
            LIANDU_RETURN_IF_ERROR(parse_int(1, std::numeric_limits<int32_t>::max(), n));
            s.replication = static_cast<int>(n);
          }
          if (accept(token::kw_shard)) {
            LIANDU_RETURN_IF_ERROR(expect(token::kw_duration));
            int64_t d = 0;
            LIANDU_RETURN_IF_ERROR(parse_duration_token(d));
            s.shard_duration = d;
          }
          if (accept(token::kw_name)) LIANDU_RETURN_IF_ERROR(parse_ident(s.rp_name));
        }
        out = std::move(s);
        return {};
      }
      case token::kw_retention: {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_policy));
        create_retention_policy_statement s;
        LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
        LIANDU_RETURN_IF_ERROR(expect(token::kw_on));
        LIANDU_RETURN_IF_ERROR(parse_ident(s.database));
        LIANDU_RETURN_IF_ERROR(expect(token::kw_duration));
        LIANDU_RETURN_IF_ERROR(parse_duration_token(s.duration));
        LIANDU_RETURN_IF_ERROR(expect(token::kw_replication));
        int64_t n = 0;
        LIANDU_RETURN_IF_ERROR(parse_int(1, std::numeric_limits<int32_t>::max(), n));
        s.replication = static_cast<int>(n);
        if (accept(token::kw_shard)) {
          LIANDU_RETURN_IF_ERROR(expect(token::kw_duration));
          LIANDU_RETURN_IF_ERROR(parse_duration_token(s.shard_duration));
        }
        if (accept(token::kw_default)) s.is_default = true;
        out = std::move(s);
        return {};
      }
      case token::kw_user: return unsupported(t, "CREATE USER");
      case token::kw_subscription: return unsupported(t, "CREATE SUBSCRIPTION");
      default: return expected(t, {"CONTINUOUS", "DATABASE", "USER", "RETENTION", "SUBSCRIPTION"});
    }
  }

  status parse_create_cq(statement& out) {
    create_continuous_query_statement s;
    LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
    LIANDU_RETURN_IF_ERROR(expect(token::kw_on));
    LIANDU_RETURN_IF_ERROR(parse_ident(s.database));
    if (accept(token::kw_resample)) {
      if (accept(token::kw_every)) {
        scanned d = next();
        if (d.tok != token::duration) return expected(d, {"duration"});
        LIANDU_RETURN_IF_ERROR(duration_value(d, s.resample_every));
      }
      if (accept(token::kw_for)) {
        scanned d = next();
        if (d.tok != token::duration) return expected(d, {"duration"});
        LIANDU_RETURN_IF_ERROR(duration_value(d, s.resample_for));
      }
      if (s.resample_every == 0 && s.resample_for == 0) {
        scanned o = next();
        return expected(o, {"EVERY", "FOR"});
      }
    }
    LIANDU_RETURN_IF_ERROR(expect(token::kw_begin));
    LIANDU_RETURN_IF_ERROR(expect(token::kw_select));
    LIANDU_RETURN_IF_ERROR(parse_select(s.select, true));
    LIANDU_RETURN_IF_ERROR(expect(token::kw_end));
    int64_t interval = 0, offset = 0;
    group_by_time(s.select, interval, offset);
    if (s.resample_for != 0) {
      if (s.resample_every != 0 && s.resample_every > interval) interval = s.resample_every;
      if (interval > s.resample_for) {
        return error(errc::parse_error,
                     "FOR duration must be >= GROUP BY time duration: must be a minimum of " +
                         format_duration(interval) + ", got " + format_duration(s.resample_for));
      }
    }
    out = std::move(s);
    return {};
  }

  status parse_drop(statement& out) {
    scanned t = next();
    switch (t.tok) {
      case token::kw_continuous: {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_query));
        drop_continuous_query_statement s;
        LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
        LIANDU_RETURN_IF_ERROR(expect(token::kw_on));
        LIANDU_RETURN_IF_ERROR(parse_ident(s.database));
        out = std::move(s);
        return {};
      }
      case token::kw_database: {
        drop_database_statement s;
        LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
        out = std::move(s);
        return {};
      }
      case token::kw_measurement: {
        drop_measurement_statement s;
        LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
        out = std::move(s);
        return {};
      }
      case token::kw_retention: {
        LIANDU_RETURN_IF_ERROR(expect(token::kw_policy));
        drop_retention_policy_statement s;
        LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
        LIANDU_RETURN_IF_ERROR(expect(token::kw_on));
        LIANDU_RETURN_IF_ERROR(parse_ident(s.database));
        out = std::move(s);
        return {};
      }
      case token::kw_series: {
        drop_series_statement s;
        LIANDU_RETURN_IF_ERROR(parse_from_where(s.sources, s.condition, true));
        out = std::move(s);
        return {};
      }
      case token::kw_shard: return unsupported(t, "DROP SHARD");
      case token::kw_subscription: return unsupported(t, "DROP SUBSCRIPTION");
      case token::kw_user: return unsupported(t, "DROP USER");
      default:
        return expected(
            t, {"CONTINUOUS", "MEASUREMENT", "RETENTION", "SERIES", "SHARD", "SUBSCRIPTION", "USER"});
    }
  }

  status parse_delete(statement& out) {
    delete_statement s;
    LIANDU_RETURN_IF_ERROR(parse_from_where(s.sources, s.condition, false));
    out = std::move(s);
    return {};
  }

  // DROP SERIES / DELETE: [FROM sources] [WHERE cond], at least one of them.
  status parse_from_where(std::vector<source>& sources, std::optional<expr>& cond, bool many) {
    scanned t = next();
    if (t.tok == token::kw_from) {
      if (many) {
        LIANDU_RETURN_IF_ERROR(parse_sources(sources, false));
      } else {
        source src;
        LIANDU_RETURN_IF_ERROR(parse_source(src, false));
        sources.push_back(std::move(src));
      }
      for (const source& s : sources) {
        if (!s.m.database.empty()) return error_at("database not supported", 0);
        if (!s.m.retention_policy.empty()) return error_at("retention policy not supported", 0);
      }
      t = next();
    }
    if (t.tok == token::kw_where) {
      expr e;
      LIANDU_RETURN_IF_ERROR(parse_expr(e));
      cond = std::move(e);
    } else {
      unscan();
    }
    if (sources.empty() && !cond) return expected(t, {"FROM", "WHERE"});
    return {};
  }

  status parse_alter(statement& out) {
    scanned t = next();
    if (t.tok != token::kw_retention) return expected(t, {"RETENTION"});
    LIANDU_RETURN_IF_ERROR(expect(token::kw_policy));
    alter_retention_policy_statement s;
    LIANDU_RETURN_IF_ERROR(parse_ident(s.name));
    LIANDU_RETURN_IF_ERROR(expect(token::kw_on));
    LIANDU_RETURN_IF_ERROR(parse_ident(s.database));
    bool any = false;
    while (true) {
      scanned o = next();
      auto duplicate = [&](bool seen) {
        return seen ? error_at(std::string("found duplicate ") + token_name(o.tok) + " option", o.pos)
                    : status();
      };
      if (o.tok == token::kw_duration) {
        LIANDU_RETURN_IF_ERROR(duplicate(s.duration.has_value()));
        int64_t d = 0;
        LIANDU_RETURN_IF_ERROR(parse_duration_token(d));
        s.duration = d;
      } else if (o.tok == token::kw_replication) {
        LIANDU_RETURN_IF_ERROR(duplicate(s.replication.has_value()));
        int64_t n = 0;
        LIANDU_RETURN_IF_ERROR(parse_int(1, std::numeric_limits<int32_t>::max(), n));
        s.replication = static_cast<int>(n);
      } else if (o.tok == token::kw_shard) {
        LIANDU_RETURN_IF_ERROR(duplicate(s.shard_duration.has_value()));
        LIANDU_RETURN_IF_ERROR(expect(token::kw_duration));
        int64_t d = 0;
        LIANDU_RETURN_IF_ERROR(parse_duration_token(d));
        s.shard_duration = d;
      } else if (o.tok == token::kw_default) {
        LIANDU_RETURN_IF_ERROR(duplicate(s.is_default));
        s.is_default = true;
      } else {
        if (!any) return expected(o, {"DURATION", "REPLICATION", "SHARD", "DEFAULT"});
        unscan();
        break;
      }
      any = true;
    }
    out = std::move(s);
    return {};
  }

  // --- expressions ---

  status parse_expr(expr& out) {
    if (++depth_ > max_depth) return error(errc::parse_error, "expression is nested too deeply");
    expr lhs;
    LIANDU_RETURN_IF_ERROR(parse_unary(lhs));
    LIANDU_RETURN_IF_ERROR(parse_binary_rest(lhs, 1));
    out = std::move(lhs);
    --depth_;
    return {};
  }

  // Precedence climbing: folds operators of precedence >= min_prec into lhs,
  // left-associatively.
  status parse_binary_rest(expr& lhs, int min_prec) {
    while (true) {
      size_t save = lx_.offset();
      scanned t = next();
      if (!is_binary_token(t.tok) || precedence(t.tok) < min_prec) {
        lx_.set_offset(save);
        return {};
      }
      int p = precedence(t.tok);
      binary_op op = to_binary_op(t.tok);
      expr rhs;
      if (op == binary_op::eq_regex || op == binary_op::neq_regex) {
        std::string re;
        LIANDU_RETURN_IF_ERROR(parse_regex(re));
        rhs = expr::make_regex(std::move(re));
      } else {
        LIANDU_RETURN_IF_ERROR(parse_unary(rhs));
      }
      LIANDU_RETURN_IF_ERROR(parse_binary_rest(rhs, p + 1));
      lhs = expr::make_binary(op, std::move(lhs), std::move(rhs));
    }
  }

  status parse_unary(expr& out) {
    if (++depth_ > max_depth) return error(errc::parse_error, "expression is nested too deeply");
    status s = parse_unary_inner(out);
    --depth_;
    return s;
  }

  status parse_unary_inner(expr& out) {
    scanned t = next();
    switch (t.tok) {
      case token::lparen: {
        expr inner;
        LIANDU_RETURN_IF_ERROR(parse_expr(inner));
        LIANDU_RETURN_IF_ERROR(expect(token::rparen));
        out.kind = expr_kind::paren;
        out.args.push_back(std::move(inner));
        return {};
      }
      case token::ident: {
        if (lx_.peek_char() == '(') {
          lx_.set_offset(lx_.offset() + 1);
          return parse_call(to_lower(t.lit), out);
        }
        lx_.set_offset(t.pos);
        return parse_var_ref(out);
      }
      case token::kw_distinct: {
        scanned n = next_raw();
        if (n.tok == token::lparen) return parse_call("distinct", out);
        if (n.tok == token::ws || n.tok == token::comment) {
          scanned id = next();
          if (id.tok != token::ident) return expected(id, {"identifier"});
          out = expr::make_call("distinct", {expr::var(id.lit)});
          return {};
        }
        return expected(n, {"(", "identifier"});
      }
      case token::string: out = expr::make_string(std::move(t.lit)); return {};
      case token::number: {
        std::string text = t.lit;
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (!std::isfinite(v)) return error_at("unable to parse number", t.pos);
        out = expr::make_number(v);
        return {};
      }
      case token::integer: {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(t.lit.data(), t.lit.data() + t.lit.size(), v);
        (void)p;
        if (ec != std::errc()) return error_at("unable to parse integer", t.pos);
        out = expr::make_integer(v);
        return {};
      }
      case token::true_:
      case token::false_:
        out.kind = expr_kind::boolean;
        out.boolean = t.tok == token::true_;
        return {};
      case token::duration: {
        int64_t d = 0;
        LIANDU_RETURN_IF_ERROR(duration_value(t, d));
        out = expr::make_duration(d);
        return {};
      }
      case token::mul: {
        out.kind = expr_kind::wildcard;
        size_t save = lx_.offset();
        scanned c = next_raw();
        if (c.tok != token::double_colon) {
          lx_.set_offset(save);
          return {};
        }
        scanned ty = next_raw();
        if (ty.tok == token::kw_field) {
          out.type = data_type::any_field;
        } else if (ty.tok == token::kw_tag) {
          out.type = data_type::tag;
        } else {
          return expected(ty, {"field", "tag"});
        }
        return {};
      }
      case token::bound_param: return error_at("missing parameter: " + t.lit, t.pos);
      case token::add:
      case token::sub: {
        int64_t mul = t.tok == token::sub ? -1 : 1;
        scanned n = next();
        if (n.tok != token::number && n.tok != token::integer && n.tok != token::duration &&
            n.tok != token::lparen && n.tok != token::ident) {
          return expected(n, {"identifier", "number", "duration", "("});
        }
        unscan();
        expr inner;
        LIANDU_RETURN_IF_ERROR(parse_unary(inner));
        switch (inner.kind) {
          case expr_kind::number: inner.number *= static_cast<double>(mul); break;
          case expr_kind::integer:
          case expr_kind::duration: inner.integer *= mul; break;
          default:
            inner = expr::make_binary(binary_op::mul, expr::make_integer(mul), std::move(inner));
            break;
        }
        out = std::move(inner);
        return {};
      }
      default: return expected(t, {"identifier", "string", "number", "bool"});
    }
  }

  status parse_var_ref(expr& out) {
    std::string name;
    LIANDU_RETURN_IF_ERROR(parse_ident(name));
    while (lx_.peek_char() == '.') {
      lx_.set_offset(lx_.offset() + 1);
      name.push_back('.');
      if (lx_.peek_char() == '.') continue;
      std::string seg;
      LIANDU_RETURN_IF_ERROR(parse_ident(seg));
      name += seg;
    }
    data_type type = data_type::unknown;
    size_t save = lx_.offset();
    scanned c = next_raw();
    if (c.tok == token::double_colon) {
      scanned ty = next_raw();
      std::string lower = to_lower(ty.lit);
      if (ty.tok == token::ident && lower == "float") {
        type = data_type::float_;
      } else if (ty.tok == token::ident && lower == "integer") {
        type = data_type::integer;
      } else if (ty.tok == token::ident && lower == "unsigned") {
        type = data_type::unsigned_;
      } else if (ty.tok == token::ident && lower == "string") {
        type = data_type::string;
      } else if (ty.tok == token::ident && lower == "boolean") {
        type = data_type::boolean;
      } else if (ty.tok == token::kw_field) {
        type = data_type::any_field;
      } else if (ty.tok == token::kw_tag) {
        type = data_type::tag;
      } else {
        return expected(ty, {"float", "integer", "unsigned", "string", "boolean", "field", "tag"});
      }
    } else {
      lx_.set_offset(save);
    }
    out = expr::var(std::move(name), type);
    return {};
  }

  // Called just after `name(`.
  status parse_call(std::string name, expr& out) {
    out = expr::make_call(std::move(name), {});
    if (at_regex()) {
      std::string re;
      LIANDU_RETURN_IF_ERROR(parse_regex(re));
      out.args.push_back(expr::make_regex(std::move(re)));
    } else {
      if (accept(token::rparen)) return {};
      expr a;
      LIANDU_RETURN_IF_ERROR(parse_expr(a));
      out.args.push_back(std::move(a));
    }
    while (accept(token::comma)) {
      if (at_regex()) {
        std::string re;
        LIANDU_RETURN_IF_ERROR(parse_regex(re));
        out.args.push_back(expr::make_regex(std::move(re)));
        continue;
      }
      expr a;
      LIANDU_RETURN_IF_ERROR(parse_expr(a));
      out.args.push_back(std::move(a));
    }
    return expect(token::rparen);
  }

  lexer lx_;
  size_t last_ = 0;
  int depth_ = 0;
};

}  // namespace

result<query> parse_query(std::string_view text) {
  parser p(text);
  query q;
  status s = p.parse_query(q);
  if (!s.ok()) return s;
  return q;
}

result<statement> parse_statement(std::string_view text) {
  parser p(text);
  statement st;
  status s = p.parse_single_statement(st);
  if (!s.ok()) return s;
  return st;
}

result<expr> parse_expr(std::string_view text) {
  parser p(text);
  expr e;
  status s = p.parse_single_expr(e);
  if (!s.ok()) return s;
  return e;
}

bool group_by_time(const select_statement& s, int64_t& interval, int64_t& offset) {
  for (const expr& d : s.dimensions) {
    if (d.kind != expr_kind::call || d.text != "time") continue;
    interval = 0;
    offset = 0;
    if (!d.args.empty() && d.args[0].kind == expr_kind::duration) interval = d.args[0].integer;
    if (d.args.size() > 1 && d.args[1].kind == expr_kind::duration) offset = d.args[1].integer;
    if (interval > 0) {
      offset %= interval;
      if (offset < 0) offset += interval;
    }
    return true;
  }
  return false;
}

}  // namespace liandu::query::influxql
