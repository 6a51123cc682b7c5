// remove_tree.h: recursive removal of a directory tree, for the dataset writer's temporaries.
// Not std::filesystem::remove_all: libtorch.so exports its own std::filesystem symbols, and in
// any binary that links it (`hrm`) remove_all resolves to libtorch's copy, which crashes (a call
// through a null pointer). This uses POSIX nftw(3) instead.
#pragma once

#include <string>

namespace hrm {

// Removes `path` and everything below it (symlinks removed, not followed). A missing path is not
// an error. Returns false if anything could not be removed (what remains is left in place).
bool remove_tree(const std::string& path) noexcept;

}  // namespace hrm
