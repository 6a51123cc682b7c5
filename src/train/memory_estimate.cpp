// memory_estimate.cpp: see memory_estimate.h.
#include "train/memory_estimate.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "model/layers.h"

#if !HRM_TORCH_FALLBACK
#include <ATen/DeviceAccelerator.h>
#endif

namespace hrm::train {
namespace {

double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

std::string gib_text(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes < 0.1 * 1024 * 1024 * 1024 ? "%.3f GiB" : "%.1f GiB", gib(bytes));
  return buf;
}

// "MemTotal:  24589740 kB" -> bytes; nothing when the key is absent.
std::optional<double> meminfo_bytes(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream in(line.substr(key.size() + 1));
    double kib = 0;
    if (in >> kib) return kib * 1024.0;
  }
  return std::nullopt;
}

// The RAM limit of this process's cgroup: v2 memory.max ("max" when unlimited) or v1
// memory.limit_in_bytes (a huge number then). Swap is limited apart from it.
std::optional<double> cgroup_ram_limit_bytes() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(path);
    std::string text;
    if (!(f >> text) || text.find_first_not_of("0123456789") != std::string::npos) continue;
    const double v = std::stod(text);
    if (v > 0 && v < 1e18) return v;
  }
  return std::nullopt;
}

}  // namespace

MemoryEstimate estimate_memory(const HRMConfig& c, ModelUse use, bool ema, torch::Device device) {
  const int64_t h = c.hidden_size, inter = c.intermediate_size(), vocab = c.vocab_size;
  const int64_t layers = int64_t{c.H_layers} + c.L_layers;
  const int64_t rows = c.batch_size, tokens = c.total_seq_len();
  const double act = static_cast<double>(c10::elementSize(dtype_from_name(c.forward_dtype)));

  MemoryEstimate m;
  // Per block: qkv_proj (h x 3h), o_proj (h x h), gate_up_proj (h x 2I), down_proj (I x h); no norm weights.
  m.parameters = layers * (3 * h * h + h * h + 2 * h * inter + inter * h) + vocab * h /* embed_tokens */ +
                 h * vocab /* lm_head */ + (2 * h + 2) /* q_head */ + (c.pos_encodings == "learned" ? tokens * h : 0);
  const int64_t puzzle_table = c.puzzle_emb_ndim > 0 ? int64_t{c.num_puzzle_identifiers} * c.puzzle_emb_ndim : 0;
  m.buffers = puzzle_table + 2 * h;  // + H_init, L_init
  m.weights_bytes = 4.0 * static_cast<double>(m.parameters + puzzle_table) + 2.0 * h * act;
  // On the CPU each CastedLinear keeps its weight's cast to the forward dtype (model/layers.h CastCache):
  // the blocks, lm_head and q_head. Not with --unfused, but a lower bound may count what usually is.
  if (device.is_cpu() && act < 4.0)
    m.weights_bytes += act * static_cast<double>(layers * (4 * h * h + 3 * h * inter) + h * vocab + 2 * h + 2);

  const double row_tokens = static_cast<double>(rows) * static_cast<double>(tokens);
  const double carry = 2.0 * row_tokens * h * act;  // z_H, z_L
  if (use == ModelUse::training) {
    // AdamATan2's exp_avg and exp_avg_sq, the EMA copy: held for the whole run.
    m.optimizer_bytes = (8.0 + (ema ? 4.0 : 0.0)) * static_cast<double>(m.parameters);
    // The 1-step gradient keeps, for each block of the last L and H passes, at least the inputs of its
    // four matrix products (3h + I), the qkv projection that attention saves (3h) and the gate_up
    // output that silu and the product save (2I); plus the puzzle embedding's rows. The gradients
    // (zero_grad frees them) exist only once the backward has freed those: the larger of the two.
    const double saved = static_cast<double>(layers) * row_tokens * static_cast<double>(6 * h + 3 * inter) * act +
                         4.0 * static_cast<double>(rows) * c.puzzle_emb_ndim;
    m.state_bytes = carry + std::max(saved, 4.0 * static_cast<double>(m.parameters));
  } else {
    // While a block runs: the carry, the block's input and its gate_up output.
    m.state_bytes = carry + row_tokens * static_cast<double>(h + 2 * inter) * act;
  }
  return m;
}

std::optional<double> memory_limit_bytes(torch::Device device) {
  if (device.is_cuda()) {
#if !HRM_TORCH_FALLBACK
    const auto index = device.has_index() ? device.index() : at::accelerator::getDeviceIndex();
    return static_cast<double>(at::accelerator::getMemoryInfo(index).second);
#else
    return std::nullopt;
#endif
  }
  const auto ram = meminfo_bytes("MemTotal");
  if (!ram) return std::nullopt;
  // All of the swap counts, whatever a cgroup allows of it: too high a limit only lets more through.
  return std::min(*ram, cgroup_ram_limit_bytes().value_or(*ram)) + meminfo_bytes("SwapTotal").value_or(0.0);
}

void check_memory_fits(const MemoryEstimate& need, const HRMConfig& c, double limit_bytes, const std::string& where,
                       const std::string& batch_key) {
  if (need.total() <= limit_bytes) return;
  std::ostringstream parts;
  parts << "weights " << gib_text(need.weights_bytes) << " for " << need.parameters << " parameters";
  if (need.buffers > 2 * int64_t{c.hidden_size})
    parts << " and a puzzle-embedding table of " << c.num_puzzle_identifiers << " x " << c.puzzle_emb_ndim;
  if (need.optimizer_bytes > 0) parts << ", optimizer state " << gib_text(need.optimizer_bytes);
  parts << ", carry and activations" << (need.optimizer_bytes > 0 ? " or gradients " : " ") << gib_text(need.state_bytes)
        << " for " << c.batch_size << " rows of " << c.total_seq_len() << " tokens";
  HRM_THROW(ConfigError, where, ": this configuration needs at least ", gib_text(need.total()), " per process (",
            parts.str(), "), more than the ", gib_text(limit_bytes),
            " this device has (on the CPU: RAM, or the cgroup's limit, + swap); lower ", batch_key,
            " or the model's size (arch.hidden_size, arch.H_layers, arch.L_layers, arch.expansion)");
}

void check_memory_before_building(const HRMConfig& c, torch::Device device, ModelUse use, bool ema,
                                  const std::string& batch_key) {
  if (const auto limit = memory_limit_bytes(device))
    check_memory_fits(estimate_memory(c, use, ema, device), c, *limit, "device " + device.str(), batch_key);
}

}  // namespace hrm::train
