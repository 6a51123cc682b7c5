// unpickler.h: a restricted pickle virtual machine for the data.pkl record of torch.save files.
// Opcode semantics follow CPython's Lib/pickle.py; globals are resolved only through an allow-list
// and calls only through the caller's hooks, so a file can never run arbitrary code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace hrm::io::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// One unpickled Python object; containers hold shared references, as Python's memo does.
struct Value {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                      // Str, Bytes, Global ("module.name")
  std::vector<ValuePtr> items;                        // Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;    // Dict, in insertion order
  torch::Tensor tensor;                               // Storage, Tensor

  // Frees nested containers iteratively: a file can nest them as deep as it has bytes (one TUPLE1 opcode
  // per level), deeper than the stack allows for recursive destruction.
  ~Value();
  Value() = default;
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  static ValuePtr make(Kind k);
  static ValuePtr str(std::string s);
  static ValuePtr tensor_value(torch::Tensor t);
};

const char* kind_name(Value::Kind k);

struct UnpicklerHooks {
  std::set<std::string> allowed_globals;  // "module.name"
  // REDUCE: global(*args).
  std::function<ValuePtr(const std::string& global, const std::vector<ValuePtr>& args)> reduce;
  // BINPERSID.
  std::function<ValuePtr(const ValuePtr& pid)> persistent_load;
};

// Runs the machine over `data`; any malformed input is an hrm::FormatError naming `source`, the
// byte offset and the opcode. A container put inside itself (legal in Python, never in a state dict)
// is refused: shared references could not free it.
ValuePtr unpickle(std::string_view data, const std::string& source, const UnpicklerHooks& hooks);

}  // namespace hrm::io::pickle
