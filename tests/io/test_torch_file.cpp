// test_torch_file.cpp: src/io/torch_file.cpp against the reference's files and against real PyTorch.
// Checkpoints in fixtures/checkpoints/hrm-tiny (PyTorch 1.13 and 2.11, OrderedDict, compiled prefix,
// bfloat16) must give the tensors of fixtures/hrm-tiny/weights.pt; files we write must load in Python's
// torch.load with its defaults (weights_only=True on 2.x), both in the wheel's PyTorch ($HRM_VENV or
// ~/.cache/hrm/venv) and in Debian 12's python3-torch 1.13 (/usr/bin/python3 or $HRM_DEBIAN_PYTHON);
// without either the Python tests FAIL (scripts/setup.sh installs both), they never skip.
#include <gtest/gtest.h>

#include <caffe2/serialize/inline_container.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/check.h"
#include "io/pickler.h"
#include "io/torch_file.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::io {
namespace {

namespace fs = std::filesystem;

using hrm::testing::kTinyCheckpoints;
using hrm::testing::kTinyFixture;
const std::string kPrefix = "_orig_mod.";

// ---- helpers ------------------------------------------------------------------------------------

// A flat scratch directory. Not fs::remove_all: libtorch.so exports its own std::filesystem
// symbols, and its remove_all crashes (a null call) when it interposes libstdc++'s.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "") {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');  // parametrized tests are named Name/Param
    path = (fs::temp_directory_path() / ("hrm_test_io_" + std::to_string(::getpid()) + "_" + test + tag)).string();
    clear();
    ::mkdir(path.c_str(), 0755);
  }
  ~TempDir() { clear(); }
  void clear() const {
    if (DIR* d = ::opendir(path.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") std::remove((path + "/" + n).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

std::vector<std::string> pt_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".pt") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

const torch::Tensor& find(const StateDict& sd, const std::string& key) {
  for (const auto& kv : sd)
    if (kv.first == key) return kv.second;
  throw std::runtime_error("key not found: " + key);
}

std::string dtype_name(c10::ScalarType t) {  // as Python's str(dtype) without "torch."
  switch (t) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Half: return "float16";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Int: return "int32";
    case c10::ScalarType::Short: return "int16";
    case c10::ScalarType::Char: return "int8";
    case c10::ScalarType::Byte: return "uint8";
    case c10::ScalarType::Bool: return "bool";
    default: return c10::toString(t);
  }
}

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Position-weighted byte sum mod 2^64; the Python side computes the same (see kPythonScript).
uint64_t checksum(const torch::Tensor& tensor) {
  torch::Tensor t = tensor.detach().cpu().contiguous();
  const auto* p = static_cast<const uint8_t*>(t.data_ptr());
  uint64_t h = 0;
  size_t n = t.numel() * t.element_size();
  for (size_t i = 0; i < n; ++i) h += uint64_t(p[i]) * (uint64_t(i) * 0x9E3779B97F4A7C15ULL + 1);
  return h;
}

struct Entry {
  std::string key, dtype, shape;
  uint64_t sum;
  bool operator==(const Entry& o) const { return key == o.key && dtype == o.dtype && shape == o.shape && sum == o.sum; }
};
std::ostream& operator<<(std::ostream& os, const Entry& e) {
  return os << e.key << " " << e.dtype << " " << e.shape << " #" << e.sum;
}

std::vector<Entry> describe(const StateDict& sd) {
  std::vector<Entry> out;
  for (const auto& [k, t] : sd) out.push_back({k, dtype_name(t.scalar_type()), shape_str(t), checksum(t)});
  return out;
}

struct PyDump {
  std::string type;
  std::vector<std::string> records;
  std::vector<Entry> entries;
};

// dump FILE...: torch.load(FILE) with defaults; make FILE: torch.save views/shared storages/dtypes, then dump.
const char* kPythonScript = R"PY(
import sys, zipfile
from collections import OrderedDict
import numpy as np, torch

def checksum(t):
    b = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().astype(np.uint64)
    idx = np.arange(b.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return int(np.sum(b * (idx * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)), dtype=np.uint64))

def dump(path):
    sd = torch.load(path)
    print("file\t" + path)
    print("type\t" + type(sd).__name__)
    print("records\t" + "\t".join(zipfile.ZipFile(path).namelist()))
    for k, t in sd.items():
        shape = "[" + ", ".join(str(s) for s in t.shape) + "]"
        print("tensor\t%s\t%s\t%s\t%d" % (k, str(t.dtype).replace("torch.", ""), shape, checksum(t)))

def make(path):
    g = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.37 - 2
    base = torch.arange(40, dtype=torch.float64) / 7
    sd = OrderedDict()
    sd["transposed"] = g.t()
    sd["row_slice"] = g[1:3]
    sd["col_step"] = g[:, 1::2]
    sd["shared_a"] = base[:10]
    sd["shared_b"] = base[5:25].view(4, 5)
    sd["scalar_f64"] = torch.tensor(3.25, dtype=torch.float64)
    sd["scalar_bool"] = torch.tensor(True)
    sd["empty"] = torch.zeros(0, 3)
    for dt in [torch.float32, torch.bfloat16, torch.float16, torch.float64, torch.int64, torch.int32,
               torch.int16, torch.int8, torch.uint8, torch.bool]:
        sd["d_" + str(dt).replace("torch.", "")] = (torch.arange(12) * 1.5).to(dt).reshape(3, 4)[:, 1:]
    torch.save(sd, path)

print("torch\t" + torch.__version__)
if sys.argv[1] == "make":
    make(sys.argv[2])
    dump(sys.argv[2])
else:
    for p in sys.argv[2:]:
        dump(p)
)PY";

