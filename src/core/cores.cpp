// cores.cpp: see cores.h.
#include "core/cores.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace hrm {

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  // EINVAL on a machine with more CPUs than a cpu_set_t holds (1024): the machine's count then.
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace hrm
