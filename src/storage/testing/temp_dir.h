#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace liandu::storage::testing {

// A fresh folder under $TMPDIR, removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/liandu-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace liandu::storage::testing