// The two PyTorch generations our files must load in: the wheel's (the venv of scripts/setup.sh) and
// Debian 12's python3-torch 1.13 (scripts/setup.sh installs it; HRM_DEBIAN_PYTHON overrides the path).
// The reference's checkpoints exist from both (fixtures/checkpoints), so files must work both ways.
enum class Py { wheel, debian_torch113 };

std::string python_exe(Py which) {
  if (which == Py::debian_torch113) {
    const char* p = std::getenv("HRM_DEBIAN_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
  }
  const char* venv = std::getenv("HRM_VENV");
  const char* home = std::getenv("HOME");
  std::string dir = venv && *venv ? venv : std::string(home ? home : "") + "/.cache/hrm/venv";
  return dir + "/bin/python";
}

// Runs kPythonScript; throws (failing the test) when Python is missing, the script fails, or the
// Debian Python's torch is not 1.13.
std::map<std::string, PyDump> run_python(Py which, const std::vector<std::string>& args) {
  std::string py = python_exe(which);
  if (!fs::exists(py))
    throw std::runtime_error("Python with torch not found at " + py + " (set HRM_VENV or run scripts/setup.sh)");
  TempDir tmp("_py");
  std::string script = tmp.file("torch_file_check.py");
  std::ofstream(script) << kPythonScript;
  std::string cmd = "'" + py + "' '" + script + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error("python failed (status " + std::to_string(status) + "):\n" + out);

  std::map<std::string, PyDump> dumps;
  PyDump* cur = nullptr;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.empty()) continue;
    if (f[0] == "torch") {
      if (which == Py::debian_torch113 && f.at(1).rfind("1.13", 0) != 0)
        throw std::runtime_error(py + " runs torch " + f.at(1) + ", not Debian's 1.13 (apt install python3-torch)");
    } else if (f[0] == "file") {
      cur = &dumps[f.at(1)];
    } else if (f[0] == "type" && cur) {
      cur->type = f.at(1);
    } else if (f[0] == "records" && cur) {
      cur->records.assign(f.begin() + 1, f.end());
    } else if (f[0] == "tensor" && cur) {
      cur->entries.push_back({f.at(1), f.at(2), f.at(3), std::stoull(f.at(4))});
    } else {
      throw std::runtime_error("unexpected python output: " + line);
    }
  }
  return dumps;
}

void expect_same_entries(const std::vector<Entry>& ours, const std::vector<Entry>& python, const std::string& what) {
  ASSERT_EQ(ours.size(), python.size()) << what;
  for (size_t k = 0; k < ours.size(); ++k) EXPECT_EQ(ours[k], python[k]) << what << " entry " << k;
}

