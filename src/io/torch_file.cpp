// torch_file.cpp: torch.save zip files <-> StateDict (see torch_file.h).
// The zip layer is libtorch's own (caffe2::serialize::PyTorchStreamReader/Writer, what torch.save and
// torch.load use underneath); data.pkl goes through unpickler.cpp / pickler.cpp because libtorch's
// torch::pickle_load maps collections.OrderedDict to None. The storage records and the
// _rebuild_tensor_v2 call follow torch/serialization.py (_save's persistent_id, _load's
// persistent_load) and torch/_utils.py (_rebuild_tensor_v2).
#include "io/torch_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <caffe2/serialize/inline_container.h>

#include "core/atomic_file.h"
#include "core/check.h"
#include "io/pickler.h"
#include "io/unpickler.h"

namespace hrm::io {
namespace {

using pickle::Value;
using pickle::ValuePtr;
using Kind = Value::Kind;

// torch.<Name>Storage <-> dtype, for the dtypes a checkpoint or fixture holds.
struct StorageType {
  const char* name;
  c10::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", c10::ScalarType::Float}, {"BFloat16Storage", c10::ScalarType::BFloat16},
    {"HalfStorage", c10::ScalarType::Half},   {"DoubleStorage", c10::ScalarType::Double},
    {"LongStorage", c10::ScalarType::Long},   {"IntStorage", c10::ScalarType::Int},
    {"ShortStorage", c10::ScalarType::Short}, {"CharStorage", c10::ScalarType::Char},
    {"ByteStorage", c10::ScalarType::Byte},   {"BoolStorage", c10::ScalarType::Bool},
};

const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
const char* kRebuildParameter = "torch._utils._rebuild_parameter";
const char* kOrderedDict = "collections.OrderedDict";

std::string first_line(const char* what) {
  std::string s(what);
  return s.substr(0, s.find('\n'));
}

// ---- reading ------------------------------------------------------------------------------------

// Reads a record; libtorch reports zip damage as c10::Error, which becomes a FormatError here.
// `where` prefixes the message ("file: "), empty where the unpickler adds the location itself.
std::string read_record(caffe2::serialize::PyTorchStreamReader& zip, const std::string& where,
                        const std::string& name) {
  bool present = false;
  try {
    present = zip.hasRecord(name);
    if (present) {
      auto [ptr, size] = zip.getRecord(name);
      return std::string(static_cast<const char*>(ptr.get()), size);
    }
  } catch (const c10::Error& e) {
    HRM_THROW(FormatError, where, "cannot read record '", name, "': ", first_line(e.what()));
  }
  HRM_THROW(FormatError, where, "record '", name, "' is missing from the archive");
}

std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_zip(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) HRM_THROW(Error, path, " is a directory; expected a checkpoint file");
  std::ifstream f(path, std::ios::binary);
  if (!f) HRM_THROW(Error, path, ": cannot open (", std::strerror(errno), ")");
  char magic[4] = {0, 0, 0, 0};
  f.read(magic, 4);
  if (static_cast<uint8_t>(magic[0]) == 0x80)
    HRM_THROW(FormatError, path, ": legacy (non-zip) torch.save format; re-save it with PyTorch >= 1.6");
  if (std::memcmp(magic, "PK\x03\x04", 4) != 0)
    HRM_THROW(FormatError, path, ": not a PyTorch checkpoint (no zip header at byte 0)");
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    HRM_THROW(FormatError, path, ": not a readable PyTorch zip archive: ", first_line(e.what()));
  }
}

int64_t as_int(const ValuePtr& v, const char* what) {
  if (v->kind != Kind::Int) HRM_THROW(FormatError, what, " must be an int, got a ", pickle::kind_name(v->kind));
  return v->i;
}

std::vector<int64_t> as_int_tuple(const ValuePtr& v, const char* what) {
  if (v->kind != Kind::Tuple) HRM_THROW(FormatError, what, " must be a tuple, got a ", pickle::kind_name(v->kind));
  std::vector<int64_t> out;
  for (const auto& x : v->items) out.push_back(as_int(x, what));
  return out;
}

// persistent_load of torch/serialization.py: ('storage', torch.<T>Storage, key, location, numel)
// names the record data/<key>; storages are loaded once and shared by every tensor that names them.
class StorageLoader {
 public:
  explicit StorageLoader(const RecordReader& read_record) : read_record_(read_record) {}

  ValuePtr operator()(const ValuePtr& pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->s != "storage")
      HRM_THROW(FormatError, "persistent id is not ('storage', type, key, location, numel)");
    const auto& it = pid->items;
    if (it[1]->kind != Kind::Global || it[2]->kind != Kind::Str)
      HRM_THROW(FormatError, "persistent id: storage type or key has the wrong type");
    c10::ScalarType dtype = storage_dtype(it[1]->s);
    int64_t numel = as_int(it[4], "storage numel");
    const std::string& key = it[2]->s;
    auto cached = cache_.find(key);
    if (cached != cache_.end()) return cached->second;

