// pickler.h: writes the protocol-2 pickle opcodes that torch.save uses for a state dict.
// Mirrors the output of Python's pickle.Pickler(protocol=2) as driven by torch/serialization.py
// (_save); no reference HRM file. Differs: it is an opcode emitter, not an object serialiser: the
// caller (torch_file.cpp) issues the opcodes in the order Python's pickler would.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace hrm::io::pickle {

class Pickler {
 public:
  Pickler();  // writes PROTO 2

  void mark();
  void none();
  void boolean(bool v);
  void integer(int64_t v);   // BININT1 / BININT2 / BININT / LONG1, as Python picks
  void str(const std::string& utf8);  // BINUNICODE
  void global(const std::string& module, const std::string& name);  // memoised: GLOBAL once, then BINGET
  // A tuple of n items: tuple_begin(n), push the n items, tuple_end(n) (MARK ... TUPLE only for n > 3).
  void tuple_begin(size_t n);
  void tuple_end(size_t n);
  void empty_dict();
  void setitems();           // pairs since the last MARK
  void reduce();
  void binpersid();
  std::string finish();      // writes STOP; returns the pickle

 private:
  void op(uint8_t code) { out_.push_back(static_cast<char>(code)); }
  void le(uint64_t v, int bytes);
  std::string out_;
  std::map<std::string, uint32_t> memo_;  // global name -> memo index
};

}  // namespace hrm::io::pickle
