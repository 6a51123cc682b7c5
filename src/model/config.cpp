// config.cpp: parsing and validation of HRMConfig (see config.h).
#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace hrm {
namespace {

// One table drives set/get/keys so the three can never disagree.
struct Field {
  const char* name;
  std::function<void(HRMConfig&, const std::string&)> set;
  std::function<std::string(const HRMConfig&)> get;
};

long parse_int(const std::string& key, const std::string& v) {
  try {
    size_t pos = 0;
    long x = std::stol(v, &pos);
    if (pos == v.size()) return x;
  } catch (const std::exception&) {
  }
  // Accept "4.0"-style integers written by YAML/JSON emitters.
  try {
    size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos == v.size() && d == std::floor(d)) return static_cast<long>(d);
  } catch (const std::exception&) {
  }
  HRM_THROW(ConfigError, "config key '", key, "': expected an integer, got '", v, "'");
}

double parse_double(const std::string& key, const std::string& v) {
  try {
    size_t pos = 0;
    double x = std::stod(v, &pos);
    if (pos == v.size()) return x;
  } catch (const std::exception&) {
  }
  HRM_THROW(ConfigError, "config key '", key, "': expected a number, got '", v, "'");
}

std::string fmt_double(double d) {
  std::ostringstream os;
  os.precision(17);
  os << d;
  return os.str();
}

// An int field: a value beyond int is an error, never a silent wrap (4294967328 is not 32).
int parse_int32(const std::string& key, const std::string& v) {
  const int64_t x = parse_int(key, v);
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
    HRM_THROW(ConfigError, "config key '", key, "': ", v, " is out of range for a 32-bit integer");
  return static_cast<int>(x);
}

#define HRM_INT_FIELD(f) \
  Field { #f, [](HRMConfig& c, const std::string& v) { c.f = parse_int32(#f, v); }, \
          [](const HRMConfig& c) { return std::to_string(c.f); } }
#define HRM_DBL_FIELD(f) \
  Field { #f, [](HRMConfig& c, const std::string& v) { c.f = parse_double(#f, v); }, \
          [](const HRMConfig& c) { return fmt_double(c.f); } }
#define HRM_STR_FIELD(f) \
  Field { #f, [](HRMConfig& c, const std::string& v) { c.f = v; }, [](const HRMConfig& c) { return c.f; } }

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      HRM_INT_FIELD(batch_size),      HRM_INT_FIELD(seq_len),        HRM_INT_FIELD(puzzle_emb_ndim),
      HRM_INT_FIELD(num_puzzle_identifiers), HRM_INT_FIELD(vocab_size), HRM_INT_FIELD(H_cycles),
      HRM_INT_FIELD(L_cycles),        HRM_INT_FIELD(H_layers),       HRM_INT_FIELD(L_layers),
      HRM_INT_FIELD(hidden_size),     HRM_DBL_FIELD(expansion),      HRM_INT_FIELD(num_heads),
      HRM_STR_FIELD(pos_encodings),   HRM_DBL_FIELD(rms_norm_eps),   HRM_DBL_FIELD(rope_theta),
      HRM_INT_FIELD(halt_max_steps),  HRM_DBL_FIELD(halt_exploration_prob),
      HRM_STR_FIELD(forward_dtype),   HRM_STR_FIELD(loss_type),
  };
  return table;
}

const Field& field(const std::string& key) {
  for (const auto& f : fields())
    if (key == f.name) return f;
  HRM_THROW(ConfigError, "unknown model config key '", key, "' (did you mean '",
            nearest_key(key, HRMConfig::keys()), "'?)");
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

void check_min(const char* key, double value, double min) {
  if (value < min) HRM_THROW(ConfigError, "config key '", key, "' = ", value, ": must be >= ", min);
}

}  // namespace