    auto v = Value::make(Kind::Storage);
    v->tensor = load(key, dtype, numel);
    loaded_bytes_ += static_cast<double>(v->tensor.nbytes());
    cache_[key] = v;
    return v;
  }

  double loaded_bytes() const { return loaded_bytes_; }

 private:
  static c10::ScalarType storage_dtype(const std::string& global) {
    for (const auto& t : kStorageTypes)
      if (global == std::string("torch.") + t.name) return t.dtype;
    HRM_THROW(FormatError, "'", global, "' is not a storage type");
  }

  torch::Tensor load(const std::string& key, c10::ScalarType dtype, int64_t numel) {
    int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
    int64_t nbytes = 0;
    if (numel < 0 || __builtin_mul_overflow(numel, item, &nbytes))
      HRM_THROW(FormatError, "storage '", key, "' has an invalid element count ", numel);
    std::string bytes = read_record_("data/" + key);
    if (static_cast<int64_t>(bytes.size()) < nbytes)
      HRM_THROW(FormatError, "storage record data/", key, " holds ", bytes.size(), " bytes, ", numel, " elements of ",
                c10::toString(dtype), " need ", nbytes);
    torch::Tensor t = torch::empty({numel}, torch::dtype(dtype));
    if (nbytes) std::memcpy(t.data_ptr(), bytes.data(), static_cast<size_t>(nbytes));
    return t;
  }

  const RecordReader& read_record_;
  std::map<std::string, ValuePtr> cache_;
  double loaded_bytes_ = 0;
};

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]):
// a strided view of the storage, cloned so that the result owns its memory. `budget_bytes`: what the
// clones may still allocate (see decode_state_dict).
torch::Tensor rebuild_tensor(const std::vector<ValuePtr>& args, double& budget_bytes) {
  if (args.size() != 6 && args.size() != 7)
    HRM_THROW(FormatError, "_rebuild_tensor_v2 takes 6 or 7 arguments, got ", args.size());
  if (args[0]->kind != Kind::Storage)
    HRM_THROW(FormatError, "_rebuild_tensor_v2: argument 1 must be a storage, got a ", pickle::kind_name(args[0]->kind));
  const torch::Tensor& storage = args[0]->tensor;
  int64_t offset = as_int(args[1], "storage offset");
  std::vector<int64_t> size = as_int_tuple(args[2], "size");
  std::vector<int64_t> stride = as_int_tuple(args[3], "stride");
  if (size.size() != stride.size())
    HRM_THROW(FormatError, "_rebuild_tensor_v2: ", size.size(), " sizes but ", stride.size(), " strides");

  // The view must stay inside the storage (as_strided would read out of bounds otherwise).
  bool empty = false;
  int64_t last = offset, count = 1;
  bool overflow = offset < 0;
  for (size_t d = 0; d < size.size(); ++d) {
    if (size[d] < 0 || stride[d] < 0) overflow = true;
    if (size[d] == 0) empty = true;
  }
  for (size_t d = 0; d < size.size() && !overflow && !empty; ++d) {
    int64_t span = 0;
    overflow |= __builtin_mul_overflow(size[d] - 1, stride[d], &span) || __builtin_add_overflow(last, span, &last) ||
                __builtin_mul_overflow(count, size[d], &count);
  }
  int64_t numel = storage.numel();
  if (overflow || (!empty && last >= numel) || offset > numel)
    HRM_THROW(FormatError, "tensor view (offset ", offset, ", size ", c10::IntArrayRef(size), ", stride ",
              c10::IntArrayRef(stride), ") does not fit its storage of ", numel, " elements");
  // Overlapping views (stride 0), or many views of one storage, would make the clones far larger than
  // the file: a few bytes of pickle could ask for terabytes.
  const double bytes = empty ? 0.0 : static_cast<double>(count) * static_cast<double>(storage.element_size());
  if (bytes > budget_bytes)
    HRM_THROW(FormatError, "tensor view of ", count, " elements: the file's tensors would take more memory than its ",
              "storages hold (overlapping or repeated views are not supported)");
  budget_bytes -= bytes;
  return storage.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
}

