#include "query/influxql/lexer.h"

#include <array>
#include <cctype>
#include <utility>

namespace liandu::query::influxql {

namespace {

struct keyword_entry {
  const char* name;
  token tok;
};

constexpr std::array<keyword_entry, 80> keywords = {{
    {"ALL", token::kw_all},
    {"ALTER", token::kw_alter},
    {"ANALYZE", token::kw_analyze},
    {"ANY", token::kw_any},
    {"AS", token::kw_as},
    {"ASC", token::kw_asc},
    {"BEGIN", token::kw_begin},
    {"BY", token::kw_by},
    {"CARDINALITY", token::kw_cardinality},
    {"CREATE", token::kw_create},
    {"CONTINUOUS", token::kw_continuous},
    {"DATABASE", token::kw_database},
    {"DATABASES", token::kw_databases},
    {"DEFAULT", token::kw_default},
    {"DELETE", token::kw_delete},
    {"DESC", token::kw_desc},
    {"DESTINATIONS", token::kw_destinations},
    {"DIAGNOSTICS", token::kw_diagnostics},
    {"DISTINCT", token::kw_distinct},
    {"DROP", token::kw_drop},
    {"DURATION", token::kw_duration},
    {"END", token::kw_end},
    {"EVERY", token::kw_every},
    {"EXACT", token::kw_exact},
    {"EXPLAIN", token::kw_explain},
    {"FIELD", token::kw_field},
    {"FOR", token::kw_for},
    {"FROM", token::kw_from},
    {"GRANT", token::kw_grant},
    {"GRANTS", token::kw_grants},
    {"GROUP", token::kw_group},
    {"GROUPS", token::kw_groups},
    {"INF", token::kw_inf},
    {"INSERT", token::kw_insert},
    {"INTO", token::kw_into},
    {"KEY", token::kw_key},
    {"KEYS", token::kw_keys},
    {"KILL", token::kw_kill},
    {"LIMIT", token::kw_limit},
    {"MEASUREMENT", token::kw_measurement},
    {"MEASUREMENTS", token::kw_measurements},
    {"NAME", token::kw_name},
    {"OFFSET", token::kw_offset},
    {"ON", token::kw_on},
    {"ORDER", token::kw_order},
    {"PASSWORD", token::kw_password},
    {"POLICY", token::kw_policy},
    {"POLICIES", token::kw_policies},
    {"PRIVILEGES", token::kw_privileges},
    {"QUERIES", token::kw_queries},
    {"QUERY", token::kw_query},
    {"READ", token::kw_read},
    {"REPLICATION", token::kw_replication},
    {"RESAMPLE", token::kw_resample},
    {"RETENTION", token::kw_retention},
    {"REVOKE", token::kw_revoke},
    {"SELECT", token::kw_select},
    {"SERIES", token::kw_series},
    {"SET", token::kw_set},
    {"SHOW", token::kw_show},
    {"SHARD", token::kw_shard},
    {"SHARDS", token::kw_shards},
    {"SLIMIT", token::kw_slimit},
    {"SOFFSET", token::kw_soffset},
    {"STATS", token::kw_stats},
    {"SUBSCRIPTION", token::kw_subscription},
    {"SUBSCRIPTIONS", token::kw_subscriptions},
    {"TAG", token::kw_tag},
    {"TO", token::kw_to},
    {"USER", token::kw_user},
    {"USERS", token::kw_users},
    {"VALUES", token::kw_values},
    {"WHERE", token::kw_where},
    {"WITH", token::kw_with},
    {"WRITE", token::kw_write},
    {"AND", token::and_},
    {"IN", token::in},
    {"OR", token::or_},
    {"TRUE", token::true_},
    {"FALSE", token::false_},
}};

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_first(char c) { return is_letter(c) || c == '_'; }
bool is_ident_char(char c) { return is_letter(c) || is_digit(c) || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != static_cast<unsigned char>(b[i])) return false;
  }
  return true;
}

}  // namespace