std::string nearest_key(const std::string& key, const std::vector<std::string>& candidates) {
  const auto has = [&](const std::string& c) { return std::find(candidates.begin(), candidates.end(), c) != candidates.end(); };
  // Other trainers' names for the same thing.
  static const std::vector<std::pair<std::string, std::string>> kAliases = {
      {"learning_rate", "lr"}, {"batch_size", "global_batch_size"}, {"num_epochs", "epochs"}, {"wd", "weight_decay"}};
  for (const auto& [alias, name] : kAliases)
    if (key == alias && has(name)) return name;
  // A shortened key ("arch.hidden"), then a key inside a longer one: the shortest such candidate.
  for (const bool prefix_only : {true, false}) {
    if (key.size() < 2) break;
    std::string best;
    for (const auto& c : candidates)
      if ((prefix_only ? c.rfind(key, 0) == 0 : c.find(key) != std::string::npos) && (best.empty() || c.size() < best.size()))
        best = c;
    if (!best.empty()) return best;
  }
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

int HRMConfig::intermediate_size() const {
  // Python round() is round-half-to-even; std::nearbyint in the default rounding mode matches.
  long inter = static_cast<long>(std::nearbyint(expansion * hidden_size * 2.0 / 3.0));
  return static_cast<int>(((inter + 255) / 256) * 256);
}

void HRMConfig::validate() const {
  check_min("batch_size", batch_size, 1);
  check_min("seq_len", seq_len, 1);
  check_min("puzzle_emb_ndim", puzzle_emb_ndim, 0);
  check_min("num_puzzle_identifiers", num_puzzle_identifiers, 1);
  check_min("vocab_size", vocab_size, 1);
  check_min("H_cycles", H_cycles, 1);
  check_min("L_cycles", L_cycles, 1);
  check_min("H_layers", H_layers, 1);
  check_min("L_layers", L_layers, 1);
  check_min("hidden_size", hidden_size, 1);
  check_min("num_heads", num_heads, 1);
  check_min("halt_max_steps", halt_max_steps, 1);
  if (!(expansion > 0)) HRM_THROW(ConfigError, "config key 'expansion' = ", expansion, ": must be > 0");
  if (hidden_size % num_heads != 0)
    HRM_THROW(ConfigError, "config key 'hidden_size' = ", hidden_size, " is not divisible by 'num_heads' = ",
              num_heads);
  if (pos_encodings == "rope" && head_dim() % 2 != 0)
    HRM_THROW(ConfigError, "config key 'num_heads': rope needs an even head_dim, got hidden_size/num_heads = ",
              head_dim());
  if (pos_encodings != "rope" && pos_encodings != "learned")
    HRM_THROW(ConfigError, "config key 'pos_encodings' = '", pos_encodings, "': allowed values are rope, learned");
  if (forward_dtype != "bfloat16" && forward_dtype != "float32" && forward_dtype != "float16")
    HRM_THROW(ConfigError, "config key 'forward_dtype' = '", forward_dtype,
              "': allowed values are bfloat16, float32, float16");
  if (loss_type != "stablemax_cross_entropy" && loss_type != "softmax_cross_entropy")
    HRM_THROW(ConfigError, "config key 'loss_type' = '", loss_type,
              "': allowed values are stablemax_cross_entropy, softmax_cross_entropy");
  if (!(rms_norm_eps > 0)) HRM_THROW(ConfigError, "config key 'rms_norm_eps' = ", rms_norm_eps, ": must be > 0");
  if (!(rope_theta > 0)) HRM_THROW(ConfigError, "config key 'rope_theta' = ", rope_theta, ": must be > 0");
  if (!(halt_exploration_prob >= 0 && halt_exploration_prob <= 1))
    HRM_THROW(ConfigError, "config key 'halt_exploration_prob' = ", halt_exploration_prob, ": must be in [0, 1]");
}

void HRMConfig::set(const std::string& key, const std::string& value) { field(key).set(*this, value); }

std::string HRMConfig::get(const std::string& key) const { return field(key).get(*this); }

const std::vector<std::string>& HRMConfig::keys() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& f : fields()) n.push_back(f.name);
    return n;
  }();
  return names;
}

HRMConfig HRMConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) HRM_THROW(ConfigError, "model config: expected a JSON object");
  // The reference's config class gives these no default: a missing one is an error there too (here it
  // would silently take hrm's Sudoku default and show up as a numeric mismatch).
  for (const char* required : {"batch_size", "seq_len", "num_puzzle_identifiers", "vocab_size", "H_cycles", "L_cycles",
                               "H_layers", "L_layers", "hidden_size", "expansion", "num_heads", "pos_encodings",
                               "halt_max_steps", "halt_exploration_prob"})
    if (!j.contains(required))
      HRM_THROW(ConfigError, "model config: missing key '", required, "' (the reference's config has no default for it)");
  HRMConfig c;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& v = it.value();
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    c.set(it.key(), text);
  }
  c.validate();
  return c;
}

nlohmann::json HRMConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : fields()) {
    std::string v = f.get(*this);
    const std::string k = f.name;
    if (k == "pos_encodings" || k == "forward_dtype" || k == "loss_type")
      j[k] = v;
    else if (k == "expansion" || k == "rms_norm_eps" || k == "rope_theta" || k == "halt_exploration_prob")
      j[k] = std::stod(v);
    else
      j[k] = std::stol(v);
  }
  return j;
}

}  // namespace hrm
