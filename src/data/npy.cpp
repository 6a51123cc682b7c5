// npy.cpp: see npy.h. The header dict is parsed by a small recursive-descent reader of the Python
// literal numpy writes (strings, True/False, tuples of ints), so hand-edited or version 2/3 headers
// with other spacing or key order load too.
#include "data/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/atomic_file.h"
#include "core/check.h"

namespace hrm::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr int64_t kMaxElements = int64_t{1} << 50;  // far above any dataset, below size_t overflow

struct DTypeInfo {
  DType dtype;
  const char* descr;
  size_t size;
  const char* name;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::u1, "|u1", 1, "uint8"},  {DType::i1, "|i1", 1, "int8"},   {DType::b1, "|b1", 1, "bool"},
    {DType::u2, "<u2", 2, "uint16"}, {DType::i2, "<i2", 2, "int16"},  {DType::u4, "<u4", 4, "uint32"},
    {DType::i4, "<i4", 4, "int32"},  {DType::u8, "<u8", 8, "uint64"}, {DType::i8, "<i8", 8, "int64"},
};

const DTypeInfo& info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  HRM_CHECK(false, "unknown dtype");
}

// Reader of the Python dict literal in a .npy header.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  Header parse() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!peek_is('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        h.dtype = parse_descr();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (boolean()) fail("'fortran_order': False (C order); Fortran-order arrays are not supported");
        have_order = true;
      } else if (key == "shape") {
        h.shape = shape_tuple();
        have_shape = true;
      } else {
        fail("only the keys 'descr', 'fortran_order' and 'shape', found '" + key + "'");
      }
      if (!peek_is(',')) break;
      expect(',');
    }
    expect('}');
    if (!have_descr || !have_order || !have_shape)
      fail("the keys 'descr', 'fortran_order' and 'shape' in the header");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& expected) const {
    HRM_THROW(FormatError, name_, ": bad .npy header at character ", pos_, ": expected ", expected);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek_is(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek_is(c)) fail(std::string("'") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("a quoted string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) fail("a closing quote");
    std::string out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
    if (s_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
    fail("True or False");
  }
  DType parse_descr() {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] != '\'' && s_[pos_] != '"')
      fail("a simple integer dtype string (structured dtypes are not supported)");
    const std::string d = string_literal();
    if (d.size() == 3 && d[0] == '>' && d[2] != '1')
      HRM_THROW(FormatError, name_, ": big-endian dtype '", d, "' is not supported; expected little-endian (<)");
    for (const auto& i : kDTypes) {
      if (d == i.descr) return i.dtype;
      // numpy writes '|' for one-byte types, but '<' and '=' mean the same there.
      if (i.size == 1 && d.size() == 3 && (d[0] == '<' || d[0] == '=' || d[0] == '>') && d.substr(1) == std::string(i.descr + 1))
        return i.dtype;
    }
    HRM_THROW(FormatError, name_, ": unsupported dtype '", d,
              "'; expected one of |u1 |i1 |b1 <u2 <i2 <u4 <i4 <u8 <i8");
  }
  std::vector<int64_t> shape_tuple() {
    std::vector<int64_t> shape;
    expect('(');
    while (!peek_is(')')) {
      skip_space();
      const size_t start = pos_;
      int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (v > (kMaxElements - 9) / 10) fail("a dimension below 2^50");
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (pos_ == start) fail("a non-negative integer dimension");
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long suffix
      shape.push_back(v);
      if (!peek_is(',')) break;
      expect(',');
    }
    expect(')');
    return shape;
  }

  const std::string& s_;
  const std::string& name_;
  size_t pos_ = 0;
};

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string shape_repr(const std::vector<int64_t>& shape) {  // Python's repr of a tuple
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

template <typename T>
void convert(const uint8_t* src, int64_t count, int32_t* out) {
  for (int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    out[i] = static_cast<int32_t>(v);
  }
}

// Maps a file read-only; the shared_ptr unmaps it when the last Array copy goes away.
std::shared_ptr<const void> map_file(const std::string& path, size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) HRM_THROW(Error, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    HRM_THROW(Error, "cannot stat ", path, ": ", why);
  }
  size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    HRM_THROW(FormatError, path, ": empty file; expected a .npy array");
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) HRM_THROW(Error, "cannot memory-map ", path, ": ", std::strerror(err));
  return std::shared_ptr<const void>(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
}

}  // namespace

std::string descr(DType d) { return info(d).descr; }
size_t itemsize(DType d) { return info(d).size; }
std::string dtype_name(DType d) { return info(d).name; }

