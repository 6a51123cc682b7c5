// pretrain_config.cpp: see pretrain_config.h (pretrain.py PretrainConfig, config/*.yaml).
#include "train/pretrain_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <limits>
#include <regex>
#include <sstream>

#include "core/atomic_file.h"
#include "core/check.h"

namespace fs = std::filesystem;

namespace hrm::train {
namespace {

// Model keys that come from the data or the batch size, not from the arch config (the reference
// passes them next to the arch extras, so setting them there is a TypeError in Python).
const std::vector<std::string> kDataArchKeys = {"batch_size", "seq_len", "vocab_size", "num_puzzle_identifiers"};
const std::vector<std::string> kSaveOutputs = {"inputs",         "labels",          "puzzle_identifiers",
                                               "logits",         "q_halt_logits",   "q_continue_logits"};

std::string node_text(const YAML::Node& n) {
  if (n.IsNull()) return "null";
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

std::string quoted(const std::string& s) {
  YAML::Emitter e;
  e << YAML::DoubleQuoted << s;
  return e.c_str();
}

[[noreturn]] void type_error(const std::string& key, const std::string& origin, const char* expected,
                             const YAML::Node& n) {
  HRM_THROW(ConfigError, "config key '", key, "' (", origin, "): expected ", expected, ", got '", node_text(n), "'");
}

int64_t as_int(const std::string& key, const std::string& origin, const YAML::Node& n) {
  if (n.IsScalar()) {
    try {
      return n.as<int64_t>();
    } catch (const YAML::Exception&) {
    }
    try {  // 4.0 is an integer to pydantic (lax mode) and to yaml emitters
      const double d = n.as<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    } catch (const YAML::Exception&) {
    }
  }
  type_error(key, origin, "an integer", n);
}

double as_double(const std::string& key, const std::string& origin, const YAML::Node& n) {
  if (n.IsScalar()) {
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
    }
  }
  type_error(key, origin, "a number", n);
}

bool as_bool(const std::string& key, const std::string& origin, const YAML::Node& n) {
  if (n.IsScalar()) {
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
    }
  }
  type_error(key, origin, "a boolean (True or False)", n);
}

std::string as_string(const std::string& key, const std::string& origin, const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  type_error(key, origin, "a string", n);
}

std::optional<std::string> as_opt_string(const std::string& key, const std::string& origin, const YAML::Node& n) {
  if (n.IsNull()) return std::nullopt;
  return as_string(key, origin, n);
}

std::vector<std::string> as_string_list(const std::string& key, const std::string& origin, const YAML::Node& n) {
  if (n.IsNull()) return {};
  if (!n.IsSequence()) type_error(key, origin, "a list of strings such as [inputs, logits]", n);
  std::vector<std::string> out;
  for (const auto& item : n) {
    if (!item.IsScalar()) type_error(key, origin, "a list of strings such as [inputs, logits]", n);
    out.push_back(item.Scalar());
  }
  return out;
}

// One row per key: how to set it from YAML and how to write it back.
using Setter = std::function<void(PretrainConfig&, const std::string& key, const std::string& origin, const YAML::Node&)>;
using Getter = std::function<std::string(const PretrainConfig&)>;
struct Field {
  std::string key;
  Setter set;
  Getter get;  // YAML text of the value
};

std::string q(const std::string& s) {  // a double-quoted YAML string: never re-read as a number or bool
  YAML::Emitter e;
  e << YAML::DoubleQuoted << s;
  return e.c_str();
}
std::string opt_q(const std::optional<std::string>& s) { return s ? q(*s) : "null"; }
std::string yaml_bool(bool b) { return b ? "true" : "false"; }

#define HRM_INT(f)                                                                                      \
  Field{#f, [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {    \
          c.f = as_int(k, o, n);                                                                        \
        },                                                                                              \
        [](const PretrainConfig& c) { return std::to_string(c.f); }}
#define HRM_DBL(f)                                                                                      \
  Field{#f, [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {    \
          c.f = as_double(k, o, n);                                                                     \
        },                                                                                              \
        [](const PretrainConfig& c) { return yaml_float(c.f); }}
