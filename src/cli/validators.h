// validators.h: checks of option values shared by the commands, with messages a user can act on.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>

#include "core/cores.h"

namespace hrm::cli {

// Every --threads: 0 (all cores) up to 4 threads per core; beyond that only oversubscription is gained.
// Threads cost memory and process slots: `--threads 99999` once hit a machine's process limit, and
// fork() failed for every user of it.
inline CLI::Validator thread_count() {
  const unsigned cores = usable_cores();
  const unsigned limit = 4 * cores;
  return CLI::Validator(
      [cores, limit](std::string& value) -> std::string {
        unsigned long long n = 0;
        if (!CLI::detail::lexical_cast(value, n)) return "expected a thread count (0: all cores), got '" + value + "'";
        if (n > limit)
          return value + " threads is more than 4 per core of this machine's " + std::to_string(cores) + " (at most " +
                 std::to_string(limit) + "; 0 means all cores)";
        return {};
      },
      "0.." + std::to_string(limit), "thread_count");
}

// torch's CPU threads when --threads is not given: OMP_NUM_THREADS where it is a thread count (as
// PyTorch; torchrun sets it to 1 for each of several processes, the reference's commands to 8; an
// OpenMP list "4,2" gives its first), else every core. `warning` tells why a set value was passed over.
inline unsigned default_thread_count(const char* omp_num_threads, std::string& warning) {
  const unsigned cores = usable_cores();
  if (!omp_num_threads || !*omp_num_threads) return cores;
  const std::string first = std::string(omp_num_threads).substr(0, std::string(omp_num_threads).find(','));
  unsigned long long n = 0;
  if (CLI::detail::lexical_cast(first, n) && n >= 1 && n <= 4ull * cores) return static_cast<unsigned>(n);
  warning = "OMP_NUM_THREADS='" + std::string(omp_num_threads) + "' is not a thread count in [1, " +
            std::to_string(4 * cores) + "]; using all " + std::to_string(cores) + " cores (or give --threads)";
  return cores;
}

// A count or seed >= min. CLI::NonNegativeNumber says so with a 300-digit upper bound, and an unsigned
// option would otherwise take -1 as 2^64 - 1.
inline CLI::Validator at_least(int min, const std::string& name) {
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(value, v)) return "expected a number, got '" + value + "'";
        if (v < min) return "expected a value >= " + std::to_string(min) + ", got " + value;
        return {};
      },
      name, name);
}
inline CLI::Validator non_negative() { return at_least(0, "NONNEGATIVE"); }
inline CLI::Validator positive() { return at_least(1, "POSITIVE"); }  // timed iterations

}  // namespace hrm::cli
