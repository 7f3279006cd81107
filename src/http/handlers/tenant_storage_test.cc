#include "http/handlers/tenant_storage.h"

#include <gtest/gtest.h>

#include "query/executor/executor.h"
#include "storage/engine.h"
#include "storage/testing/temp_dir.h"

namespace liandu::http::handlers {
namespace {

// Two tenants with a database each in one engine: a principal of one sees
// only its own, by listing and by name, whatever it asks.
class tenant_storage_test : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::engine_options o;
    o.data_dir = dir.path();
    o.background = false;
    auto e = storage::engine::open(o);
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    engine = std::move(e).value();
    inner = std::make_unique<query::engine_storage>(*engine);
    auto c = catalog::catalog::open(":memory:", catalog::options{.for_test = true});
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    cat = std::move(c).value();
    auto other = cat->create_tenant("other");
    ASSERT_TRUE(other.ok());
    for (const char* db : {"mine", "writeonly", "theirs"}) ASSERT_TRUE(inner->create_database(db).ok());
    ASSERT_TRUE(cat->register_database(cat->default_tenant_id(), "mine").ok());
    ASSERT_TRUE(cat->register_database(cat->default_tenant_id(), "writeonly").ok());
    ASSERT_TRUE(cat->register_database(*other, "theirs").ok());
    auto t =
        cat->create_token(cat->default_tenant_id(), "reader", false,
                          {{"mine", {true, false}}, {"writeonly", {false, true}}, {"theirs", {true, true}}});
    ASSERT_TRUE(t.ok());
    auto p = cat->authenticate_token(t->secret);
    ASSERT_TRUE(p.ok());
    who = *p;
  }

  storage::testing::temp_dir dir;
  std::unique_ptr<storage::engine> engine;
  std::unique_ptr<query::engine_storage> inner;
  std::unique_ptr<catalog::catalog> cat;
  catalog::principal who;
};

TEST_F(tenant_storage_test, a_tenant_sees_only_its_databases) {
  tenant_storage ts(*inner, *cat, who);
  EXPECT_EQ(ts.databases(), (std::vector<std::string>{"mine", "writeonly"}));
  for (const char* db : {"mine", "writeonly", "theirs", "nope"}) {
    auto all = ts.databases();
    bool listed = std::find(all.begin(), all.end(), db) != all.end();
    EXPECT_EQ(ts.has_database(db), listed) << db;
  }
  query::query_options opts;
  opts.db = "theirs";  // granted on a token of the wrong tenant: still not there
  auto e = query::execute(ts, "SELECT * FROM m", opts);
  ASSERT_EQ(e.results.size(), 1u);
  EXPECT_EQ(e.results[0].error, "database not found: theirs");
  opts.db = "writeonly";
  e = query::execute(ts, "SELECT * FROM m", opts);
  EXPECT_NE(e.results[0].error.find("not authorized to read from database"), std::string::npos)
      << e.results[0].error;
  opts.db = "mine";
  e = query::execute(ts, "SELECT * FROM m", opts);
  EXPECT_EQ(e.results[0].error, "");
}

}  // namespace
}  // namespace liandu::http::handlers
