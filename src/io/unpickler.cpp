// unpickler.cpp: the pickle virtual machine of unpickler.h.
// Opcode semantics follow CPython's Lib/pickle.py (_Unpickler.load_*); only the protocol 0-5 opcodes
// that carry no arbitrary Python code are implemented (see `run_opcode`), text-mode ones are not.
#include "io/unpickler.h"

#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/check.h"

namespace hrm::io::pickle {

Value::~Value() {
  std::vector<ValuePtr> pending;
  auto take_children = [&pending](Value& v) {
    for (auto& x : v.items) pending.push_back(std::move(x));
    for (auto& [k, x] : v.dict) {
      pending.push_back(std::move(k));
      pending.push_back(std::move(x));
    }
    v.items.clear();
    v.dict.clear();
  };
  take_children(*this);
  while (!pending.empty()) {
    ValuePtr v = std::move(pending.back());
    pending.pop_back();
    if (v && v.use_count() == 1) take_children(*v);  // v is freed at the end of this iteration, childless
  }
}

ValuePtr Value::make(Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

ValuePtr Value::str(std::string s) {
  auto v = make(Kind::Str);
  v->s = std::move(s);
  return v;
}

ValuePtr Value::tensor_value(torch::Tensor t) {
  auto v = make(Kind::Tensor);
  v->tensor = std::move(t);
  return v;
}

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::Str: return "str";
    case Value::Kind::Bytes: return "bytes";
    case Value::Kind::Tuple: return "tuple";
    case Value::Kind::List: return "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Global: return "global";
    case Value::Kind::Storage: return "Storage";
    case Value::Kind::Tensor: return "Tensor";
  }
  return "?";
}

namespace {

// Thrown inside the machine; `unpickle` adds the source, opcode and offset.
struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void bad(Args&&... args) {
  throw Bad(::hrm::detail::concat(std::forward<Args>(args)...));
}

// Python-style dict assignment: replaces the value of an existing key (str/int/bool keys compare by
// value; other keys by identity, which is all torch files need).
void dict_set(Value& d, ValuePtr key, ValuePtr value) {
  for (auto& kv : d.dict) {
    const Value& k = *kv.first;
    bool same = kv.first == key ||
                (k.kind == key->kind && (k.kind == Value::Kind::Str ? k.s == key->s
                                         : k.kind == Value::Kind::Int || k.kind == Value::Kind::Bool
                                             ? k.i == key->i && k.b == key->b
                                             : false));
    if (same) {
      kv.second = std::move(value);
      return;
    }
  }
  d.dict.emplace_back(std::move(key), std::move(value));
}

bool is_container(const Value& v) {
  return v.kind == Value::Kind::Tuple || v.kind == Value::Kind::List || v.kind == Value::Kind::Dict;
}

// Does `target` occur in `v` or below it? Iterative, each value visited once.
bool reaches(const ValuePtr& v, const Value* target) {
  if (!is_container(*v)) return false;
  std::vector<const Value*> todo{v.get()};
  std::unordered_set<const Value*> seen{v.get()};
  while (!todo.empty()) {
    const Value* x = todo.back();
    todo.pop_back();
    if (x == target) return true;
    auto visit = [&](const ValuePtr& c) {
      if (is_container(*c) && seen.insert(c.get()).second) todo.push_back(c.get());
    };
    for (const auto& c : x->items) visit(c);
    for (const auto& [k, c] : x->dict) {
      visit(k);
      visit(c);
    }
  }
  return false;
}

// Putting `item` into the existing `container` must not make the container contain itself.
void check_acyclic(const Value& container, const ValuePtr& item) {
  if (reaches(item, &container)) bad("a ", kind_name(container.kind), " put inside itself is not supported");
}

class Machine {
 public:
  Machine(std::string_view data, const UnpicklerHooks& hooks) : data_(data), hooks_(hooks) {}

  ValuePtr run() {
    for (;;) {
      op_pos_ = pos_;
      op_ = 0;
      if (pos_ == data_.size()) bad("the data ends before the STOP opcode");
      op_ = read_u8();
      if (op_ == '.') break;  // STOP
      run_opcode();
    }
    if (!marks_.empty()) bad("STOP with an open MARK");
    if (stack_.size() != 1) bad("STOP with ", stack_.size(), " values on the stack, expected 1");
    return stack_.back();
  }

  size_t op_pos() const { return op_pos_; }
  uint8_t op() const { return op_; }

