// check.h: typed errors and HRM_CHECK.
// Library code throws hrm::Error (or a subclass naming the kind of culprit); only main() catches
// and prints. HRM_CHECK adds file:line so a failure points at the check that fired.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace hrm {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A configuration value or key is wrong (names the key and what is allowed).
struct ConfigError : Error {
  using Error::Error;
};
// A file's content is not what its format requires (names the file and position).
struct FormatError : Error {
  using Error::Error;
};
// The user or a scheduler stopped the work (SIGINT, SIGTERM); the message says what was kept. main()
// exits kInterruptedExit with it.
struct Interrupted : Error {
  using Error::Error;
};
constexpr int kInterruptedExit = 130;  // as a shell reports a process stopped by SIGINT

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace hrm

// HRM_CHECK(cond, parts...): throws hrm::Error("file:line: parts...") when cond is false.
#define HRM_CHECK(cond, ...)                                                                  \
  do {                                                                                        \
    if (!(cond))                                                                              \
      throw ::hrm::Error(::hrm::detail::concat(__FILE__, ":", __LINE__, ": ", __VA_ARGS__)); \
  } while (0)

// HRM_FAIL(Type, parts...): throws Type(parts...) with no file:line (user-facing input errors).
#define HRM_THROW(Type, ...) throw Type(::hrm::detail::concat(__VA_ARGS__))
