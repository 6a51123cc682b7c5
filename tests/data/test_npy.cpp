// test_npy.cpp: tests src/data/npy.cpp: numpy-identical headers, dtype round trips, streamed rows,
// header versions 1-3, and a FormatError naming the file for every kind of bad input. The numpy
// interop tests run the venv's Python (they fail, not skip, when it is missing).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/npy.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::npy {
namespace {

namespace fs = std::filesystem;

using hrm::testing::temp_dir;

std::string python() {
  const char* venv = std::getenv("HRM_VENV");
  return std::string(venv ? venv : std::string(std::getenv("HOME")) + "/.cache/hrm/venv") + "/bin/python";
}

// Runs a Python script with numpy; returns its exit status (the script asserts).
int run_python(const fs::path& dir, const std::string& script) {
  EXPECT_TRUE(fs::exists(python())) << "the interop tests need numpy in " << python() << " (set HRM_VENV)";
  write_file_atomic((dir / "check.py").string(), script);
  return std::system((python() + " " + (dir / "check.py").string()).c_str());
}

using hrm::testing::error_of;

TEST(Npy, HeaderMatchesNumpyLayoutWithDataAt128) {
  const std::string h = make_header(DType::u1, {48, 900});
  EXPECT_EQ(h.size(), 128u);
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(h.find("{'descr': '|u1', 'fortran_order': False, 'shape': (48, 900), }"), std::string::npos);
  EXPECT_EQ(h.back(), '\n');
  EXPECT_EQ(make_header(DType::i4, {7}).size(), 128u);
  EXPECT_NE(make_header(DType::i4, {7}).find("'shape': (7,)"), std::string::npos);
  // A many-dimensional shape needs more than 128 bytes: still a multiple of 64.
  const std::string big = make_header(DType::i8, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  EXPECT_GT(big.size(), 128u);
  EXPECT_EQ(big.size() % 64, 0u);
}

TEST(Npy, HeaderLengthDoesNotDependOnRowCount) {
  EXPECT_EQ(make_header(DType::u1, {0, 900}).size(), make_header(DType::u1, {123456789012LL, 900}).size());
}

TEST(Npy, EveryDtypeRoundTripsThroughSaveAndLoad) {
  const fs::path dir = temp_dir("roundtrip");
  for (DType d : {DType::u1, DType::i1, DType::b1, DType::u2, DType::i2, DType::u4, DType::i4, DType::u8, DType::i8}) {
    std::vector<int32_t> values = {0, 1, 1, 0, 1, 0};
    if (d != DType::b1) values = {0, 1, 2, 3, 100, 127};
    std::vector<uint8_t> raw(values.size() * itemsize(d));
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t v = values[i];
      std::memcpy(raw.data() + i * itemsize(d), &v, itemsize(d));  // little-endian low bytes
    }
    const std::string path = (dir / (dtype_name(d) + ".npy")).string();
    save(path, d, {2, 3}, raw.data());
    const Array a = Array::load(path);
    EXPECT_EQ(a.dtype(), d);
    EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.header().data_offset, 128u);
    EXPECT_EQ(a.to_int32(), values) << dtype_name(d);
  }
  fs::remove_all(dir);
}

TEST(Npy, SignedValuesConvertLikeNumpyAstype) {
  const fs::path dir = temp_dir("signed");
  const int16_t v[3] = {-5, 300, -32768};
  save((dir / "a.npy").string(), DType::i2, {3}, v);
  EXPECT_EQ(Array::load((dir / "a.npy").string()).to_int32(), (std::vector<int32_t>{-5, 300, -32768}));
  const int64_t w[2] = {int64_t{1} << 32 | 7, -1};  // astype(int32) keeps the low 32 bits
  save((dir / "b.npy").string(), DType::i8, {2}, w);
  EXPECT_EQ(Array::load((dir / "b.npy").string()).to_int32(), (std::vector<int32_t>{7, -1}));
  EXPECT_EQ(Array::load((dir / "b.npy").string()).at(0), (int64_t{1} << 32) | 7);
  fs::remove_all(dir);
}

TEST(Npy, RowWriterStreamsRowsAndEqualsWholeArraySave) {
  const fs::path dir = temp_dir("rows");
  std::vector<int32_t> all;
  {
    RowWriter w((dir / "stream.npy").string(), DType::u2, {3});
    for (int r = 0; r < 1000; ++r) {
      const int32_t row[3] = {r, r * 2, 65535 - r};
      all.insert(all.end(), row, row + 3);
      w.append_int32(row, 1);
    }
    w.finish();
  }
  std::vector<uint16_t> u(all.begin(), all.end());
  save((dir / "whole.npy").string(), DType::u2, {1000, 3}, u.data());
  EXPECT_EQ(read_file((dir / "stream.npy").string()), read_file((dir / "whole.npy").string()));
  EXPECT_EQ(Array::load((dir / "stream.npy").string()).to_int32(), all);
  fs::remove_all(dir);
}

TEST(Npy, RowWriterRejectsValuesOutsideTheDtype) {
  const fs::path dir = temp_dir("range");
  RowWriter w((dir / "x.npy").string(), DType::u1, {2});
  const int32_t bad[2] = {1, 256};
  EXPECT_THROW(w.append_int32(bad, 1), Error);
  fs::remove_all(dir);
}

