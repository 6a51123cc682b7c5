// npy.h: NumPy .npy files, read (memory-mapped) and written (whole or streamed by rows).
// Mirrors what the reference does with np.load(mmap_mode="r") and np.save (numpy/lib/format.py):
// header versions 1.0, 2.0 and 3.0 are read; the writer emits exactly numpy's bytes for version 1.0
// (the dict in sorted key order, 21-digit growth room for the first axis, padding to 64 bytes),
// so the data of a small array starts at byte 128 as in the reference's datasets.
// Differs: only the integer dtypes the reference's datasets use (|u1 |i1 |b1 <u2 <i2 <u4 <i4 <u8 <i8)
// and C order; anything else is a FormatError naming the file and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace hrm::npy {

enum class DType { u1, i1, b1, u2, i2, u4, i4, u8, i8 };

std::string descr(DType dtype);        // "|u1", "<i4", ...
size_t itemsize(DType dtype);          // bytes per element
std::string dtype_name(DType dtype);   // "uint8", "int32", ... (numpy's names, for messages)
// The smallest unsigned dtype that holds tokens 0..vocab_size-1 (uint8 for vocab <= 256).
DType smallest_token_dtype(int64_t vocab_size);

struct Header {
  DType dtype = DType::u1;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // bytes from the start of the file to the first element
  int version = 1;         // major version: 1, 2 or 3
  int64_t numel() const;
  size_t data_bytes() const { return static_cast<size_t>(numel()) * itemsize(dtype); }
};

// Parses the magic, version and header dict of a .npy image of `size` bytes (only the header
// needs to be present). `name` is the file name used in error messages.
Header parse_header(const uint8_t* data, size_t size, const std::string& name);

// numpy's version-1.0 header bytes for (dtype, shape), C order (magic included).
std::string make_header(DType dtype, const std::vector<int64_t>& shape);

// A read-only array: memory-mapped from a file or owning a copy of an in-memory image.
class Array {
 public:
  Array() = default;
  static Array load(const std::string& path);  // memory-mapped, read-only
  static Array from_bytes(std::string bytes, const std::string& name);  // parses a whole .npy image

  const Header& header() const { return header_; }
  DType dtype() const { return header_.dtype; }
  const std::vector<int64_t>& shape() const { return header_.shape; }
  int64_t numel() const { return header_.numel(); }
  int64_t dim(size_t i) const { return header_.shape.at(i); }
  const std::string& name() const { return name_; }
  const uint8_t* raw() const { return data_; }  // first element

  int64_t at(int64_t flat_index) const;  // element converted to int64 (u8 above 2^63 wraps)
  // Elements [start, start+count) converted to int32 as numpy's astype(np.int32) (wrapping).
  void read_int32(int64_t start, int64_t count, int32_t* out) const;
  std::vector<int32_t> to_int32() const;
  std::vector<int64_t> to_int64() const;

 private:
  Header header_;
  std::string name_;
  std::shared_ptr<const void> storage_;  // the mapping or the owned bytes
  const uint8_t* data_ = nullptr;
};

// Writes a whole array atomically (temporary file, then rename). `data` holds numel elements of dtype.
void save(const std::string& path, DType dtype, const std::vector<int64_t>& shape, const void* data);
void save_int32(const std::string& path, const std::vector<int32_t>& values);  // 1-D <i4

// Streams rows of shape row_shape to `path`; the first axis is counted as rows are appended and
// the header rewritten at finish() (numpy's growth room keeps its length fixed). Not atomic by
// itself: DatasetWriter writes into a temporary directory.
class RowWriter {
 public:
  RowWriter(const std::string& path, DType dtype, std::vector<int64_t> row_shape);
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // Appends `rows` rows given as int32 tokens (range-checked against the dtype) or raw bytes of dtype.
  void append_int32(const int32_t* values, int64_t rows);
  void append_raw(const void* data, int64_t rows);
  int64_t rows() const { return rows_; }
  void finish();  // rewrites the header with the final row count and closes the file

 private:
  std::string path_;
  DType dtype_;
  std::vector<int64_t> row_shape_;
  int64_t row_elems_ = 1;
  int64_t rows_ = 0;
  std::ofstream out_;
  std::vector<uint8_t> scratch_;
  bool finished_ = false;
};

}  // namespace hrm::npy