const char* token_name(token t) {
  switch (t) {
    case token::illegal: return "ILLEGAL";
    case token::eof: return "EOF";
    case token::ws: return "WS";
    case token::comment: return "COMMENT";
    case token::ident: return "IDENT";
    case token::bound_param: return "BOUNDPARAM";
    case token::number: return "NUMBER";
    case token::integer: return "INTEGER";
    case token::duration: return "DURATIONVAL";
    case token::string: return "STRING";
    case token::bad_string: return "BADSTRING";
    case token::bad_escape: return "BADESCAPE";
    case token::true_: return "TRUE";
    case token::false_: return "FALSE";
    case token::regex: return "REGEX";
    case token::bad_regex: return "BADREGEX";
    case token::add: return "+";
    case token::sub: return "-";
    case token::mul: return "*";
    case token::div: return "/";
    case token::mod: return "%";
    case token::bit_and: return "&";
    case token::bit_or: return "|";
    case token::bit_xor: return "^";
    case token::and_: return "AND";
    case token::or_: return "OR";
    case token::in: return "IN";
    case token::eq: return "=";
    case token::neq: return "!=";
    case token::eq_regex: return "=~";
    case token::neq_regex: return "!~";
    case token::lt: return "<";
    case token::lte: return "<=";
    case token::gt: return ">";
    case token::gte: return ">=";
    case token::lparen: return "(";
    case token::rparen: return ")";
    case token::comma: return ",";
    case token::colon: return ":";
    case token::double_colon: return "::";
    case token::semicolon: return ";";
    case token::dot: return ".";
    default: break;
  }
  for (const auto& k : keywords) {
    if (k.tok == t) return k.name;
  }
  return "";
}

bool is_operator(token t) { return t >= token::add && t <= token::gte; }
bool is_keyword(token t) { return t >= token::kw_all; }

int precedence(token t) {
  switch (t) {
    case token::or_: return 1;
    case token::and_: return 2;
    case token::eq:
    case token::neq:
    case token::eq_regex:
    case token::neq_regex:
    case token::lt:
    case token::lte:
    case token::gt:
    case token::gte: return 3;
    case token::add:
    case token::sub:
    case token::bit_or:
    case token::bit_xor: return 4;
    case token::mul:
    case token::div:
    case token::mod:
    case token::bit_and: return 5;
    default: return 0;
  }
}

token lookup_keyword(std::string_view ident) {
  for (const auto& k : keywords) {
    if (iequals(ident, k.name)) return k.tok;
  }
  return token::ident;
}

lexer::lexer(std::string_view input) : in_(input) {
  // InfluxDB reports EOF one character further when the input ends in a
  // token its scanner reads past the end for (identifier, keyword,
  // whitespace) than when it ends in one it backs up for (number, duration,
  // operator, quote). Error positions follow it.
  eof_pos_ = in_.size();
  if (!in_.empty()) {
    size_t i = in_.size();
    while (i > 0 && is_ident_char(in_[i - 1])) --i;
    if (i < in_.size()) {
      if (!is_digit(in_[i])) eof_pos_ = in_.size() + 1;
    } else if (is_space(in_.back())) {
      eof_pos_ = in_.size() + 1;
    }
  }
}

scanned lexer::scan() {
  size_t start = off_;
  if (off_ >= in_.size()) return {token::eof, eof_pos_, {}};
  char c = in_[off_];
  if (is_space(c)) {
    while (off_ < in_.size() && is_space(in_[off_])) ++off_;
    return {token::ws, start, std::string(in_.substr(start, off_ - start))};
  }
  if (is_ident_first(c)) return scan_ident(start);
  if (is_digit(c)) return scan_number(start);
  char next = off_ + 1 < in_.size() ? in_[off_ + 1] : '\0';
  ++off_;
  switch (c) {
    case '"': return scan_quoted(start, '"');
    case '\'': return scan_quoted(start, '\'');
    case '.':
      if (is_digit(next)) {
        off_ = start;
        return scan_number(start);
      }
      return {token::dot, start, {}};
    case '$': {
      size_t b = off_;
      while (off_ < in_.size() && is_ident_char(in_[off_])) ++off_;
      return {token::bound_param, start, std::string(in_.substr(b, off_ - b))};
    }
    case '+': return {token::add, start, {}};
    case '-':
      if (next == '-') {
        while (off_ < in_.size() && in_[off_] != '\n') ++off_;
        return {token::comment, start, {}};
      }
      return {token::sub, start, {}};
    case '*': return {token::mul, start, {}};
    case '/':
      if (next == '*') {
        ++off_;
        while (off_ + 1 < in_.size() && !(in_[off_] == '*' && in_[off_ + 1] == '/')) ++off_;
        if (off_ + 1 >= in_.size()) {
          off_ = in_.size();
          return {token::illegal, start, std::string(in_.substr(start))};
        }
        off_ += 2;
        return {token::comment, start, {}};
      }
      return {token::div, start, {}};
    case '%': return {token::mod, start, {}};
    case '&': return {token::bit_and, start, {}};
    case '|': return {token::bit_or, start, {}};
    case '^': return {token::bit_xor, start, {}};
    case '=':
      if (next == '~') {
        ++off_;
        return {token::eq_regex, start, {}};
      }
      return {token::eq, start, {}};
    case '!':
      if (next == '=') {
        ++off_;
        return {token::neq, start, {}};
      }
      if (next == '~') {
        ++off_;
        return {token::neq_regex, start, {}};
      }
      break;
    case '>':
      if (next == '=') {
        ++off_;
        return {token::gte, start, {}};
      }
      return {token::gt, start, {}};
    case '<':
      if (next == '=') {
        ++off_;
        return {token::lte, start, {}};
      }
      if (next == '>') {
        ++off_;
        return {token::neq, start, {}};
      }
      return {token::lt, start, {}};
    case '(': return {token::lparen, start, {}};
    case ')': return {token::rparen, start, {}};
    case ',': return {token::comma, start, {}};
    case ';': return {token::semicolon, start, {}};
    case ':':
      if (next == ':') {
        ++off_;
        return {token::double_colon, start, {}};
      }
      return {token::colon, start, {}};
    default: break;
  }
  // One (possibly multi-byte UTF-8) character as an illegal token.
  while (off_ < in_.size() && (static_cast<unsigned char>(in_[off_]) & 0xC0) == 0x80) ++off_;
  return {token::illegal, start, std::string(in_.substr(start, off_ - start))};
}