DType smallest_token_dtype(int64_t vocab_size) {
  HRM_CHECK(vocab_size > 0, "vocab_size must be positive, got ", vocab_size);
  if (vocab_size <= 256) return DType::u1;
  if (vocab_size <= 65536) return DType::u2;
  return DType::i4;
}

int64_t Header::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Header parse_header(const uint8_t* data, size_t size, const std::string& name) {
  if (size < kMagicLen + 2 || std::memcmp(data, kMagic, kMagicLen) != 0)
    HRM_THROW(FormatError, name, ": not a .npy file (expected the magic \\x93NUMPY at byte 0)");
  const int major = data[6];
  if (major < 1 || major > 3)
    HRM_THROW(FormatError, name, ": unsupported .npy version ", major, ".", int(data[7]), "; expected 1.0, 2.0 or 3.0");
  const int len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + static_cast<size_t>(len_bytes);
  if (size < prefix) HRM_THROW(FormatError, name, ": truncated .npy header (file has ", size, " bytes)");
  const size_t hlen = read_le(data + kMagicLen + 2, len_bytes);
  if (size < prefix + hlen)
    HRM_THROW(FormatError, name, ": truncated .npy header: expected ", prefix + hlen, " bytes, file has ", size);
  const std::string text(reinterpret_cast<const char*>(data + prefix), hlen);
  Header h = HeaderParser(text, name).parse();
  h.version = major;
  h.data_offset = prefix + hlen;
  int64_t n = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && n > kMaxElements / d) HRM_THROW(FormatError, name, ": shape ", shape_repr(h.shape), " is too large");
    n *= d;
  }
  return h;
}

std::string make_header(DType dtype, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + descr(dtype) + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  // numpy leaves room for the first axis to grow to 21 digits (in-place appends); we rely on it too.
  if (!shape.empty()) dict += std::string(21 - std::to_string(shape[0]).size(), ' ');
  const size_t hlen = dict.size() + 1;  // + '\n'
  const size_t padlen = 64 - ((kMagicLen + 2 + 2 + hlen) % 64);
  HRM_CHECK(hlen + padlen <= 65535, "npy header too long for version 1.0");
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  const size_t total = hlen + padlen;
  out += static_cast<char>(total & 0xff);
  out += static_cast<char>((total >> 8) & 0xff);
  out += dict + std::string(padlen, ' ') + "\n";
  return out;
}

Array Array::load(const std::string& path) {
  Array a;
  a.name_ = path;
  size_t size = 0;
  a.storage_ = map_file(path, size);
  const auto* base = static_cast<const uint8_t*>(a.storage_.get());
  a.header_ = parse_header(base, size, path);
  const size_t want = a.header_.data_offset + a.header_.data_bytes();
  if (size != want)
    HRM_THROW(FormatError, path, ": ", size < want ? "truncated" : "size mismatch", ": shape ", shape_repr(a.header_.shape),
              " of ", descr(a.header_.dtype), " needs ", want, " bytes, file has ", size);
  a.data_ = base + a.header_.data_offset;
  return a;
}

Array Array::from_bytes(std::string bytes, const std::string& name) {
  Array a;
  a.name_ = name;
  auto owned = std::make_shared<std::string>(std::move(bytes));
  const auto* base = reinterpret_cast<const uint8_t*>(owned->data());
  a.header_ = parse_header(base, owned->size(), name);
  const size_t want = a.header_.data_offset + a.header_.data_bytes();
  if (owned->size() != want)
    HRM_THROW(FormatError, name, ": ", owned->size() < want ? "truncated" : "size mismatch", ": shape ",
              shape_repr(a.header_.shape), " of ", descr(a.header_.dtype), " needs ", want, " bytes, got ", owned->size());
  a.data_ = base + a.header_.data_offset;
  a.storage_ = std::shared_ptr<const void>(owned, owned->data());
  return a;
}

void Array::read_int32(int64_t start, int64_t count, int32_t* out) const {
  HRM_CHECK(start >= 0 && count >= 0 && start + count <= numel(), name_, ": element range [", start, ", ", start + count,
            ") outside ", numel(), " elements");
  const uint8_t* src = data_ + static_cast<size_t>(start) * itemsize(dtype());
  switch (dtype()) {
    case DType::u1: return convert<uint8_t>(src, count, out);
    case DType::i1: return convert<int8_t>(src, count, out);
    case DType::b1: return convert<uint8_t>(src, count, out);
    case DType::u2: return convert<uint16_t>(src, count, out);
    case DType::i2: return convert<int16_t>(src, count, out);
    case DType::u4: return convert<uint32_t>(src, count, out);
    case DType::i4: return convert<int32_t>(src, count, out);
    case DType::u8: return convert<uint64_t>(src, count, out);
    case DType::i8: return convert<int64_t>(src, count, out);
  }
}