ValuePtr reduce(const std::string& global, const std::vector<ValuePtr>& args, double& budget_bytes) {
  if (global == kOrderedDict) {
    if (!args.empty()) HRM_THROW(FormatError, "collections.OrderedDict() with arguments is not supported");
    return Value::make(Kind::Dict);
  }
  if (global == kRebuildTensor) return Value::tensor_value(rebuild_tensor(args, budget_bytes));
  if (global == kRebuildParameter) {  // _rebuild_parameter(data, requires_grad, backward_hooks)
    if (args.size() != 3 || args[0]->kind != Kind::Tensor)
      HRM_THROW(FormatError, "_rebuild_parameter takes (Tensor, bool, OrderedDict)");
    return args[0];
  }
  HRM_THROW(FormatError, "calling '", global, "' is not supported");
}

// The tensors' clones may take what the storages loaded so far hold (a state dict's tensors are disjoint
// views, together at most their storages), plus 256 MiB of slack for the odd expanded (stride-0) one.
pickle::UnpicklerHooks make_hooks(StorageLoader& storages, double& cloned_bytes) {
  pickle::UnpicklerHooks hooks;
  hooks.allowed_globals = {kOrderedDict, kRebuildTensor, kRebuildParameter};
  for (const auto& t : kStorageTypes) hooks.allowed_globals.insert(std::string("torch.") + t.name);
  hooks.reduce = [&storages, &cloned_bytes](const std::string& global, const std::vector<ValuePtr>& args) {
    double budget = storages.loaded_bytes() + 256.0 * 1024 * 1024 - cloned_bytes;
    const double before = budget;
    ValuePtr v = reduce(global, args, budget);
    cloned_bytes += before - budget;
    return v;
  };
  hooks.persistent_load = [&storages](const ValuePtr& pid) { return storages(pid); };
  return hooks;
}

}  // namespace

StateDict decode_state_dict(std::string_view data_pkl, const std::string& path, const RecordReader& read_record) {
  StorageLoader storages(read_record);
  double cloned_bytes = 0;
  ValuePtr root = pickle::unpickle(data_pkl, path + ": data.pkl", make_hooks(storages, cloned_bytes));

  if (root->kind != Kind::Dict)
    HRM_THROW(FormatError, path, ": data.pkl holds a ", pickle::kind_name(root->kind), ", expected a dict of str -> Tensor");
  StateDict out;
  out.reserve(root->dict.size());
  for (const auto& [k, v] : root->dict) {
    if (k->kind != Kind::Str)
      HRM_THROW(FormatError, path, ": a dict key is a ", pickle::kind_name(k->kind), ", expected str");
    if (v->kind != Kind::Tensor)
      HRM_THROW(FormatError, path, ": key '", k->s, "' holds a ", pickle::kind_name(v->kind), ", expected a Tensor");
    out.emplace_back(k->s, v->tensor);
  }
  return out;
}

StateDict load_torch_file(const std::string& path) {
  auto zip = open_zip(path);
  if (zip->hasRecord("byteorder")) {
    std::string order = read_record(*zip, path + ": ", "byteorder");
    if (order != "little") HRM_THROW(FormatError, path, ": byteorder '", order, "' is not supported (only little)");
  }
  const std::string pkl = read_record(*zip, path + ": ", "data.pkl");
  return decode_state_dict(pkl, path, [&zip](const std::string& name) { return read_record(*zip, "", name); });
}

// ---- writing ------------------------------------------------------------------------------------
namespace {

const char* storage_name(c10::ScalarType dtype, const std::string& key) {
  for (const auto& t : kStorageTypes)
    if (t.dtype == dtype) return t.name;
  HRM_THROW(Error, "save_torch_file: tensor '", key, "' has dtype ", c10::toString(dtype), ", which is not supported");
}

// One storage record: the whole storage of one or more tensors, as torch.save writes it.
struct StorageRecord {
  torch::Tensor owner;  // keeps the memory alive
  const void* data;
  size_t nbytes;
  c10::ScalarType dtype;
};

// What _rebuild_tensor_v2 needs for one tensor, plus which record holds its storage.
struct TensorEntry {
  size_t record;
  int64_t offset;
  std::vector<int64_t> size, stride;
};

class SavePlan {
 public:
  TensorEntry add(const std::string& key, const torch::Tensor& tensor) {
    HRM_CHECK(tensor.defined(), "save_torch_file: tensor '", key, "' is undefined");
    HRM_CHECK(tensor.layout() == torch::kStrided, "save_torch_file: tensor '", key, "' is not strided (sparse?)");
    storage_name(tensor.scalar_type(), key);
    torch::Tensor t = tensor.detach();
    if (!t.device().is_cpu()) t = t.cpu();
    size_t item = t.element_size();
    const c10::Storage& st = t.storage();
    // A storage that is not a whole number of elements of this dtype (a dtype view) or has no
    // memory cannot be described as torch.<T>Storage; such a tensor gets a storage of its own.
    if (st.data() == nullptr || st.nbytes() % item != 0) {
      t = t.contiguous().clone();
    }
    const void* data = t.storage().data();
    auto id = std::make_pair(data, t.scalar_type());
    auto found = index_.find(id);
    size_t record;
    if (found != index_.end() && data != nullptr) {
      record = found->second;
    } else {
      record = records_.size();
      records_.push_back({t, data, t.storage().nbytes(), t.scalar_type()});
      index_[id] = record;
    }
    return {record, t.storage_offset(), t.sizes().vec(), t.strides().vec()};
  }
  const std::vector<StorageRecord>& records() const { return records_; }