// Tensors covering every supported dtype, views with strides/offsets, shared storage, 0-dim, empty,
// and float specials (NaN payloads must survive: they are compared bit for bit).
StateDict sample() {
  torch::Tensor g = torch::arange(24, torch::kFloat32).reshape({4, 6}) * 0.37 - 2;
  torch::Tensor base = torch::arange(40, torch::kFloat64) / 7;
  StateDict sd;
  sd.emplace_back("zeta.listed_first", torch::linspace(-3, 3, 7));
  sd.emplace_back("transposed", g.t());
  sd.emplace_back("row_slice", g.slice(0, 1, 3));
  sd.emplace_back("col_step", g.slice(1, 1, 6, 2));
  sd.emplace_back("shared_a", base.slice(0, 0, 10));
  sd.emplace_back("shared_b", base.slice(0, 5, 25).view({4, 5}));
  sd.emplace_back("scalar_f64", torch::scalar_tensor(3.25, torch::kFloat64));
  sd.emplace_back("scalar_i64", torch::scalar_tensor(7, torch::kLong));
  sd.emplace_back("scalar_bool", torch::scalar_tensor(true, torch::kBool));
  sd.emplace_back("empty", torch::zeros({0, 3}));
  float specials[] = {-0.0f, INFINITY, -INFINITY, NAN, 1e-40f, 3.4e38f};
  sd.emplace_back("specials", torch::from_blob(specials, {6}, torch::kFloat32).clone());
  for (auto dt : {torch::kFloat32, torch::kBFloat16, torch::kFloat16, torch::kFloat64, torch::kInt64, torch::kInt32,
                  torch::kInt16, torch::kInt8, torch::kUInt8, torch::kBool})
    sd.emplace_back("d_" + dtype_name(dt), (torch::arange(12) * 1.5 + 0.25).to(dt).reshape({3, 4}).slice(1, 1));
  sd.emplace_back("bf16_big", (torch::sin(torch::arange(64 * 33, torch::kFloat32)) * 100).reshape({64, 33}).to(torch::kBFloat16));
  return sd;
}

// ---- the reference's checkpoints ----------------------------------------------------------------

class ReferenceCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceCheckpoint, YieldsTheTensorsOfWeightsPt) {
  StateDict weights = load_torch_file(kTinyFixture + "/weights.pt");
  ASSERT_EQ(weights.size(), 23u);
  StateDict ckpt = load_torch_file(GetParam());
  ASSERT_EQ(ckpt.size(), weights.size());
  for (size_t k = 0; k < ckpt.size(); ++k) {
    std::string key = ckpt[k].first;
    if (key.rfind(kPrefix, 0) == 0) key = key.substr(kPrefix.size());
    EXPECT_EQ(key, weights[k].first) << "key order differs at " << k;
    const torch::Tensor& got = ckpt[k].second;
    torch::Tensor want = weights[k].second.to(got.scalar_type());  // bf16 files: the fp32 values rounded
    EXPECT_TRUE(got.scalar_type() == torch::kFloat32 || got.scalar_type() == torch::kBFloat16) << key;
    EXPECT_TRUE(torch::equal(got, want)) << key << " differs";
  }
}

std::vector<std::string> checkpoint_files() { return pt_files(kTinyCheckpoints); }

INSTANTIATE_TEST_SUITE_P(Files, ReferenceCheckpoint, ::testing::ValuesIn(checkpoint_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = fs::path(info.param).stem().string();
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(ReferenceCheckpoints, FolderHoldsTheFourReferenceFilesWithTheExpectedDtypes) {
  auto files = checkpoint_files();
  ASSERT_GE(files.size(), 4u) << kTinyCheckpoints;
  StateDict bf16 = load_torch_file(kTinyCheckpoints + "/step_plain_bf16init_torch211.pt");
  EXPECT_EQ(find(bf16, "model.inner.H_init").scalar_type(), torch::kBFloat16);
  EXPECT_EQ(find(bf16, "model.inner.L_init").scalar_type(), torch::kBFloat16);
  EXPECT_EQ(find(bf16, "model.inner.lm_head.weight").scalar_type(), torch::kFloat32);
  StateDict compiled = load_torch_file(kTinyCheckpoints + "/step_compiled_fp32_torch113.pt");
  EXPECT_EQ(compiled.front().first, "_orig_mod.model.inner.H_init");
}

// ---- the flat fixture dicts ---------------------------------------------------------------------

TEST(FixtureDicts, ScalarsKeepTheirDtypesAndZeroDims) {
  StateDict trace = load_torch_file(kTinyFixture + "/eval_trace.pt");
  struct Want {
    const char* key;
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
  };
  const Want wants[] = {
      {"loss_1", torch::kFloat64, {}},           {"metric_count_4", torch::kInt64, {}},
      {"all_halted_4", torch::kBool, {}},        {"metric_accuracy_4", torch::kFloat32, {}},
      {"steps_1", torch::kInt32, {4}},           {"halted_4", torch::kBool, {4}},
      {"logits_1", torch::kFloat32, {4, 16, 6}}, {"num_steps", torch::kInt64, {}},
  };
  for (const auto& w : wants) {
    const torch::Tensor& t = find(trace, w.key);
    EXPECT_EQ(t.scalar_type(), w.dtype) << w.key;
    EXPECT_EQ(t.sizes().vec(), w.shape) << w.key;
  }
  EXPECT_EQ(find(trace, "num_steps").item<int64_t>(), 4);
  EXPECT_TRUE(find(trace, "all_halted_4").item<bool>());
  EXPECT_TRUE(find(trace, "halted_4").all().item<bool>());

  StateDict batch = load_torch_file(kTinyFixture + "/batch.pt");
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].first, "inputs");
  EXPECT_TRUE(torch::equal(find(batch, "puzzle_identifiers"), torch::tensor({2, 0, 2, 0}, torch::kInt32)));

  StateDict optim = load_torch_file(kTinyFixture + "/optim_step.pt");
  EXPECT_EQ(find(optim, "lr").scalar_type(), torch::kFloat64);
  EXPECT_DOUBLE_EQ(find(optim, "lr").item<double>(), 0.001);
}

