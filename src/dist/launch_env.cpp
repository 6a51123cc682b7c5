// launch_env.cpp: the launcher's environment (see comm.h); no c10d, so every build has it.
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

#include "core/check.h"
#include "dist/comm.h"

namespace hrm::dist {

namespace {

int env_int(const std::function<const char*(const char*)>& getenv, const char* name, long lo, long hi) {
  const char* v = getenv(name);
  if (!v || !*v) HRM_THROW(ConfigError, "data-parallel launch: environment variable ", name, " is not set");
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
    HRM_THROW(ConfigError, "data-parallel launch: ", name, "='", v, "' is not an integer in [", lo, ", ", hi, "]");
  return static_cast<int>(x);
}

}  // namespace

std::optional<LaunchEnv> launch_env_from(const std::function<const char*(const char*)>& getenv) {
  const char* ws = getenv("WORLD_SIZE");
  if (!ws || !*ws) {
    if (const char* r = getenv("RANK"); r && *r)
      HRM_THROW(ConfigError, "data-parallel launch: RANK is set but WORLD_SIZE is not (set both, or neither for one process)");
    return std::nullopt;
  }
  LaunchEnv e;
  e.world_size = env_int(getenv, "WORLD_SIZE", 1, 1 << 20);
  e.rank = env_int(getenv, "RANK", 0, e.world_size - 1);
  const char* lr = getenv("LOCAL_RANK");
  e.local_rank = lr && *lr ? env_int(getenv, "LOCAL_RANK", 0, e.world_size - 1) : e.rank;
  if (e.world_size > 1) {
    const char* addr = getenv("MASTER_ADDR");
    if (!addr || !*addr) HRM_THROW(ConfigError, "data-parallel launch: environment variable MASTER_ADDR is not set");
    e.master_addr = addr;
    e.master_port = env_int(getenv, "MASTER_PORT", 1, 65535);
    const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
    e.agent_store = agent && std::string(agent) == "True";
  }
  return e;
}

std::optional<LaunchEnv> launch_env() {
  return launch_env_from([](const char* n) { return std::getenv(n); });
}

}  // namespace hrm::dist
