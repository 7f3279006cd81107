#include "storage/fs/file_util.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// append_all writes the pieces in order: empty ones, pieces larger than a
// page, and more pieces than one writev takes (64).
TEST(AppendFileTest, AppendAllWritesEveryPieceInOrder) {
  testing::temp_dir tmp;
  std::string path = join(tmp.path(), "f");
  std::vector<std::string> owned;
  for (int i = 0; i < 3000; ++i) {
    owned.push_back(i % 5 == 0 ? std::string()
                               : std::string(i % 7 == 0 ? 70000 : i % 13, static_cast<char>('a' + i % 26)) +
                                     std::to_string(i));
  }
  std::vector<std::string_view> pieces(owned.begin(), owned.end());
  append_file f;
  ASSERT_TRUE(f.open(path).ok());
  ASSERT_TRUE(f.append("head").ok());
  ASSERT_TRUE(f.append_all(pieces).ok());
  ASSERT_TRUE(f.append_all({}).ok());
  std::string want = "head";
  for (const auto& p : owned) want += p;
  EXPECT_EQ(f.size(), want.size());
  f.close();
  mapped_file m;
  ASSERT_TRUE(m.open(path).ok());
  EXPECT_TRUE(m.data() == want) << m.data().size() << " bytes written, " << want.size() << " expected";
}

}  // namespace
}  // namespace liandu::storage::fs
