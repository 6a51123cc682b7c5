// test_unpickler.cpp: src/io/unpickler.cpp and src/io/pickler.cpp on pickles made by CPython.
// The hex strings below are CPython 3.11's pickle.dumps(v, protocol=2 / 4) of
// v = {'a': [1, 2.5, None, True, False, 'xé'], 'b': (1, 2, 3, 4), 'c': (), 'd': (7,), 'e': -3,
//      'f': 2**40, 'g': -2**63, 'i': {'n': {}}, 'j': 70000, 'k': -1.5e300}  (+ 'h': b'\x00\x01' in protocol 4)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/check.h"
#include "io/pickler.h"
#include "io/unpickler.h"

namespace hrm::io::pickle {
namespace {

using Kind = Value::Kind;
using namespace std::string_literals;  // "..."s keeps the NUL bytes of a pickle

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t k = 0; k + 1 < hex.size(); k += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16)));
  return out;
}

const char* kProto2 =
    "80027d71002858010000006171015d7102284b014740040000000000004e8889580300000078c3a97103655801000000627104284b014b024b"
    "034b0474710558010000006371062958010000006471074b0785710858010000006571094afdffffff580100000066710a8a060000000000"
    "01580100000067710b8a080000000000000080580100000069710c7d710d58010000006e710e7d710f7358010000006a71104a7011010058"
    "010000006b711147fe41eb2d66005835752e";
const char* kProto4 =
    "8004958c000000000000007d94288c0161945d94284b014740040000000000004e88898c0378c3a994658c016294284b014b024b034b04"
    "74948c016394298c0164944b0785948c0165944afdffffff8c0166948a060000000000018c0167948a0800000000000000808c0169947d94"
    "8c016e947d94738c016a944a701101008c016b9447fe41eb2d660058358c0168944302000194752e";

const ValuePtr& get(const ValuePtr& dict, const std::string& key) {
  for (const auto& kv : dict->dict)
    if (kv.first->kind == Kind::Str && kv.first->s == key) return kv.second;
  throw std::runtime_error("no key " + key);
}

void expect_common_values(const ValuePtr& v) {
  ASSERT_EQ(v->kind, Kind::Dict);
  const auto& a = get(v, "a");
  ASSERT_EQ(a->kind, Kind::List);
  ASSERT_EQ(a->items.size(), 6u);
  EXPECT_EQ(a->items[0]->i, 1);
  EXPECT_EQ(a->items[1]->f, 2.5);
  EXPECT_EQ(a->items[2]->kind, Kind::None);
  EXPECT_TRUE(a->items[3]->b);
  EXPECT_FALSE(a->items[4]->b);
  EXPECT_EQ(a->items[5]->s, "x\xc3\xa9");
  ASSERT_EQ(get(v, "b")->items.size(), 4u);
  EXPECT_EQ(get(v, "b")->items[3]->i, 4);
  EXPECT_EQ(get(v, "c")->kind, Kind::Tuple);
  EXPECT_TRUE(get(v, "c")->items.empty());
  EXPECT_EQ(get(v, "d")->items.at(0)->i, 7);
  EXPECT_EQ(get(v, "e")->i, -3);
  EXPECT_EQ(get(v, "f")->i, int64_t(1) << 40);
  EXPECT_EQ(get(v, "g")->i, INT64_MIN);
  EXPECT_EQ(get(get(v, "i"), "n")->kind, Kind::Dict);
  EXPECT_EQ(get(v, "j")->i, 70000);
  EXPECT_EQ(get(v, "k")->f, -1.5e300);
}

TEST(Unpickler, ReadsCPythonProtocol2Pickle) {
  ValuePtr v = unpickle(unhex(kProto2), "proto2", {});
  expect_common_values(v);
  EXPECT_EQ(v->dict.size(), 10u);
}

TEST(Unpickler, ReadsCPythonProtocol4PickleWithFramesAndMemoize) {
  ValuePtr v = unpickle(unhex(kProto4), "proto4", {});
  expect_common_values(v);
  EXPECT_EQ(get(v, "h")->kind, Kind::Bytes);
  EXPECT_EQ(get(v, "h")->s, std::string("\x00\x01", 2));
}

TEST(Unpickler, UnknownOpcodeNamesSourceOpcodeAndOffset) {
  try {
    unpickle(std::string("\x80\x02}\xff.", 5), "x.pt: data.pkl", {});
    FAIL() << "no error";
  } catch (const FormatError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("x.pt: data.pkl"), std::string::npos) << m;
    EXPECT_NE(m.find("byte 3"), std::string::npos) << m;
    EXPECT_NE(m.find("0xff"), std::string::npos) << m;
  }
}

TEST(Unpickler, GlobalOutsideTheAllowListIsRejectedWithItsName) {
  try {
    unpickle("\x80\x02" "cos\nsystem\n.", "evil.pkl", {});
    FAIL() << "no error";
  } catch (const FormatError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("os.system"), std::string::npos) << m;
    EXPECT_NE(m.find("byte 2"), std::string::npos) << m;
  }
}

