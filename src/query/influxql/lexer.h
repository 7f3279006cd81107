#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace liandu::query::influxql {

// InfluxQL tokens, as InfluxDB 1.8's scanner produces them. Keywords are
// case-insensitive; identifiers are [A-Za-z_][A-Za-z0-9_]* or double-quoted
// with escapes (\" \\ \n \'); strings are single-quoted with the same escapes.
// Numbers have no exponent; an integer followed by letters is a duration
// ("10m", "1h30m", "5xyz" — the last is rejected when the duration is parsed).
// `--` starts a line comment, `/* */` a block comment. Regex literals (/re/)
// are only scanned when the parser asks for one (scan_regex), since `/` is
// also division.
enum class token : uint8_t {
  illegal,
  eof,
  ws,
  comment,
  // literals
  ident,
  bound_param,
  number,
  integer,
  duration,
  string,
  bad_string,
  bad_escape,
  true_,
  false_,
  regex,
  bad_regex,
  // operators
  add,
  sub,
  mul,
  div,
  mod,
  bit_and,
  bit_or,
  bit_xor,
  and_,
  or_,
  in,
  eq,
  neq,
  eq_regex,
  neq_regex,
  lt,
  lte,
  gt,
  gte,
  // punctuation
  lparen,
  rparen,
  comma,
  colon,
  double_colon,
  semicolon,
  dot,
  // keywords
  kw_all,
  kw_alter,
  kw_analyze,
  kw_any,
  kw_as,
  kw_asc,
  kw_begin,
  kw_by,
  kw_cardinality,
  kw_create,
  kw_continuous,
  kw_database,
  kw_databases,
  kw_default,
  kw_delete,
  kw_desc,
  kw_destinations,
  kw_diagnostics,
  kw_distinct,
  kw_drop,
  kw_duration,
  kw_end,
  kw_every,
  kw_exact,
  kw_explain,
  kw_field,
  kw_for,
  kw_from,
  kw_grant,
  kw_grants,
  kw_group,
  kw_groups,
  kw_inf,
  kw_insert,
  kw_into,
  kw_key,
  kw_keys,
  kw_kill,
  kw_limit,
  kw_measurement,
  kw_measurements,
  kw_name,
  kw_offset,
  kw_on,
  kw_order,
  kw_password,
  kw_policy,
  kw_policies,
  kw_privileges,
  kw_queries,
  kw_query,
  kw_read,
  kw_replication,
  kw_resample,
  kw_retention,
  kw_revoke,
  kw_select,
  kw_series,
  kw_set,
  kw_show,
  kw_shard,
  kw_shards,
  kw_slimit,
  kw_soffset,
  kw_stats,
  kw_subscription,
  kw_subscriptions,
  kw_tag,
  kw_to,
  kw_user,
  kw_users,
  kw_values,
  kw_where,
  kw_with,
  kw_write,
};

// "EOF", "+", "SELECT", ... as InfluxDB prints a token in parse errors.
const char* token_name(token t);
bool is_operator(token t);
bool is_keyword(token t);
// Binding strength of a binary operator: OR 1, AND 2, comparisons 3,
// + - | ^ 4, * / % & 5; 0 for anything else.
int precedence(token t);
// The keyword spelled by `ident` (any case), or token::ident.
token lookup_keyword(std::string_view ident);

struct scanned {
  token tok = token::eof;
  size_t pos = 0;   // byte offset of the first character
  std::string lit;  // literal text (unquoted/unescaped); empty for keywords and operators
};

// lexer scans one token at a time from a string it does not own. It keeps no
// state but the offset, so the parser can back up by restoring offset().
class lexer {
 public:
  explicit lexer(std::string_view input);

  scanned scan();
  // Scans a regex literal starting at the current offset, which must be '/'.
  scanned scan_regex();

  size_t offset() const { return off_; }
  void set_offset(size_t off) { off_ = off; }
  // Next byte without consuming it; 0 at the end.
  char peek_char() const { return off_ < in_.size() ? in_[off_] : '\0'; }
  bool at_end() const { return off_ >= in_.size(); }
  std::string_view input() const { return in_; }

 private:
  scanned scan_ident(size_t start);
  scanned scan_quoted(size_t start, char quote);
  scanned scan_number(size_t start);

  std::string_view in_;
  size_t off_ = 0;
  size_t eof_pos_ = 0;  // position InfluxDB reports for EOF
};

}  // namespace liandu::query::influxql
