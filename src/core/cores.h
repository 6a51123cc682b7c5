// cores.h: the cores this process may run on, for its default thread counts.
#pragma once

namespace hrm {

// The CPUs of this thread's affinity mask (taskset, SLURM's --cpus-per-task, a container's cpuset),
// at least 1; std::thread::hardware_concurrency counts every CPU of the machine instead, and threads
// beyond the mask only take turns. Falls back to that count where the mask cannot be read.
unsigned usable_cores();

}  // namespace hrm
