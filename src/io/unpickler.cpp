// unpickler.cpp: the pickle virtual machine of unpickler.h.
// Opcode semantics follow CPython's Lib/pickle.py (_Unpickler.load_*); only the protocol 0-5 opcodes
// that carry no arbitrary Python code are implemented (see `run_opcode`), text-mode ones are not.
#include "io/unpickler.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>

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

// A dict key as Python compares it: str and int by value (True == 1, as in Python), any other key by
// identity (all a torch file needs).
std::string key_of(const ValuePtr& k) {
  if (k->kind == Value::Kind::Str) return "s" + k->s;
  if (k->kind == Value::Kind::Int || k->kind == Value::Kind::Bool) return "i" + std::to_string(k->i);
  return "p" + std::to_string(reinterpret_cast<uintptr_t>(k.get()));
}

bool is_container(const Value& v) {
  return v.kind == Value::Kind::Tuple || v.kind == Value::Kind::List || v.kind == Value::Kind::Dict;
}

// The k-th child of a container: its items, then each dict entry's key and value.
const Value* child(const Value& v, size_t k) {
  if (k < v.items.size()) return v.items[k].get();
  k -= v.items.size();
  if (k / 2 < v.dict.size()) return k % 2 == 0 ? v.dict[k / 2].first.get() : v.dict[k / 2].second.get();
  return nullptr;
}

// A container that holds itself, directly or below, among `roots` (depth-first, iterative, each
// container visited once: linear in the pickle's size); nullptr when there is none.
const Value* find_cycle(const std::vector<const Value*>& roots) {
  enum Color : char { kOpen = 1, kDone = 2 };
  std::unordered_map<const Value*, char> color;
  std::vector<std::pair<const Value*, size_t>> path;
  for (const Value* root : roots) {
    if (color.count(root)) continue;
    color[root] = kOpen;
    path.emplace_back(root, 0);
    while (!path.empty()) {
      auto& [v, next] = path.back();
      const Value* c = child(*v, next++);
      if (!c) {
        color[v] = kDone;
        path.pop_back();
      } else if (is_container(*c)) {
        const auto it = color.find(c);
        if (it == color.end()) {
          color[c] = kOpen;
          path.emplace_back(c, 0);
        } else if (it->second == kOpen) {
          return c;
        }
      }
    }
  }
  return nullptr;
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

  // At the end: refuse a container that holds itself (Python allows it; shared references could never
  // free it, and no state dict has one).
  void check_acyclic() const {
    std::vector<const Value*> alive;
    for (const auto& w : containers_)
      if (const auto v = w.lock()) alive.push_back(v.get());
    if (const Value* v = find_cycle(alive)) bad("a ", kind_name(v->kind), " put inside itself is not supported");
  }
  // After an error: empty every container, so that a cycle among them is freed too.
  void break_cycles() {
    stack_.clear();
    memo_.clear();
    dict_index_.clear();
    for (const auto& w : containers_)
      if (const auto v = w.lock()) {
        v->items.clear();
        v->dict.clear();
      }
  }

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
    auto v = make_container(Value::Kind::Tuple);
    v->items = std::move(items);
    return v;
  }
  // Every container is registered, so that a cycle the data builds is found, and broken, at the end.
  ValuePtr make_container(Value::Kind k) { return track(Value::make(k)); }
  ValuePtr track(ValuePtr v) {
    if (is_container(*v)) containers_.push_back(v);
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
  // Python-style assignment: an existing key's value is replaced (found through an index per dict,
  // so that n keys cost n steps, not n^2).
  void set_items(ValuePtr& d, std::vector<ValuePtr>& kv) {
    if (kv.size() % 2) bad("odd number of items for a dict");
    Value& dict = expect(d, Value::Kind::Dict, "SETITEM(S)");
    auto& index = dict_index_[&dict];
    if (!index.owner) {  // first assignment into this dict: it may hold DICT's items already
      index.owner = d;
      for (size_t e = 0; e < dict.dict.size(); ++e) index.position[key_of(dict.dict[e].first)] = e;
    }
    for (size_t k = 0; k < kv.size(); k += 2) {
      const auto [at, added] = index.position.emplace(key_of(kv[k]), dict.dict.size());
      if (added)
        dict.dict.emplace_back(kv[k], kv[k + 1]);
      else
        dict.dict[at->second].second = kv[k + 1];
    }
  }

  void run_opcode();

  std::string_view data_;
  const UnpicklerHooks& hooks_;
  size_t pos_ = 0, op_pos_ = 0;
  uint8_t op_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::vector<std::weak_ptr<Value>> containers_;
  struct DictIndex {
    ValuePtr owner;  // keeps the dict, and so its address, alive as long as the index
    std::unordered_map<std::string, size_t> position;
  };
  std::unordered_map<const Value*, DictIndex> dict_index_;
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
    case ']': push(make_container(K::List)); return;  // EMPTY_LIST
    case 'l': {                                    // LIST
      auto v = make_container(K::List);
      v->items = pop_mark();
      push(std::move(v));
      return;
    }
    case 'a': {  // APPEND
      ValuePtr x = pop();
      expect(top(), K::List, "APPEND").items.push_back(std::move(x));
      return;
    }
    case 'e': {  // APPENDS
      auto xs = pop_mark();
      auto& list = expect(top(), K::List, "APPENDS").items;
      list.insert(list.end(), xs.begin(), xs.end());
      return;
    }
    case '}': push(make_container(K::Dict)); return;  // EMPTY_DICT
    case 'd': {                                    // DICT
      auto kv = pop_mark();
      auto d = make_container(K::Dict);
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
      push(track(hooks_.reduce(fn->s, args->items)));
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
      push(track(hooks_.persistent_load(pid)));
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
    ValuePtr root = m.run();
    m.check_acyclic();
    return root;
  } catch (const std::exception& e) {
    m.break_cycles();
    HRM_THROW(FormatError, source, ": byte ", m.op_pos(), ", opcode ", opcode_name(m.op()), ": ", e.what());
  }
}

}  // namespace hrm::io::pickle
