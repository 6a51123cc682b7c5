// test_cores.cpp: tests src/core/cores.h: default thread counts follow the CPU affinity mask
// (taskset, SLURM, a container's cpuset), not the machine's CPU count.
#include <gtest/gtest.h>

#include <sched.h>

#include <thread>

#include "core/cores.h"

namespace hrm {
namespace {

TEST(Cores, UsableCoresAreThoseOfTheAffinityMask) {
  cpu_set_t all;
  CPU_ZERO(&all);
  ASSERT_EQ(::sched_getaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(usable_cores(), static_cast<unsigned>(CPU_COUNT(&all)));
  EXPECT_LE(usable_cores(), std::max(1u, std::thread::hardware_concurrency()));

  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);  // this thread only, as `taskset -c N` for a process
  const unsigned restricted = usable_cores();
  ASSERT_EQ(::sched_setaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(restricted, 1u);
}

}  // namespace
}  // namespace hrm