TEST(Npy, ReadsHeaderVersions2And3) {
  for (int version : {2, 3}) {
    std::string dict = "{'shape': (2,), 'fortran_order': False, 'descr': '<i4'}";
    dict += std::string(64 - (12 + dict.size() + 1) % 64, ' ') + "\n";
    std::string bytes("\x93NUMPY", 6);
    bytes += static_cast<char>(version);
    bytes += '\0';
    const uint32_t len = static_cast<uint32_t>(dict.size());
    bytes.append(reinterpret_cast<const char*>(&len), 4);
    bytes += dict;
    const int32_t data[2] = {-3, 9};
    bytes.append(reinterpret_cast<const char*>(data), 8);
    const Array a = Array::from_bytes(bytes, "v" + std::to_string(version));
    EXPECT_EQ(a.header().version, version);
    EXPECT_EQ(a.to_int32(), (std::vector<int32_t>{-3, 9}));
  }
}

TEST(Npy, MalformedFilesRaiseFormatErrorsNamingFileAndExpectation) {
  const std::string good = make_header(DType::i4, {2}) + std::string(8, '\0');
  auto with_dict = [](const std::string& dict) {
    std::string d = dict + std::string(64 - (10 + dict.size() + 1) % 64, ' ') + "\n";
    std::string b("\x93NUMPY\x01\x00", 8);
    b += static_cast<char>(d.size() & 0xff);
    b += static_cast<char>(d.size() >> 8);
    return b + d;
  };
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(good.substr(0, good.size() - 3), "t.npy"); }).find("t.npy: truncated"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(good + "xx", "t.npy"); }).find("size mismatch"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes("PK\x03\x04" + good, "t.npy"); }).find("magic"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(good.substr(0, 50), "t.npy"); }).find("truncated .npy header"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(with_dict("{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }") + std::string(8, '\0'), "f.npy"); })
                .find("expected 'fortran_order': False (C order)"),
            std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") + std::string(8, '\0'), "d.npy"); })
                .find("d.npy: unsupported dtype '<f4'"),
            std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(with_dict("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }") + std::string(8, '\0'), "b.npy"); })
                .find("big-endian"),
            std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(with_dict("{'descr': '<i4', 'shape': (2,), }") + std::string(8, '\0'), "k.npy"); })
                .find("the keys 'descr', 'fortran_order' and 'shape'"),
            std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(with_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (-2,), }"), "s.npy"); })
                .find("non-negative integer dimension"),
            std::string::npos);
  std::string v9 = good;
  v9[6] = 9;
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(v9, "v.npy"); }).find("unsupported .npy version 9.0"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([&] { Array::from_bytes(with_dict("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), "o.npy"); })
                .find("too large"),
            std::string::npos);
}

TEST(Npy, LoadNamesTheFileOnDiskErrors) {
  const fs::path dir = temp_dir("disk");
  write_file_atomic((dir / "empty.npy").string(), "");
  EXPECT_NE(error_of<FormatError>([&] { Array::load((dir / "empty.npy").string()); }).find("empty.npy: empty file"), std::string::npos);
  EXPECT_THROW(Array::load((dir / "missing.npy").string()), Error);
  fs::remove_all(dir);
}

TEST(NpyInterop, NumpyReadsWhatWeWriteAndWritesWhatWeRead) {
  const fs::path dir = temp_dir("interop");
  const int32_t rows[2][3] = {{1, 2, 3}, {4, 5, 250}};
  {
    RowWriter w((dir / "ours_u1.npy").string(), DType::u1, {3});
    w.append_int32(&rows[0][0], 2);
    w.finish();
  }
  save_int32((dir / "ours_i4.npy").string(), {0, -7, 2147483647});
  const std::string script = R"PY(
import io, sys, numpy as np
d = sys.argv[0].rsplit('/', 1)[0]
a = np.load(d + '/ours_u1.npy', mmap_mode='r')
assert a.dtype == np.uint8 and a.shape == (2, 3) and a.tolist() == [[1, 2, 3], [4, 5, 250]], a
b = np.load(d + '/ours_i4.npy')
assert b.dtype == np.int32 and b.tolist() == [0, -7, 2147483647], b
# Byte-identical to np.save of the same arrays.
for name, arr in (('ours_u1', np.array(a)), ('ours_i4', b)):
    buf = io.BytesIO(); np.save(buf, arr)
    assert buf.getvalue() == open(d + '/' + name + '.npy', 'rb').read(), name
# Files for C++ to read: every integer dtype, header versions 1, 2, 3.
for i, dt in enumerate(['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'b1']):
    np.save(d + '/np_%s.npy' % dt, (np.arange(6) % (2 if dt == 'b1' else 6)).astype(dt).reshape(2, 3))
for v in (1, 2, 3):
    with open(d + '/np_v%d.npy' % v, 'wb') as f:
        np.lib.format.write_array(f, np.array([5, -6], dtype='<i8'), version=(v, 0))
)PY";
  ASSERT_EQ(run_python(dir, script), 0) << "numpy could not read our files or write its own";
  for (const char* dt : {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"})
    EXPECT_EQ(Array::load((dir / (std::string("np_") + dt + ".npy")).string()).to_int32(), (std::vector<int32_t>{0, 1, 2, 3, 4, 5})) << dt;
  EXPECT_EQ(Array::load((dir / "np_b1.npy").string()).to_int32(), (std::vector<int32_t>{0, 1, 0, 1, 0, 1}));
  for (int v : {1, 2, 3}) {
    const Array a = Array::load((dir / ("np_v" + std::to_string(v) + ".npy")).string());
    EXPECT_EQ(a.header().version, v);
    EXPECT_EQ(a.to_int64(), (std::vector<int64_t>{5, -6}));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hrm::npy
