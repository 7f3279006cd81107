#include "http/url.h"

#include <gtest/gtest.h>

#include "http/auth.h"
#include "http/gzip.h"
#include "http/message.h"
#include "http/router.h"

namespace liandu::http {
namespace {

TEST(url, percent_decode) {
  EXPECT_EQ(*percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(*percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(*percent_decode("%e4%b8%ad", false), "\xe4\xb8\xad");
  EXPECT_EQ(percent_decode("100%", true).error().code(), errc::parse_error);
  EXPECT_EQ(percent_decode("%4", true).error().code(), errc::parse_error);
  EXPECT_EQ(percent_decode("%zz", true).error().code(), errc::parse_error);
  EXPECT_EQ(*percent_decode("%00", true), std::string(1, '\0'));
}

TEST(url, percent_encode_round_trips) {
  std::string s = "SELECT \"v\" FROM cpu WHERE host='a&b' = 1%";
  EXPECT_EQ(*percent_decode(percent_encode(s), true), s);
  EXPECT_EQ(percent_encode("a-b_c.d~"), "a-b_c.d~");
}

TEST(url, parse_query) {
  auto q = parse_query("db=mydb&q=SELECT+*+FROM+%22cpu%22&&flag&db=second&empty=");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->count("db"), 2u);
  auto range = q->equal_range("db");
  EXPECT_EQ(range.first->second, "mydb");
  EXPECT_EQ(std::next(range.first)->second, "second");
  EXPECT_EQ(q->find("q")->second, "SELECT * FROM \"cpu\"");
  EXPECT_EQ(q->find("flag")->second, "");
  EXPECT_EQ(q->find("empty")->second, "");
  EXPECT_FALSE(parse_query("a=%G1").ok());
}

TEST(url, split_target) {
  auto t = split_target("/api%2Fv2/write?bucket=b%20x&org=o");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/api/v2/write");
  EXPECT_EQ(t->query.find("bucket")->second, "b x");
  auto plain = split_target("/ping");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->path, "/ping");
  EXPECT_TRUE(plain->query.empty());
  EXPECT_EQ(*split_target("/a+b")->path.data(), '/');
  EXPECT_EQ(split_target("/a+b")->path, "/a+b");
}

TEST(auth, base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(*base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(*base64_decode("Zm8="), "fo");
  EXPECT_EQ(*base64_decode("Zm8"), "fo");
  EXPECT_FALSE(base64_decode("Zm9v!").has_value());
  EXPECT_FALSE(base64_decode("Z").has_value());
}

TEST(auth, parse_basic_auth) {
  auto c = parse_basic_auth("Basic " + base64_encode("alice:pa:ss"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_TRUE(parse_basic_auth("basic   " + base64_encode("u:")).has_value());
  EXPECT_FALSE(parse_basic_auth("Basic " + base64_encode("nocolon")).has_value());
  EXPECT_FALSE(parse_basic_auth("Bearer abc").has_value());
  EXPECT_FALSE(parse_basic_auth("Basic !!!").has_value());
  EXPECT_FALSE(parse_basic_auth("").has_value());
  EXPECT_EQ(*auth_parameter("Token ld_abc", "token"), "ld_abc");
  EXPECT_EQ(*auth_parameter("Bearer x.y.z", "Bearer"), "x.y.z");
  EXPECT_FALSE(auth_parameter("Token", "token").has_value());
}

TEST(gzip, round_trip_and_limits) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "cpu,host=a value=" + std::to_string(i) + "\n";
  std::string z = gzip_compress(text);
  EXPECT_LT(z.size(), text.size());
  EXPECT_EQ(*gunzip(z, text.size()), text);
  EXPECT_EQ(gunzip(z, text.size() - 1).error().code(), errc::limit_exceeded);
  // Concatenated members, as `cat a.gz b.gz` gives.
  EXPECT_EQ(*gunzip(z + gzip_compress("tail"), 1 << 20), text + "tail");
  EXPECT_EQ(*gunzip(gzip_compress(""), 10), "");
}

TEST(gzip, corrupt_input) {
  std::string z = gzip_compress("hello world hello world");
  EXPECT_EQ(gunzip("not gzip at all", 100).error().code(), errc::parse_error);
  EXPECT_EQ(gunzip(z.substr(0, z.size() / 2), 100).error().code(), errc::parse_error);
  EXPECT_EQ(gunzip("", 100).error().code(), errc::parse_error);
  EXPECT_EQ(gunzip(z + "junk", 100).error().code(), errc::parse_error);
  std::string flipped = z;
  flipped[flipped.size() - 6] ^= 0x55;  // inside the CRC32 trailer
  EXPECT_EQ(gunzip(flipped, 100).error().code(), errc::parse_error);
}

TEST(gzip, bomb_is_stopped_early) {
  std::string zeros(64 << 20, '\0');
  std::string bomb = gzip_compress(zeros);
  EXPECT_LT(bomb.size(), 1u << 20);
  auto r = gunzip(bomb, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), errc::limit_exceeded);
}

TEST(message, json_error_and_headers) {
  response r = json_error(413, "Request Entity Too Large");
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.body, "{\"error\":\"Request Entity Too Large\"}\n");
  response q = json_error(400, "bad \"quote\"\nline");
  EXPECT_EQ(q.body, "{\"error\":\"bad \\\"quote\\\"\\nline\"}\n");
  for (const auto& [k, v] : q.headers) EXPECT_EQ(v.find('\n'), std::string::npos) << k;

  request req;
  req.headers = {{"content-TYPE", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(*req.header("Content-Type"), "text/plain");
  EXPECT_EQ(*req.header("X-A"), "1");
  EXPECT_FALSE(req.header("missing").has_value());
  EXPECT_EQ(req.header_or("missing", "dflt"), "dflt");
}

TEST(message, merge_form_body) {
  request req;
  req.query = *parse_query("q=from_url&db=d");
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  req.body = "q=SELECT+mean%28v%29+FROM+cpu&epoch=ms";
  ASSERT_TRUE(merge_form_body(req).ok());
  EXPECT_EQ(*req.param("q"), "SELECT mean(v) FROM cpu");  // the body wins, as in Go
  EXPECT_EQ(*req.param("db"), "d");
  EXPECT_EQ(*req.param("epoch"), "ms");
  EXPECT_EQ(req.query.count("q"), 2u);

  request other;
  other.headers = {{"Content-Type", "text/plain"}};
  other.body = "q=x";
  ASSERT_TRUE(merge_form_body(other).ok());
  EXPECT_FALSE(other.param("q").has_value());

  request bad;
  bad.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  bad.body = "q=%zz";
  EXPECT_FALSE(merge_form_body(bad).ok());
}

TEST(router, exact_prefix_head_and_errors) {
  router r;
  r.add(verb::get, "/ping", [](const request&) { return response{204, {}, {}, {}}; });
  r.add(verb::post, "/write", [](const request&) { return response{200, {}, "w", {}}; });
  r.add_prefix(verb::get, "/api/", [](const request&) { return response{200, {}, "api", {}}; });
  r.add_prefix(verb::get, "/api/v2/", [](const request&) { return response{200, {}, "v2", {}}; });

  auto call = [&](verb m, std::string path) {
    request req;
    req.method = m;
    req.path = std::move(path);
    return r.dispatch(req);
  };
  EXPECT_EQ(call(verb::get, "/ping").status, 204u);
  EXPECT_EQ(call(verb::head, "/ping").status, 204u);
  EXPECT_EQ(call(verb::get, "/api/x").body, "api");
  EXPECT_EQ(call(verb::get, "/api/v2/buckets").body, "v2");
  EXPECT_EQ(call(verb::get, "/nothing").status, 404u);
  response m = call(verb::get, "/write");
  EXPECT_EQ(m.status, 405u);
  bool has_allow = false;
  for (const auto& [k, v] : m.headers) has_allow |= k == "Allow" && v == "POST";
  EXPECT_TRUE(has_allow);
}

}  // namespace
}  // namespace liandu::http