// Every fixture and checkpoint file: our reader and Python's torch.load agree bit for bit.
class TorchLoadAgreement : public ::testing::TestWithParam<Py> {};

TEST_P(TorchLoadAgreement, EveryFixtureFileReadsAsPythonReadsIt) {
  std::vector<std::string> files = pt_files(kTinyFixture);
  for (const auto& f : checkpoint_files()) files.push_back(f);
  ASSERT_GE(files.size(), 10u);
  auto dumps = run_python(GetParam(), [&] {
    std::vector<std::string> a{"dump"};
    a.insert(a.end(), files.begin(), files.end());
    return a;
  }());
  for (const auto& f : files) {
    ASSERT_TRUE(dumps.count(f)) << f;
    expect_same_entries(describe(load_torch_file(f)), dumps[f].entries, f);
  }
}

TEST_P(TorchLoadAgreement, ReadsTorchSaveViewsOffsetsSharedStoragesAndEveryDtype) {
  TempDir tmp;
  std::string f = tmp.file("python_made.pt");
  auto dumps = run_python(GetParam(), {"make", f});
  ASSERT_TRUE(dumps.count(f));
  ASSERT_EQ(dumps[f].entries.size(), 18u);
  StateDict sd = load_torch_file(f);
  expect_same_entries(describe(sd), dumps[f].entries, f);
  EXPECT_FLOAT_EQ(find(sd, "col_step")[3][2].item<float>(), 23 * 0.37f - 2);
}

// ---- writing ------------------------------------------------------------------------------------

TEST(SaveTorchFile, RoundTripKeepsKeysOrderDtypesShapesAndBits) {
  TempDir tmp;
  StateDict sd = sample();
  save_torch_file(tmp.file("rt.pt"), sd);
  StateDict back = load_torch_file(tmp.file("rt.pt"));
  expect_same_entries(describe(back), describe(sd), "round trip");
  for (size_t k = 0; k < sd.size(); ++k) {
    EXPECT_TRUE(back[k].second.is_contiguous()) << sd[k].first;
    if (sd[k].first != "specials") EXPECT_TRUE(torch::equal(back[k].second, sd[k].second)) << sd[k].first;
  }
}

TEST_P(TorchLoadAgreement, PythonTorchLoadWithDefaultsReadsWhatWeWrite) {
  TempDir tmp;
  std::string f = tmp.file("ours.pt");
  StateDict sd = sample();
  save_torch_file(f, sd);
  auto dumps = run_python(GetParam(), {"dump", f});
  ASSERT_TRUE(dumps.count(f));
  EXPECT_EQ(dumps[f].type, "OrderedDict");
  expect_same_entries(describe(sd), dumps[f].entries, "python view of our file");

  // Record layout of torch.save to a buffer: archive/data.pkl, one data/<n> per storage, version.
  const auto& r = dumps[f].records;
  EXPECT_EQ(r.front(), "archive/data.pkl");
  EXPECT_NE(std::find(r.begin(), r.end(), "archive/version"), r.end());
  size_t data_records = std::count_if(r.begin(), r.end(), [](const std::string& n) { return n.rfind("archive/data/", 0) == 0; });
  // g's three views share one storage, shared_a/shared_b another: 22 tensors, 19 storages.
  EXPECT_EQ(sd.size(), 22u);
  EXPECT_EQ(data_records, 19u);
}