 private:
  std::vector<StorageRecord> records_;
  std::map<std::pair<const void*, c10::ScalarType>, size_t> index_;
};

void pickle_tensor(pickle::Pickler& p, const TensorEntry& e, const StorageRecord& r) {
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.tuple_begin(6);
  p.tuple_begin(5);  // persistent id of the storage
  p.str("storage");
  p.global("torch", storage_name(r.dtype, ""));
  p.str(std::to_string(e.record));
  p.str("cpu");
  p.integer(static_cast<int64_t>(r.nbytes / c10::elementSize(r.dtype)));
  p.tuple_end(5);
  p.binpersid();
  p.integer(e.offset);
  p.tuple_begin(e.size.size());
  for (int64_t s : e.size) p.integer(s);
  p.tuple_end(e.size.size());
  p.tuple_begin(e.stride.size());
  for (int64_t s : e.stride) p.integer(s);
  p.tuple_end(e.stride.size());
  p.boolean(false);  // requires_grad
  p.global("collections", "OrderedDict");  // backward_hooks = OrderedDict()
  p.tuple_begin(0);
  p.tuple_end(0);
  p.reduce();
  p.tuple_end(6);
  p.reduce();
}

// data.pkl of torch.save(OrderedDict): OrderedDict() then SETITEMS in batches of 1000 (as pickle does).
std::string pickle_state_dict(const StateDict& tensors, SavePlan& plan) {
  pickle::Pickler p;
  p.global("collections", "OrderedDict");
  p.tuple_begin(0);
  p.tuple_end(0);
  p.reduce();
  for (size_t start = 0; start < tensors.size(); start += 1000) {
    p.mark();
    for (size_t k = start; k < std::min(tensors.size(), start + 1000); ++k) {
      const auto& [key, tensor] = tensors[k];
      TensorEntry e = plan.add(key, tensor);
      p.str(key);
      pickle_tensor(p, e, plan.records()[e.record]);
    }
    p.setitems();
  }
  return p.finish();
}

// The zip around data.pkl. The writer_func constructor names the archive "archive/", as torch.save
// to a buffer does, and adds the "version" record at writeEndOfFile; it is given no
// compute_crc32/alignment arguments because libtorch 1.13 lacks them.
void write_archive(std::ofstream& out, const std::string& where, const std::string& pkl, const SavePlan& plan) {
  static const char zeros[4096] = {};
  auto write = [&out](const void* buf, size_t n) -> size_t {
    if (buf) {
      out.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
    } else {  // a writer may ask for n bytes of padding without data
      for (size_t done = 0; done < n; done += sizeof(zeros))
        out.write(zeros, static_cast<std::streamsize>(std::min(sizeof(zeros), n - done)));
    }
    return out ? n : 0;
  };
  try {
    caffe2::serialize::PyTorchStreamWriter zip(write);
    zip.writeRecord("data.pkl", pkl.data(), pkl.size());
    // Records in the order torch.save writes them: sorted by key as strings ("0", "1", "10", ...).
    std::map<std::string, size_t> by_name;
    for (size_t k = 0; k < plan.records().size(); ++k) by_name["data/" + std::to_string(k)] = k;
    static const char empty = 0;
    for (const auto& [name, k] : by_name) {
      const StorageRecord& r = plan.records()[k];
      zip.writeRecord(name, r.data ? r.data : &empty, r.nbytes);
    }
    zip.writeEndOfFile();
  } catch (const c10::Error& e) {
    HRM_THROW(Error, where, ": cannot write the archive: ", first_line(e.what()));
  }
}

}  // namespace

void save_torch_file(const std::string& path, const StateDict& tensors) {
  std::set<std::string> keys;
  for (const auto& kv : tensors)
    HRM_CHECK(keys.insert(kv.first).second, "save_torch_file: key '", kv.first, "' appears twice");
  SavePlan plan;
  std::string pkl = pickle_state_dict(tensors, plan);

  write_atomic_with(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) HRM_THROW(Error, tmp, ": cannot open for writing (", std::strerror(errno), ")");
    write_archive(out, tmp, pkl, plan);
    out.flush();
    if (!out) HRM_THROW(Error, tmp, ": cannot write (", std::strerror(errno), ")");
  });
}

}  // namespace hrm::io