 private:
  // ---- input ----------------------------------------------------------------------------------
  const char* take(size_t n) {
    if (n > data_.size() - pos_) bad("truncated: needs ", n, " more bytes, ", data_.size() - pos_, " left");
    const char* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint8_t read_u8() { return static_cast<uint8_t>(*take(1)); }
  uint64_t read_le(size_t n) {  // unsigned little-endian integer of n <= 8 bytes
    const auto* p = reinterpret_cast<const uint8_t*>(take(n));
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(p[k]) << (8 * k);
    return v;
  }
  std::string read_line() {  // GLOBAL's "module\n" / "name\n"
    size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) bad("truncated: unterminated GLOBAL name");
    std::string s(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  std::string read_bytes(uint64_t n) {
    if (n > data_.size() - pos_) bad("truncated: a string of ", n, " bytes, ", data_.size() - pos_, " left");
    return std::string(take(static_cast<size_t>(n)), static_cast<size_t>(n));
  }

  // ---- stack ----------------------------------------------------------------------------------
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  ValuePtr pop() {
    if (stack_.size() <= floor()) bad("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= floor()) bad("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {  // everything above the last MARK, in push order
    if (marks_.empty()) bad("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Value& expect(ValuePtr& v, Value::Kind k, const char* what) {
    if (v->kind != k) bad(what, " needs a ", kind_name(k), ", got a ", kind_name(v->kind));
    return *v;
  }

  ValuePtr make_int(int64_t x) {
    auto v = Value::make(Value::Kind::Int);
    v->i = x;
    return v;
  }
  ValuePtr make_tuple(std::vector<ValuePtr> items) {
    auto v = Value::make(Value::Kind::Tuple);
    v->items = std::move(items);
    return v;
  }
  void push_global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!hooks_.allowed_globals.count(full)) bad("global '", full, "' is not allowed");
    auto v = Value::make(Value::Kind::Global);
    v->s = std::move(full);
    push(std::move(v));
  }
  void memo_put(uint64_t idx) { memo_[idx] = top(); }
  void memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) bad("memo entry ", idx, " was never stored");
    push(it->second);
  }
  void set_items(ValuePtr& d, std::vector<ValuePtr>& kv) {
    if (kv.size() % 2) bad("odd number of items for a dict");
    Value& dict = expect(d, Value::Kind::Dict, "SETITEM(S)");
    for (const auto& x : kv) check_acyclic(dict, x);
    for (size_t k = 0; k < kv.size(); k += 2) dict_set(dict, kv[k], kv[k + 1]);
  }

  void run_opcode();

  std::string_view data_;
  const UnpicklerHooks& hooks_;
  size_t pos_ = 0, op_pos_ = 0;
  uint8_t op_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

void Machine::run_opcode() {
  using K = Value::Kind;
  switch (op_) {
    case 0x80: {  // PROTO
      uint8_t v = read_u8();
      if (v < 2 || v > 5) bad("pickle protocol ", int(v), " is not supported (2..5 are)");
      return;
    }
    case 0x95: read_le(8); return;  // FRAME: a length hint only
    case '(': marks_.push_back(stack_.size()); return;  // MARK
    case '0': pop(); return;                            // POP
    case '1': pop_mark(); return;                       // POP_MARK
    case '2': push(top()); return;                      // DUP
    case 'N': push(Value::make(K::None)); return;
    case 0x88:
    case 0x89: {  // NEWTRUE, NEWFALSE
      auto v = Value::make(K::Bool);
      v->b = op_ == 0x88;
      v->i = v->b;
      push(std::move(v));
      return;
    }
    case 'J': push(make_int(static_cast<int32_t>(read_le(4)))); return;  // BININT
    case 'K': push(make_int(read_le(1))); return;                        // BININT1
    case 'M': push(make_int(read_le(2))); return;                        // BININT2
    case 0x8a: {  // LONG1: n-byte two's complement little-endian
      uint8_t n = read_u8();
      if (n > 8) bad("integer of ", int(n), " bytes does not fit in 64 bits");
      uint64_t u = read_le(n);
      if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t(0) << (8 * n);  // sign-extend
      push(make_int(static_cast<int64_t>(u)));
      return;
    }
    case 'G': {  // BINFLOAT: big-endian IEEE double
      const auto* p = reinterpret_cast<const uint8_t*>(take(8));
      uint64_t u = 0;
      for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
      auto v = Value::make(K::Float);
      std::memcpy(&v->f, &u, 8);
      push(std::move(v));
      return;
    }
    case 'X': push(Value::str(read_bytes(read_le(4)))); return;     // BINUNICODE
    case 0x8c: push(Value::str(read_bytes(read_le(1)))); return;    // SHORT_BINUNICODE
    case 0x8d: push(Value::str(read_bytes(read_le(8)))); return;    // BINUNICODE8
    case 'T':                                                        // BINSTRING (py2 str)
    case 'B':                                                        // BINBYTES
    case 'U':                                                        // SHORT_BINSTRING
    case 'C': {                                                      // SHORT_BINBYTES
      auto v = Value::make(K::Bytes);
      v->s = read_bytes(read_le(op_ == 'T' || op_ == 'B' ? 4 : 1));
      push(std::move(v));
      return;
    }
    case ')': push(make_tuple({})); return;  // EMPTY_TUPLE
    case 't': push(make_tuple(pop_mark())); return;  // TUPLE
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      size_t n = op_ - 0x84u;
      std::vector<ValuePtr> items(n);
      for (size_t k = n; k-- > 0;) items[k] = pop();
      push(make_tuple(std::move(items)));
      return;
    }
    case ']': push(Value::make(K::List)); return;  // EMPTY_LIST
    case 'l': {                                    // LIST
      auto v = Value::make(K::List);
      v->items = pop_mark();
      push(std::move(v));
      return;
    }
    case 'a': {  // APPEND
      ValuePtr x = pop();
      Value& list = expect(top(), K::List, "APPEND");
      check_acyclic(list, x);
      list.items.push_back(std::move(x));
      return;
    }
    case 'e': {  // APPENDS
      auto xs = pop_mark();
      Value& list = expect(top(), K::List, "APPENDS");
      for (const auto& x : xs) check_acyclic(list, x);
      list.items.insert(list.items.end(), xs.begin(), xs.end());
      return;
    }
    case '}': push(Value::make(K::Dict)); return;  // EMPTY_DICT
    case 'd': {                                    // DICT
      auto kv = pop_mark();
      auto d = Value::make(K::Dict);
      set_items(d, kv);
      push(std::move(d));
      return;
    }
    case 's': {  // SETITEM
      std::vector<ValuePtr> kv(2);
      kv[1] = pop();
      kv[0] = pop();
      set_items(top(), kv);
      return;
    }
    case 'u': {  // SETITEMS
      auto kv = pop_mark();
      set_items(top(), kv);
      return;
    }
    case 'q': memo_put(read_le(1)); return;   // BINPUT
    case 'r': memo_put(read_le(4)); return;   // LONG_BINPUT
    case 0x94: memo_put(memo_.size()); return;  // MEMOIZE
    case 'h': memo_get(read_le(1)); return;   // BINGET
    case 'j': memo_get(read_le(4)); return;   // LONG_BINGET
    case 'c': {                                // GLOBAL
      std::string module = read_line();
      std::string name = read_line();
      push_global(module, name);
      return;
    }
    case 0x93: {  // STACK_GLOBAL
      ValuePtr name = pop(), module = pop();
      if (module->kind != K::Str || name->kind != K::Str) bad("STACK_GLOBAL needs two str");
      push_global(module->s, name->s);
      return;
    }
    case 'R': {  // REDUCE: callable(*args)
      ValuePtr args = pop();
      ValuePtr fn = pop();
      expect(fn, K::Global, "REDUCE");
      expect(args, K::Tuple, "REDUCE arguments");
      if (!hooks_.reduce) bad("calling '", fn->s, "' is not supported");
      push(hooks_.reduce(fn->s, args->items));
      return;
    }
    case 'b': {  // BUILD: obj.__setstate__(state)
      ValuePtr state = pop();
      // Python sets the OrderedDict's attributes (state_dict()._metadata: per-module versions);
      // a tensor list has no use for them, so they are dropped, as weights_only allows.
      if (top()->kind != K::Dict) bad("BUILD of a ", kind_name(top()->kind), " is not supported");
      return;
    }
    case 'Q': {  // BINPERSID
      ValuePtr pid = pop();
      if (!hooks_.persistent_load) bad("persistent ids are not supported here");
      push(hooks_.persistent_load(pid));
      return;
    }
    default: bad("unsupported opcode");
  }
}

std::string opcode_name(uint8_t op) {
  if (op == 0) return "(none)";
  if (op >= 0x20 && op < 0x7f) return ::hrm::detail::concat("'", static_cast<char>(op), "' (0x", std::hex, int(op), ")");
  return ::hrm::detail::concat("0x", std::hex, int(op));
}

}  // namespace

ValuePtr unpickle(std::string_view data, const std::string& source, const UnpicklerHooks& hooks) {
  Machine m(data, hooks);
  try {
    return m.run();
  } catch (const std::exception& e) {
    HRM_THROW(FormatError, source, ": byte ", m.op_pos(), ", opcode ", opcode_name(m.op()), ": ", e.what());
  }
}

}  // namespace hrm::io::pickle
