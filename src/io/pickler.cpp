// pickler.cpp: protocol-2 opcode emitter (see pickler.h). Opcode choices follow CPython's
// Lib/pickle.py (_Pickler.save_long, save_str, save_tuple), so our data.pkl reads like Python's.
#include "io/pickler.h"

#include "core/check.h"

namespace hrm::io::pickle {

Pickler::Pickler() {
  op(0x80);  // PROTO
  op(2);
}

void Pickler::le(uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) out_.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

void Pickler::mark() { op('('); }
void Pickler::none() { op('N'); }
void Pickler::boolean(bool v) { op(v ? 0x88 : 0x89); }  // NEWTRUE / NEWFALSE

void Pickler::integer(int64_t v) {
  if (v >= 0 && v <= 0xff) {
    op('K');  // BININT1
    le(static_cast<uint64_t>(v), 1);
  } else if (v >= 0 && v <= 0xffff) {
    op('M');  // BININT2
    le(static_cast<uint64_t>(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');  // BININT
    le(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
  } else {
    // LONG1: the shortest two's complement little-endian encoding, as pickle.encode_long.
    uint8_t n = 8;
    while (n > 1) {
      int64_t shifted = v >> (8 * (n - 1) - 1);  // the top byte and the sign bit of the next
      if (shifted != 0 && shifted != -1) break;
      --n;
    }
    op(0x8a);
    op(n);
    le(static_cast<uint64_t>(v), n);
  }
}

void Pickler::str(const std::string& utf8) {
  op('X');  // BINUNICODE
  le(utf8.size(), 4);
  out_ += utf8;
}

void Pickler::global(const std::string& module, const std::string& name) {
  std::string key = module + "\n" + name + "\n";
  auto it = memo_.find(key);
  if (it != memo_.end()) {
    if (it->second < 256) {
      op('h');  // BINGET
      le(it->second, 1);
    } else {
      op('j');  // LONG_BINGET
      le(it->second, 4);
    }
    return;
  }
  op('c');  // GLOBAL
  out_ += key;
  uint32_t idx = static_cast<uint32_t>(memo_.size());
  memo_[key] = idx;
  if (idx < 256) {
    op('q');  // BINPUT
    le(idx, 1);
  } else {
    op('r');  // LONG_BINPUT
    le(idx, 4);
  }
}

void Pickler::tuple_begin(size_t n) {
  if (n > 3) mark();
}

void Pickler::tuple_end(size_t n) {
  if (n == 0) return op(')');                             // EMPTY_TUPLE
  if (n <= 3) return op(static_cast<uint8_t>(0x84 + n));  // TUPLE1..3
  op('t');                                                // TUPLE (from MARK)
}

void Pickler::empty_dict() { op('}'); }
void Pickler::setitems() { op('u'); }
void Pickler::reduce() { op('R'); }
void Pickler::binpersid() { op('Q'); }

std::string Pickler::finish() {
  op('.');  // STOP
  return std::move(out_);
}

}  // namespace hrm::io::pickle
