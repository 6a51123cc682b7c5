// thread_count.h: the check every --threads option uses. Threads cost memory and process slots:
// `--threads 99999` once hit a machine's process limit, and fork() failed for every user of it.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <thread>

namespace hrm::cli {

// 0 (all cores) up to 4 threads per core; beyond that only oversubscription is gained.
inline CLI::Validator thread_count() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
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

}  // namespace hrm::cli
