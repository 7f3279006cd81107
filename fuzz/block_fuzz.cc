// libFuzzer target for the block file reader (storage/block): a block file
// read from disk is untrusted bytes (a torn copy, a bad disk, another
// program's file). Opening must return an error or an index, never crash or
// allocate without bound; every entry of an index that opened must read or
// fail cleanly. When a column reads, its value count is the one its entry
// promised. The seeds are the saved format samples (v1 plain index, v2 zstd
// index) in fuzz/corpus/block.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/block/block_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace liandu::storage;
  auto r = block::block_reader::open_bytes(std::string(reinterpret_cast<const char*>(data), size));
  if (!r.ok()) return 0;
  for (const auto& e : (*r)->entries()) {
    column c;
    if ((*r)->read(e, c).ok() && c.size() != e.count) std::abort();
  }
  return 0;
}