INSTANTIATE_TEST_SUITE_P(Pythons, TorchLoadAgreement, ::testing::Values(Py::wheel, Py::debian_torch113),
                         [](const auto& info) { return info.param == Py::wheel ? "wheel" : "debian_torch113"; });

TEST(SaveTorchFile, WritesAtomicallyAndReplacesAnExistingFile) {
  TempDir tmp;
  std::string f = tmp.file("ckpt.pt");
  save_torch_file(f, {{"a", torch::ones({2})}});
  save_torch_file(f, {{"b", torch::zeros({3})}});
  StateDict back = load_torch_file(f);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, "b");
  for (const auto& e : fs::directory_iterator(tmp.path)) EXPECT_EQ(e.path().filename(), "ckpt.pt");
  EXPECT_THROW(save_torch_file(tmp.file("no/such/dir.pt"), {{"a", torch::ones({1})}}), Error);
  EXPECT_THROW(save_torch_file(f, {{"a", torch::ones({1})}, {"a", torch::ones({1})}}), Error);
  EXPECT_EQ(load_torch_file(f)[0].first, "b");  // a failed save leaves the old file
}

// A folder given for a checkpoint (arc-score, report --outputs) was "not a PyTorch checkpoint (no zip
// header at byte 0)"; a missing file says so.
TEST(LoadTorchFile, AFolderOrAMissingFileIsNamedAsSuch) {
  TempDir tmp;
  auto error_of = [](const std::string& path) -> std::string {
    try {
      load_torch_file(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(tmp.path).find(" is a directory; expected a checkpoint file"), std::string::npos);
  EXPECT_NE(error_of(tmp.file("missing.pt")).find(": cannot open (No such file or directory)"), std::string::npos);
}

TEST(SaveTorchFile, EmptyStateDictRoundTrips) {
  TempDir tmp;
  save_torch_file(tmp.file("e.pt"), {});
  EXPECT_TRUE(load_torch_file(tmp.file("e.pt")).empty());
}

// ---- damaged input ------------------------------------------------------------------------------

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A torch.save-like archive with a hand-made data.pkl and records.
void write_archive(const std::string& path, const std::string& pkl, const std::map<std::string, std::string>& records) {
  caffe2::serialize::PyTorchStreamWriter zip(path);
  zip.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const auto& [name, bytes] : records) zip.writeRecord(name, bytes.data(), bytes.size());
  zip.writeEndOfFile();
}

// {'t': _rebuild_tensor_v2(<FloatStorage key numel>, offset, (size,), (1,), False, OrderedDict())}
std::string one_tensor_pickle(const std::string& key, int64_t numel, int64_t offset, int64_t size) {
  pickle::Pickler p;
  p.empty_dict();
  p.str("t");
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.tuple_begin(6);
  p.tuple_begin(5);
  p.str("storage");
  p.global("torch", "FloatStorage");
  p.str(key);
  p.str("cpu");
  p.integer(numel);
  p.tuple_end(5);
  p.binpersid();
  p.integer(offset);
  p.tuple_begin(1);
  p.integer(size);
  p.tuple_end(1);
  p.tuple_begin(1);
  p.integer(1);
  p.tuple_end(1);
  p.boolean(false);
  p.global("collections", "OrderedDict");
  p.tuple_begin(0);
  p.tuple_end(0);
  p.reduce();
  p.tuple_end(6);
  p.reduce();
  std::string s = p.finish();
  s.insert(s.size() - 1, "s");  // SETITEM before STOP
  return s;
}

// Expects a FormatError whose message names the file and contains every `parts`.
void expect_format_error(const std::string& path, std::vector<std::string> parts) {
  try {
    load_torch_file(path);
    ADD_FAILURE() << path << ": no error";
  } catch (const FormatError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
  }
}

TEST(DamagedFiles, TruncatedCheckpointsAreFormatErrorsNamingTheFile) {
  TempDir tmp;
  std::string good = read_bytes(kTinyCheckpoints + "/step_compiled_fp32_torch211.pt");
  ASSERT_GT(good.size(), 1000u);
  for (size_t len : {size_t(0), size_t(3), size_t(100), good.size() / 2, good.size() - 30, good.size() - 1}) {
    std::string f = tmp.file("cut_" + std::to_string(len) + ".pt");
    write_bytes(f, good.substr(0, len));
    expect_format_error(f, {});
  }
}

TEST(DamagedFiles, CorruptDataPklIsAFormatErrorNamingTheFile) {
  TempDir tmp;
  std::string bytes = read_bytes(kTinyFixture + "/batch.pt");
  size_t at = bytes.find("collections\nOrderedDict");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 'X';  // "cXllections": an unknown global, or a CRC error if the reader checks CRCs
  std::string f = tmp.file("corrupt.pt");
  write_bytes(f, bytes);
  expect_format_error(f, {});
}

TEST(DamagedFiles, NonZipLegacyAndMissingFilesAreReported) {
  TempDir tmp;
  write_bytes(tmp.file("text.pt"), "hello, world");
  expect_format_error(tmp.file("text.pt"), {"zip"});
  write_bytes(tmp.file("legacy.pt"), std::string("\x80\x02\x8a\x0a", 4));
  expect_format_error(tmp.file("legacy.pt"), {"legacy"});
  EXPECT_THROW(load_torch_file(tmp.file("missing.pt")), Error);
}

TEST(DamagedFiles, BadPickleContentNamesOpcodeOffsetOrGlobal) {
  TempDir tmp;
  std::string f = tmp.file("bad.pt");
  write_archive(f, std::string("\x80\x02}\xff.", 5), {});
  expect_format_error(f, {"data.pkl", "byte 3", "0xff"});
  write_archive(f, "\x80\x02" "cos\nsystem\n.", {});
  expect_format_error(f, {"os.system", "byte 2"});
  write_archive(f, "\x80\x02].", {});
  expect_format_error(f, {"list", "expected a dict"});
  const char int_value[] = "\x80\x02}X\x01\x00\x00\x00" "aK\x05s.";  // {'a': 5}
  write_archive(f, std::string(int_value, sizeof int_value - 1), {});
  expect_format_error(f, {"'a'", "int"});
}

TEST(DamagedFiles, StorageProblemsAreFormatErrors) {
  TempDir tmp;
  std::string f = tmp.file("st.pt");
  std::string ten_floats(40, '\0');
  write_archive(f, one_tensor_pickle("0", 10, 0, 10), {{"data/0", ten_floats}});
  ASSERT_EQ(load_torch_file(f).at(0).second.numel(), 10);  // the well-formed variant loads
  write_archive(f, one_tensor_pickle("7", 10, 0, 10), {{"data/0", ten_floats}});
  expect_format_error(f, {"data/7", "missing"});
  write_archive(f, one_tensor_pickle("0", 12, 0, 10), {{"data/0", ten_floats}});
  expect_format_error(f, {"data/0", "40 bytes"});
  write_archive(f, one_tensor_pickle("0", 10, 5, 6), {{"data/0", ten_floats}});
  expect_format_error(f, {"does not fit"});
  write_archive(f, one_tensor_pickle("0", -1, 0, 0), {{"data/0", ten_floats}});
  expect_format_error(f, {"element count"});
}

// torch.save({'w': torch.zeros(1).expand(n)}) stores one float and a stride-0 view of n: the clone that
// owns the tensor takes n floats. A legitimately expanded tensor loads; one that would turn a few bytes
// of file into 512 MiB (or many such views, terabytes) is refused.
TEST(DamagedFiles, ExpandedViewsLoadWithinABudgetAndAbsurdOnesAreFormatErrors) {
  auto data_pkl = [](const char* n_le) {  // CPython/torch 2.11's bytes, the view's length patched in
    std::string hex = "80027d7100580100000077710163746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a"
                      "71022828580700000073746f72616765710363746f7263680a466c6f617453746f726167650a7104580100000030"
                      "7105580300000063707571064b01747107514b004a";
    hex += n_le;
    hex += "8571084b008571098963636f6c6c656374696f6e730a4f726465726564446963740a710a2952710b74710c52710d732e";
    std::string out;
    for (size_t k = 0; k + 1 < hex.size(); k += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16)));
    return out;
  };
  const RecordReader one_float = [](const std::string& name) {
    if (name != "data/0") HRM_THROW(FormatError, "no record ", name);
    return std::string(4, '\0');
  };
  const StateDict sd = decode_state_dict(data_pkl("00001000"), "expanded.pt", one_float);  // 2^20 floats: 4 MiB
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].second.numel(), int64_t{1} << 20);
  try {
    decode_state_dict(data_pkl("00000008"), "absurd.pt", one_float);  // 2^27 floats: 512 MiB from 4 bytes
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("absurd.pt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("more memory than its storages hold"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hrm::io