int64_t Array::at(int64_t i) const {
  HRM_CHECK(i >= 0 && i < numel(), name_, ": index ", i, " outside ", numel(), " elements");
  const uint8_t* p = data_ + static_cast<size_t>(i) * itemsize(dtype());
  auto get = [p](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return static_cast<int64_t>(v);
  };
  switch (dtype()) {
    case DType::u1: return get(uint8_t{});
    case DType::i1: return get(int8_t{});
    case DType::b1: return get(uint8_t{});
    case DType::u2: return get(uint16_t{});
    case DType::i2: return get(int16_t{});
    case DType::u4: return get(uint32_t{});
    case DType::i4: return get(int32_t{});
    case DType::u8: return get(uint64_t{});
    case DType::i8: return get(int64_t{});
  }
  return 0;
}

std::vector<int32_t> Array::to_int32() const {
  std::vector<int32_t> v(static_cast<size_t>(numel()));
  read_int32(0, numel(), v.data());
  return v;
}

std::vector<int64_t> Array::to_int64() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = at(i);
  return v;
}

void save(const std::string& path, DType dtype, const std::vector<int64_t>& shape, const void* data) {
  Header h;
  h.dtype = dtype;
  h.shape = shape;
  std::string bytes = make_header(dtype, shape);
  bytes.append(static_cast<const char*>(data), h.data_bytes());
  write_file_atomic(path, bytes);
}

void save_int32(const std::string& path, const std::vector<int32_t>& values) {
  save(path, DType::i4, {static_cast<int64_t>(values.size())}, values.data());
}

// ---- RowWriter ----------------------------------------------------------------------------

RowWriter::RowWriter(const std::string& path, DType dtype, std::vector<int64_t> row_shape)
    : path_(path), dtype_(dtype), row_shape_(std::move(row_shape)) {
  for (int64_t d : row_shape_) row_elems_ *= d;
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) HRM_THROW(Error, "cannot open ", path_, " for writing: ", std::strerror(errno));
  std::vector<int64_t> shape{0};
  shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
  const std::string header = make_header(dtype_, shape);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
}

RowWriter::~RowWriter() = default;

void RowWriter::append_raw(const void* data, int64_t rows) {
  HRM_CHECK(!finished_, path_, ": append after finish");
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(rows * row_elems_ * itemsize(dtype_)));
  if (!out_) HRM_THROW(Error, "cannot write ", path_, ": ", std::strerror(errno));
  rows_ += rows;
}

void RowWriter::append_int32(const int32_t* values, int64_t rows) {
  const int64_t n = rows * row_elems_;
  scratch_.resize(static_cast<size_t>(n) * itemsize(dtype_));
  auto narrow = [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      const int32_t v = values[i];
      if (static_cast<int64_t>(v) < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          static_cast<int64_t>(v) > static_cast<int64_t>(std::numeric_limits<T>::max()))
        HRM_THROW(Error, path_, ": value ", v, " does not fit dtype ", dtype_name(dtype_));
      const T t = static_cast<T>(v);
      std::memcpy(scratch_.data() + static_cast<size_t>(i) * sizeof(T), &t, sizeof(T));
    }
  };
  switch (dtype_) {
    case DType::u1: narrow(uint8_t{}); break;
    case DType::i1: narrow(int8_t{}); break;
    case DType::b1: narrow(bool{}); break;
    case DType::u2: narrow(uint16_t{}); break;
    case DType::i2: narrow(int16_t{}); break;
    case DType::u4: narrow(uint32_t{}); break;
    case DType::i4: narrow(int32_t{}); break;
    case DType::u8: narrow(uint64_t{}); break;
    case DType::i8: narrow(int64_t{}); break;
  }
  append_raw(scratch_.data(), rows);
}

void RowWriter::finish() {
  HRM_CHECK(!finished_, path_, ": finish twice");
  std::vector<int64_t> shape{rows_};
  shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
  const std::string header = make_header(dtype_, shape);
  HRM_CHECK(header.size() == make_header(dtype_, [&] { auto s = shape; s[0] = 0; return s; }()).size(),
            "npy header length changed");
  out_.seekp(0);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
  out_.close();
  if (!out_) HRM_THROW(Error, "cannot write ", path_, ": ", std::strerror(errno));
  finished_ = true;
}

}  // namespace hrm::npy