TEST(Unpickler, TruncatedOrUnbalancedPicklesAreFormatErrors) {
  std::string good = unhex(kProto2);
  for (size_t len : {size_t(0), size_t(1), size_t(2), size_t(7), good.size() / 2, good.size() - 1})
    EXPECT_THROW(unpickle(good.substr(0, len), "cut", {}), FormatError) << "length " << len;
  EXPECT_THROW(unpickle("\x80\x02(.", "open mark", {}), FormatError);
  EXPECT_THROW(unpickle("\x80\x02NN.", "two values", {}), FormatError);
  EXPECT_THROW(unpickle("\x80\x02h\x05.", "unset memo", {}), FormatError);
  EXPECT_THROW(unpickle("\x80\x02s.", "underflow", {}), FormatError);
}

// One TUPLE1 opcode per level nests 300,000 deep in 300 KB: freeing that recursively would
// overflow the stack (a crash on a bad checkpoint).
TEST(Unpickler, DeeplyNestedContainersAreFreedWithoutRecursion) {
  const std::string pkl = std::string("\x80\x02)") + std::string(300'000, '\x85') + ".";
  ValuePtr v = unpickle(pkl, "deep.pkl", {});
  ASSERT_EQ(v->kind, Kind::Tuple);
  ASSERT_EQ(v->items.size(), 1u);
  v.reset();  // must return
}

// Python can pickle a list or dict holding itself; shared references could never free one, and no
// state dict has one.
TEST(Unpickler, AContainerPutInsideItselfIsAFormatError) {
  for (const std::string& pkl : {"\x80\x02]2a."s,                  // l.append(l)
                                 "\x80\x02]q\x00(h\x00" "e."s,     // l.extend([l])
                                 "\x80\x02}q\x00K\x01h\x00s."s,   // d[1] = d
                                 "\x80\x02}q\x00(h\x00K\x01u."s,  // d[d] = 1, SETITEMS
                                 "\x80\x02]q\x00]h\x00" "aa."s,     // l.append([l]) through the memo
                                 "\x80\x02]q\x00(h\x00" "ta."s,     // l.append((l,)): through a tuple
                                 "\x80\x02]2a0N."s}) {              // a cycle made, then dropped from the stack
    try {
      unpickle(pkl, "cycle.pkl", {});
      FAIL() << "no error for " << pkl.size() << " bytes";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("inside itself"), std::string::npos) << e.what();
    }
  }
  // Sharing without a cycle stays allowed (Python's memo does this): [[], []] with the same inner list.
  ValuePtr v = unpickle("\x80\x02](]q\x00h\x00" "e."s, "shared.pkl", {});
  ASSERT_EQ(v->items.size(), 2u);
  EXPECT_EQ(v->items[0], v->items[1]);
}

// Assigning a key twice keeps one entry with the last value, as Python's dict: {'a': 1, 'a': 2} and
// {1: 'x', True: 'y'} (1 == True in Python) each have one key.
TEST(Unpickler, ARepeatedKeyReplacesItsValueAsInPython) {
  ValuePtr d = unpickle("\x80\x02}(X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "aK\x02u."s, "dup.pkl", {});
  ASSERT_EQ(d->dict.size(), 1u);
  EXPECT_EQ(d->dict[0].second->i, 2);
  d = unpickle("\x80\x02}(K\x01X\x01\x00\x00\x00x\x88X\x01\x00\x00\x00yu."s, "bool.pkl", {});
  ASSERT_EQ(d->dict.size(), 1u);
  EXPECT_EQ(d->dict[0].second->s, "y");
}

// Pickler output must be byte-identical to CPython's for what it emits (values from pickle.dumps(v, 2)).
TEST(Pickler, IntegersUseTheSameOpcodesAsCPython) {
  struct Case {
    int64_t v;
    const char* hex;  // pickle.dumps(v, 2) without the PROTO header and STOP
  };
  const Case cases[] = {
      {0, "4b00"},           {255, "4bff"},           {256, "4d0001"},       {65535, "4dffff"},
      {65536, "4a00000100"}, {-1, "4affffffff"},       {2147483647, "4affffff7f"},
      {2147483648LL, "8a050000008000"},                 {-2147483649LL, "8a05ffffff7fff"},
      {int64_t(1) << 40, "8a06000000000001"},           {INT64_MIN, "8a080000000000000080"},
      {INT64_MAX, "8a08ffffffffffffff7f"},              {-129, "4a7fffffff"},
  };
  for (const auto& c : cases) {
    Pickler p;
    p.integer(c.v);
    EXPECT_EQ(p.finish(), unhex(std::string("8002") + c.hex + "2e")) << c.v;
  }
}

TEST(Pickler, OutputRoundTripsThroughTheUnpickler) {
  Pickler p;
  p.empty_dict();
  p.mark();
  p.str("t");
  p.tuple_begin(5);
  for (int64_t v : std::vector<int64_t>{1, -2, 300, 1LL << 33, -(1LL << 50)}) p.integer(v);
  p.tuple_end(5);
  p.str("b");
  p.boolean(true);
  p.str("n");
  p.none();
  p.setitems();
  ValuePtr v = unpickle(p.finish(), "mine", {});
  ASSERT_EQ(v->dict.size(), 3u);
  const auto& t = v->dict[0].second->items;
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[3]->i, 1LL << 33);
  EXPECT_EQ(t[4]->i, -(1LL << 50));
  EXPECT_TRUE(v->dict[1].second->b);
  EXPECT_EQ(v->dict[2].second->kind, Kind::None);
}

}  // namespace
}  // namespace hrm::io::pickle