#define HRM_BOOL(f)                                                                                     \
  Field{#f, [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {    \
          c.f = as_bool(k, o, n);                                                                       \
        },                                                                                              \
        [](const PretrainConfig& c) { return yaml_bool(c.f); }}
#define HRM_STR(f)                                                                                      \
  Field{#f, [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {    \
          c.f = as_string(k, o, n);                                                                     \
        },                                                                                              \
        [](const PretrainConfig& c) { return q(c.f); }}
#define HRM_OPT_STR(f)                                                                                  \
  Field{#f, [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {    \
          c.f = as_opt_string(k, o, n);                                                                 \
        },                                                                                              \
        [](const PretrainConfig& c) { return opt_q(c.f); }}

std::vector<Field> top_fields() {
  return {
      HRM_BOOL(checkpoint_every_eval),
      HRM_OPT_STR(checkpoint_path),
      HRM_DBL(beta1),
      HRM_DBL(beta2),
      HRM_STR(data_path),
      HRM_INT(epochs),
      Field{"eval_interval",
            [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {
              c.eval_interval = n.IsNull() ? std::nullopt : std::optional<int64_t>(as_int(k, o, n));
            },
            [](const PretrainConfig& c) { return c.eval_interval ? std::to_string(*c.eval_interval) : "null"; }},
      Field{"eval_save_outputs",
            [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {
              c.eval_save_outputs = as_string_list(k, o, n);
            },
            [](const PretrainConfig& c) {
              std::string s = "[";
              for (size_t i = 0; i < c.eval_save_outputs.size(); ++i) s += (i ? ", " : "") + q(c.eval_save_outputs[i]);
              return s + "]";
            }},
      HRM_INT(global_batch_size),
      HRM_DBL(lr),
      HRM_DBL(lr_min_ratio),
      HRM_INT(lr_warmup_steps),
      HRM_OPT_STR(project_name),
      HRM_DBL(puzzle_emb_lr),
      HRM_DBL(puzzle_emb_weight_decay),
      HRM_OPT_STR(run_name),
      HRM_INT(seed),
      HRM_DBL(weight_decay),
      // hrm's own
      HRM_STR(device),
      HRM_BOOL(cuda_graphs),
      HRM_BOOL(ema),
      HRM_BOOL(dist_reducer),
      HRM_DBL(dist_timeout),
      HRM_DBL(ema_rate),
      HRM_INT(log_interval),
      HRM_INT(max_nonfinite_steps),
      HRM_OPT_STR(resume),
      HRM_DBL(save_state_minutes),
  };
}

std::vector<std::string> arch_model_keys() {  // HRMConfig keys that are arch config keys, sorted
  std::vector<std::string> keys;
  for (const auto& k : HRMConfig::keys())
    if (k != "loss_type" && std::find(kDataArchKeys.begin(), kDataArchKeys.end(), k) == kDataArchKeys.end())
      keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<Field> arch_fields() {
  std::vector<Field> f = {
      Field{"arch.name",
            [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {
              c.arch_name = as_string(k, o, n);
            },
            [](const PretrainConfig& c) { return q(c.arch_name); }},
      Field{"arch.loss.name",
            [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {
              c.loss_name = as_string(k, o, n);
            },
            [](const PretrainConfig& c) { return q(c.loss_name); }},
      Field{"arch.loss.loss_type",
            [](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {
              c.arch.loss_type = as_string(k, o, n);
            },
            [](const PretrainConfig& c) { return q(c.arch.loss_type); }},
  };
  for (const auto& key : arch_model_keys()) {
    f.push_back(Field{"arch." + key,
                      [key](PretrainConfig& c, const std::string& k, const std::string& o, const YAML::Node& n) {
                        if (!n.IsScalar()) type_error(k, o, "a scalar", n);
                        try {
                          c.arch.set(key, n.Scalar());
                        } catch (const ConfigError& e) {
                          HRM_THROW(ConfigError, "config key '", k, "' (", o, "): ", e.what());
                        }
                      },
                      [key](const PretrainConfig& c) {
                        const std::string v = c.arch.get(key);
                        if (key == "pos_encodings" || key == "forward_dtype") return q(v);
                        if (key == "expansion" || key == "rms_norm_eps" || key == "rope_theta" ||
                            key == "halt_exploration_prob")
                          return yaml_float(std::stod(v));
                        return v;
                      }});
  }
  return f;
}

const std::vector<Field>& all_fields() {
  static const std::vector<Field> fields = [] {
    std::vector<Field> f = arch_fields();
    for (auto& t : top_fields()) f.push_back(std::move(t));
    return f;
  }();
  return fields;
}

const Field* find_field(const std::string& key) {
  for (const auto& f : all_fields())
    if (f.key == key) return &f;
  return nullptr;
}

void check_key(const std::string& key, const std::string& origin) {
  if (find_field(key)) return;
  for (const auto& k : kDataArchKeys)
    if (key == "arch." + k)
      HRM_THROW(ConfigError, "config key '", key, "' (", origin,
                "): not settable; it comes from ",
                k == "batch_size" ? "global_batch_size" : "the dataset's dataset.json");
  HRM_THROW(ConfigError, "unknown config key '", key, "' (", origin, "); did you mean '",
            nearest_key(key, config_keys()), "'?");
}

// Flattens a YAML map into dotted keys; only `arch` and `arch.loss` are nested sections.
void flatten(const YAML::Node& map, const std::string& prefix, const std::string& origin,
             std::vector<std::pair<std::string, YAML::Node>>& out) {
  for (const auto& kv : map) {
    const std::string key = prefix + kv.first.as<std::string>();
    if (key == "arch" || key == "arch.loss") {
      if (!kv.second.IsMap())
        HRM_THROW(ConfigError, "config key '", key, "' (", origin, "): expected a mapping of ", key, ".* keys, got '",
                  node_text(kv.second), "'");
      flatten(kv.second, key + ".", origin, out);
    } else if (key == "hydra" || key == "defaults") {
      continue;  // Hydra's own settings; `defaults` is handled by merge_file
    } else {
      out.emplace_back(key, kv.second);
    }
  }
}

// YAML keeps one of two equal keys in a mapping without a word; a config file with both is a mistake.
void check_unique_keys(const YAML::Node& node, const std::string& path) {
  if (node.IsSequence())
    for (const auto& item : node) check_unique_keys(item, path);
  if (!node.IsMap()) return;
  std::map<std::string, int> line_of;
  for (const auto& kv : node) {
    if (kv.first.IsScalar()) {
      const auto [it, fresh] = line_of.emplace(kv.first.Scalar(), kv.first.Mark().line + 1);
      if (!fresh)
        HRM_THROW(ConfigError, path, ":", kv.first.Mark().line + 1, ": key '", kv.first.Scalar(), "' again (first on line ",
                  it->second, "); YAML would keep one of them silently");
    }
    check_unique_keys(kv.second, path);
  }
}

YAML::Node load_yaml_file(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    check_unique_keys(root, path);
    return root;
  } catch (const YAML::BadFile&) {
    HRM_THROW(ConfigError, "cannot read config file '", path, "'");
  } catch (const YAML::Exception& e) {
    HRM_THROW(ConfigError, path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
}

}  // namespace

std::string yaml_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  // Python's repr: the fewest significant digits that read back to the same double, in positional
  // form for 1e-4 <= |v| < 1e16 and in exponent form otherwise.
  char buf[64];
  int prec = 1;
  for (; prec < 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  const double a = std::fabs(v);
  if (a == 0 || (a >= 1e-4 && a < 1e16)) {
    const int exp10 = a == 0 ? 0 : static_cast<int>(std::floor(std::log10(a)));
    std::snprintf(buf, sizeof buf, "%.*f", std::max(0, prec - 1 - exp10), v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
  }
  std::string s = buf;
  const size_t e = s.find('e');
  std::string mant = e == std::string::npos ? s : s.substr(0, e);
  std::string exp = e == std::string::npos ? "" : s.substr(e);
  if (mant.find('.') == std::string::npos) mant += ".0";  // PyYAML: 1.0e-05, not 1e-05
  if (!exp.empty()) {  // Python writes e-05 / e+16 with at least two digits, as printf does
    const char sign = exp[1];
    std::string digits = exp.substr(2);
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    if (digits.size() < 2) digits = "0" + digits;
    exp = std::string("e") + sign + digits;
  }
  return mant + exp;
}

HRMConfig PretrainConfig::default_arch() {
  HRMConfig a;  // hrm_v1.yaml values (HRMConfig's own defaults are the same, stated here on purpose)
  a.halt_exploration_prob = 0.1;
  a.halt_max_steps = 16;
  a.H_cycles = 2;
  a.L_cycles = 2;
  a.H_layers = 4;
  a.L_layers = 4;
  a.hidden_size = 512;
  a.num_heads = 8;
  a.expansion = 4;
  a.puzzle_emb_ndim = a.hidden_size;
  a.pos_encodings = "rope";
  a.loss_type = "stablemax_cross_entropy";
  return a;
}

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& f : all_fields()) k.push_back(f.key);
    return k;
  }();
  return keys;
}

void PretrainConfig::validate() const {
  if (arch_name != "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1")
    HRM_THROW(ConfigError, "config key 'arch.name' = '", arch_name,
              "': only hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1 is implemented");
  if (loss_name != "losses@ACTLossHead")
    HRM_THROW(ConfigError, "config key 'arch.loss.name' = '", loss_name, "': only losses@ACTLossHead is implemented");
  try {
    arch.validate();
  } catch (const ConfigError& e) {
    HRM_THROW(ConfigError, "arch: ", e.what());
  }
  auto positive = [](const char* key, int64_t v) {
    if (v <= 0) HRM_THROW(ConfigError, "config key '", key, "' = ", v, ": must be > 0");
  };
  // The optimizers compute in float32 (the reference's float tensors): a larger value is not one.
  auto non_negative = [](const char* key, double v) {
    if (!(v >= 0)) HRM_THROW(ConfigError, "config key '", key, "' = ", v, ": must be >= 0");
    if (v > std::numeric_limits<float>::max())
      HRM_THROW(ConfigError, "config key '", key, "' = ", v, ": must be at most ", std::numeric_limits<float>::max(),
                " (the largest float32)");
  };
  positive("global_batch_size", global_batch_size);
  positive("epochs", epochs);
  if (eval_interval) positive("eval_interval", *eval_interval);
  if (epochs % epochs_per_iter() != 0)  // the reference's assert
    HRM_THROW(ConfigError, "config key 'eval_interval' = ", epochs_per_iter(), ": must divide epochs = ", epochs);
  non_negative("lr", lr);
  non_negative("lr_min_ratio", lr_min_ratio);
  non_negative("lr_warmup_steps", static_cast<double>(lr_warmup_steps));
  non_negative("weight_decay", weight_decay);
  non_negative("puzzle_emb_lr", puzzle_emb_lr);
  non_negative("puzzle_emb_weight_decay", puzzle_emb_weight_decay);
  for (const auto& [key, b] : {std::pair<const char*, double>{"beta1", beta1}, {"beta2", beta2}})
    if (!(b >= 0 && b < 1)) HRM_THROW(ConfigError, "config key '", key, "' = ", b, ": must be in [0, 1)");
  if (!(ema_rate >= 0 && ema_rate <= 1)) HRM_THROW(ConfigError, "config key 'ema_rate' = ", ema_rate, ": must be in [0, 1]");
  non_negative("max_nonfinite_steps", static_cast<double>(max_nonfinite_steps));
  positive("log_interval", log_interval);
  if (!(save_state_minutes >= 0 && save_state_minutes <= 1e6))  // a steady_clock duration holds ~292 years
    HRM_THROW(ConfigError, "config key 'save_state_minutes' = ", save_state_minutes, ": must be in [0, 1000000] (minutes; 0: off)");
  if (!(dist_timeout >= 0.001 && dist_timeout <= 1e6))  // milliseconds in an int64 (c10d's timeouts); 1e6 s: 11 days
    HRM_THROW(ConfigError, "config key 'dist_timeout' = ", dist_timeout, ": must be in [0.001, 1000000] (seconds)");
  static const std::regex device_re(R"(auto|cpu|cuda(:[0-9]+)?)");
  if (!std::regex_match(device, device_re))
    HRM_THROW(ConfigError, "config key 'device' = '", device, "': expected auto, cpu, cuda or cuda:N");
  if (cuda_graphs && device == "cpu")  // device=auto on a machine without a GPU: when the device is resolved
    HRM_THROW(ConfigError, "config key 'cuda_graphs' = true needs a GPU (device is 'cpu')");
  for (size_t i = 0; i < eval_save_outputs.size(); ++i) {
    const std::string& name = eval_save_outputs[i];
    if (std::find(kSaveOutputs.begin(), kSaveOutputs.end(), name) == kSaveOutputs.end())
      HRM_THROW(ConfigError, "config key 'eval_save_outputs': unknown output '", name,
                "'; allowed: inputs, labels, puzzle_identifiers, logits, q_halt_logits, q_continue_logits");
    if (std::find(eval_save_outputs.begin(), eval_save_outputs.begin() + static_cast<std::ptrdiff_t>(i), name) !=
        eval_save_outputs.begin() + static_cast<std::ptrdiff_t>(i))
      HRM_THROW(ConfigError, "config key 'eval_save_outputs': '", name, "' is listed twice");
  }
}

ConfigBuilder::ConfigBuilder() {
  // The only default that is not a plain value: hrm_v1.yaml's `puzzle_emb_ndim: ${.hidden_size}`.
  set("arch.puzzle_emb_ndim", "${.hidden_size}", "default");
}

void ConfigBuilder::set(const std::string& key, const std::string& yaml_value, const std::string& origin) {
  check_key(key, origin);
  for (size_t i = 0; i < values_.size(); ++i)
    if (values_[i].first == key) {
      values_.erase(values_.begin() + static_cast<long>(i));
      origins_.erase(origins_.begin() + static_cast<long>(i));
      break;
    }
  values_.emplace_back(key, yaml_value);
  origins_.push_back(origin);
}

void ConfigBuilder::merge_file(const std::string& path) {
  const YAML::Node root = load_yaml_file(path);
  if (root.IsNull()) return;
  if (!root.IsMap()) HRM_THROW(ConfigError, path, ": expected a YAML mapping of config keys");
  auto merge_own = [&](const YAML::Node& map, const std::string& prefix, const std::string& file) {
    std::vector<std::pair<std::string, YAML::Node>> flat;
    flatten(map, prefix, file, flat);
    // A quoted scalar stays quoted: build() parses each value's text again, where "set #2" unquoted
    // would lose its comment and "null" would become null.
    for (const auto& [k, v] : flat) set(k, v.IsScalar() && v.Tag() == "!" ? quoted(v.Scalar()) : node_text(v), file);
  };
  const YAML::Node defaults = root["defaults"];
  bool self_done = false;
  if (defaults && defaults.IsSequence()) {
    for (const auto& d : defaults) {
      if (d.IsScalar() && d.Scalar() == "_self_") {
        merge_own(root, "", path);
        self_done = true;
      } else if (d.IsMap() && d["arch"] && d["arch"].IsScalar()) {
        const std::string arch_file = (fs::path(path).parent_path() / "arch" / (d["arch"].Scalar() + ".yaml")).string();
        const YAML::Node arch = load_yaml_file(arch_file);
        if (!arch.IsMap()) HRM_THROW(ConfigError, arch_file, ": expected a YAML mapping of arch keys");
        merge_own(arch, "arch.", arch_file);
      } else {
        HRM_THROW(ConfigError, path, ": unsupported `defaults` entry '", node_text(d),
                  "' (supported: `arch: NAME` and `_self_`)");
      }
    }
  }
  if (!self_done) merge_own(root, "", path);
}

void ConfigBuilder::merge_override(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    HRM_THROW(ConfigError, "argument '", arg, "': expected key=value (e.g. lr=1e-4 or arch.L_cycles=8)");
  // The value is read as YAML, as Hydra reads it. Where YAML takes part of it for syntax (`#` starts
  // a comment, `!` a tag, `|` a block), the value would change without a word: refused instead.
  const std::string raw = arg.substr(eq + 1);
  const size_t first = raw.find_first_not_of(" \t"), last = raw.find_last_not_of(" \t");
  const std::string t = first == std::string::npos ? std::string() : raw.substr(first, last - first + 1);
  if (!t.empty() && t[0] != '"' && t[0] != '\'') {
    YAML::Node n;
    try {
      n = YAML::Load(t);
    } catch (const YAML::Exception&) {  // build() names the key and YAML's reason
    }
    const bool null_word = t == "null" || t == "Null" || t == "NULL" || t == "~";
    if ((n.IsScalar() && n.Scalar() != t) || (n.IsNull() && !null_word))
      HRM_THROW(ConfigError, "override '", arg, "': YAML reads its value as ", n.IsNull() ? std::string("null") : "'" + n.Scalar() + "'",
                ", not as written; quote it to keep it: ", arg.substr(0, eq), "='\"", t, "\"'");
  }
  set(arg.substr(0, eq), raw, "override '" + arg + "'");
}

PretrainConfig ConfigBuilder::build() const {
  // Parse every value, then resolve `${.key}` (relative to the value's own section, as OmegaConf).
  std::map<std::string, YAML::Node> nodes;
  for (size_t i = 0; i < values_.size(); ++i) {
    try {
      nodes[values_[i].first] = values_[i].second.empty() ? YAML::Node() : YAML::Load(values_[i].second);
    } catch (const YAML::Exception& e) {
      HRM_THROW(ConfigError, "config key '", values_[i].first, "' (", origins_[i], "): invalid YAML value '",
                values_[i].second, "': ", e.msg);
    }
  }
  static const std::regex ref_re(R"(\$\{\.([A-Za-z_][A-Za-z0-9_]*)\})");
  PretrainConfig c;
  // Plain values first, so that a bad value is reported under its own key, then the references.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < values_.size(); ++i) {
      const std::string& key = values_[i].first;
      YAML::Node n = nodes[key];
      const std::string text = n.IsScalar() ? n.Scalar() : "";
      std::smatch m;
      const bool is_ref = std::regex_match(text, m, ref_re);
      if (is_ref != (pass == 1)) continue;
      if (is_ref) {
        const std::string target = key.substr(0, key.rfind('.') + 1) + m[1].str();
        const Field* tf = find_field(target);
        if (!tf)
          HRM_THROW(ConfigError, "config key '", key, "' (", origins_[i], "): '", text, "' refers to unknown key '",
                    target, "'");
        if (nodes.count(target) && nodes[target].IsScalar() && std::regex_match(nodes[target].Scalar(), ref_re))
          HRM_THROW(ConfigError, "config key '", key, "': chained interpolation '", text, "' is not supported");
        n = YAML::Load(tf->get(c));  // the target's final value (already set in pass 0)
      }
      find_field(key)->set(c, key, origins_[i], n);
    }
  }
  c.validate();
  return c;
}

PretrainConfig load_pretrain_config(const std::optional<std::string>& config_file,
                                    const std::vector<std::string>& overrides) {
  std::optional<std::string> resume;
  for (const auto& o : overrides)
    if (o.rfind("resume=", 0) == 0) resume = o.substr(7);
  ConfigBuilder b;
  if (resume) {
    if (config_file) HRM_THROW(ConfigError, "resume=DIR continues with DIR/all_config.yaml; do not pass --config too");
    if (resume->empty()) HRM_THROW(ConfigError, "resume= needs the folder of the run to continue (its checkpoint_path)");
    if (!fs::exists(*resume)) HRM_THROW(ConfigError, "resume=", *resume, ": no such folder");
    if (!fs::is_directory(*resume))
      HRM_THROW(ConfigError, "resume=", *resume, ": a file; expected the folder of a run (its checkpoint_path)");
    const std::string saved = (fs::path(*resume) / "all_config.yaml").string();
    if (!fs::exists(saved)) HRM_THROW(ConfigError, "resume=", *resume, ": no all_config.yaml in that directory");
    for (const auto& o : overrides)
      if (o.rfind("checkpoint_path=", 0) == 0 && fs::weakly_canonical(o.substr(16)) != fs::weakly_canonical(*resume))
        HRM_THROW(ConfigError, "resume=", *resume, " continues the run in its own folder; ", o,
                  " cannot move it (copy the folder and resume the copy)");
    b.merge_file(saved);
  } else if (config_file) {
    b.merge_file(*config_file);
  }
  std::optional<PretrainConfig> run;  // the run's own config, where it holds without the overrides
  if (resume) {
    try {
      run = b.build();
    } catch (const ConfigError&) {
    }
  }
  for (const auto& o : overrides) b.merge_override(o);
  PretrainConfig c = b.build();
  if (resume) c.checkpoint_path = *resume;
  if (run) {
    // The saved state counts iterations of the run's epochs per evaluation, and its sampler is inside
    // a pass drawn from the run's seed: another unit or seed would train on silently, but not as the run.
    if (c.epochs_per_iter() != run->epochs_per_iter())
      HRM_THROW(ConfigError, "resume=", *resume, ": the run evaluates every ", run->epochs_per_iter(),
                " epochs (eval_interval=", run->eval_interval ? std::to_string(*run->eval_interval) : "null, epochs=" + std::to_string(run->epochs),
                ") and its saved state counts iterations of that many; this config makes it ", c.epochs_per_iter(),
                ": keep eval_interval=", run->epochs_per_iter());
    if (c.seed != run->seed)
      HRM_THROW(ConfigError, "resume=", *resume, ": seed=", c.seed, " differs from the run's ", run->seed,
                ", whose permutation the saved sampler is in");
  }
  return c;
}

void fill_names(PretrainConfig& c) {
  if (!c.project_name) {
    std::string base = fs::path(c.data_path).filename().string();
    for (size_t i = 0; i < base.size(); ++i)  // str.capitalize(): first upper, the rest lower
      base[i] = static_cast<char>(i == 0 ? std::toupper(static_cast<unsigned char>(base[i]))
                                         : std::tolower(static_cast<unsigned char>(base[i])));
    c.project_name = base + " ACT-torch";
  }
  if (!c.run_name) {
    char slug[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(slug, sizeof slug, "%Y%m%d-%H%M%S", &tm);
    // And 4 random hex digits (the reference's coolname slug is random too): runs of a sweep started
    // in the same second get folders of their own.
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "-%04x", static_cast<unsigned>(std::random_device{}() & 0xffff));
    c.run_name = c.arch_name.substr(c.arch_name.rfind('@') + 1) + " " + slug + suffix;
  }
  if (!c.checkpoint_path) c.checkpoint_path = (fs::path("checkpoints") / *c.project_name / *c.run_name).string();
}

std::string to_yaml(const PretrainConfig& config) {
  PretrainConfig c = config;
  c.resume.reset();  // all_config.yaml describes the run, not how this invocation started it
  std::ostringstream os;
  // yaml.dump sorts keys: arch first, its keys sorted with `loss` in place.
  std::vector<std::string> arch_keys = arch_model_keys();
  arch_keys.push_back("loss");
  arch_keys.push_back("name");
  std::sort(arch_keys.begin(), arch_keys.end());
  os << "arch:\n";
  for (const auto& k : arch_keys) {
    if (k == "loss")
      os << "  loss:\n    loss_type: " << find_field("arch.loss.loss_type")->get(c)
         << "\n    name: " << find_field("arch.loss.name")->get(c) << "\n";
    else
      os << "  " << k << ": " << find_field("arch." + k)->get(c) << "\n";
  }
  std::vector<Field> top = top_fields();
  std::stable_sort(top.begin(), top.end(), [](const Field& a, const Field& b) { return a.key < b.key; });
  for (const auto& f : top) os << f.key << ": " << f.get(c) << "\n";
  return os.str();
}

void save_all_config(const PretrainConfig& config, const std::string& dir) {
  fs::create_directories(dir);
  write_file_atomic((fs::path(dir) / "all_config.yaml").string(), to_yaml(config));
}

bool parse_bool(const std::string& key, const std::string& origin, const std::string& text) {
  YAML::Node n;
  try {
    n = YAML::Load(text);
  } catch (const YAML::Exception&) {
    n = YAML::Node(text);
  }
  return as_bool(key, origin, n);
}

}  // namespace hrm::train