scanned lexer::scan_ident(size_t start) {
  while (off_ < in_.size() && is_ident_char(in_[off_])) ++off_;
  std::string_view text = in_.substr(start, off_ - start);
  token t = lookup_keyword(text);
  if (t != token::ident) return {t, start, {}};
  return {token::ident, start, std::string(text)};
}

scanned lexer::scan_quoted(size_t start, char quote) {
  // off_ is just past the opening quote.
  std::string out;
  while (true) {
    if (off_ >= in_.size() || in_[off_] == '\n') {
      return {token::bad_string, start, out};
    }
    char c = in_[off_++];
    if (c == quote) break;
    if (c == '\\') {
      if (off_ >= in_.size()) return {token::bad_string, start, out};
      char e = in_[off_++];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case '\\': out.push_back('\\'); break;
        case '"': out.push_back('"'); break;
        case '\'': out.push_back('\''); break;
        default: return {token::bad_escape, off_ - 2, std::string("\\") + e};
      }
      continue;
    }
    out.push_back(c);
  }
  return {quote == '"' ? token::ident : token::string, start, std::move(out)};
}

scanned lexer::scan_number(size_t start) {
  // ".5" starts with the dot; the caller has checked a digit follows it.
  bool decimal = in_[start] == '.';
  if (decimal) ++off_;
  while (off_ < in_.size() && is_digit(in_[off_])) ++off_;
  if (!decimal && off_ + 1 < in_.size() && in_[off_] == '.' && is_digit(in_[off_ + 1])) {
    decimal = true;
    ++off_;
    while (off_ < in_.size() && is_digit(in_[off_])) ++off_;
  }
  if (!decimal && off_ < in_.size() && (is_letter(in_[off_]) || in_[off_] == '\xc2')) {
    // A duration: digits followed by letters (and more digits/letters, "1h30m").
    while (off_ < in_.size()) {
      char c = in_[off_];
      if (is_letter(c) || is_digit(c)) {
        ++off_;
      } else if (c == '\xc2' && off_ + 1 < in_.size() && in_[off_ + 1] == '\xb5') {  // µ
        off_ += 2;
      } else {
        break;
      }
    }
    return {token::duration, start, std::string(in_.substr(start, off_ - start))};
  }
  return {decimal ? token::number : token::integer, start, std::string(in_.substr(start, off_ - start))};
}

scanned lexer::scan_regex() {
  size_t start = off_;
  ++off_;  // opening '/'
  std::string out;
  while (true) {
    if (off_ >= in_.size()) return {token::bad_regex, start, out};
    char c = in_[off_++];
    if (c == '/') break;
    if (c == '\\') {
      if (off_ >= in_.size()) return {token::bad_regex, start, out};
      char e = in_[off_++];
      if (e != '/') out.push_back('\\');
      out.push_back(e);
      continue;
    }
    out.push_back(c);
  }
  return {token::regex, start, std::move(out)};
}

}  // namespace liandu::query::influxql
