#include "storage/fs/file_util.h"

#include <gtest/gtest.h>

#include "storage/testing/temp_dir.h"

namespace liandu::storage::fs {
namespace {

TEST(MappedFileTest, MapsWholeFileEmptyFileAndReportsMissingOne) {
  testing::temp_dir tmp;
  std::string path = join(tmp.path(), "f");
  std::string content(100000, 'x');
  content[99999] = 'y';
  ASSERT_TRUE(write_file_atomic(path, content).ok());
  mapped_file m;
  ASSERT_TRUE(m.open(path).ok());
  EXPECT_EQ(m.data(), content);

  std::string empty = join(tmp.path(), "empty");
  ASSERT_TRUE(write_file_atomic(empty, "").ok());
  ASSERT_TRUE(m.open(empty).ok());  // reopening drops the first mapping
  EXPECT_TRUE(m.data().empty());

  status s = m.open(join(tmp.path(), "missing"));
  EXPECT_EQ(s.code(), errc::not_found);
  EXPECT_NE(s.message().find("missing"), std::string::npos);
}

}  // namespace
}  // namespace liandu::storage::fs
