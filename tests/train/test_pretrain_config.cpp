// test_pretrain_config.cpp: tests src/train/pretrain_config.cpp: the built-in defaults are the
// reference's yaml values (and configs/*.yaml load to exactly them), overrides and interpolation,
// unknown keys name the nearest valid key, type errors name the type, all_config.yaml round-trips
// and reads the reference's own all_config.yaml layout, resume=DIR.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/check.h"
#include "test_paths.h"
#include "train/pretrain_config.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

PretrainConfig with(const std::vector<std::string>& overrides) { return load_pretrain_config(std::nullopt, overrides); }

std::string error_of(const std::vector<std::string>& overrides) {
  try {
    with(overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PretrainConfig, DefaultsAreTheReferenceYamlValues) {
  const PretrainConfig c = with({});
  EXPECT_EQ(c.data_path, "data/arc-aug-1000");
  EXPECT_EQ(c.global_batch_size, 768);
  EXPECT_EQ(c.epochs, 100000);
  EXPECT_EQ(c.eval_interval, 10000);
  EXPECT_TRUE(c.checkpoint_every_eval);
  EXPECT_DOUBLE_EQ(c.lr, 1e-4);
  EXPECT_DOUBLE_EQ(c.lr_min_ratio, 1.0);
  EXPECT_EQ(c.lr_warmup_steps, 2000);
  EXPECT_DOUBLE_EQ(c.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.1);
  EXPECT_DOUBLE_EQ(c.puzzle_emb_weight_decay, 0.1);
  EXPECT_DOUBLE_EQ(c.puzzle_emb_lr, 1e-2);
  EXPECT_EQ(c.seed, 0);
  EXPECT_TRUE(c.eval_save_outputs.empty());
  EXPECT_FALSE(c.project_name || c.run_name || c.checkpoint_path);
  EXPECT_EQ(c.arch_name, "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1");
  EXPECT_EQ(c.loss_name, "losses@ACTLossHead");
  EXPECT_EQ(c.arch.loss_type, "stablemax_cross_entropy");
  EXPECT_DOUBLE_EQ(c.arch.halt_exploration_prob, 0.1);
  EXPECT_EQ(c.arch.halt_max_steps, 16);
  EXPECT_EQ(c.arch.H_cycles, 2);
  EXPECT_EQ(c.arch.L_cycles, 2);
  EXPECT_EQ(c.arch.H_layers, 4);
  EXPECT_EQ(c.arch.L_layers, 4);
  EXPECT_EQ(c.arch.hidden_size, 512);
  EXPECT_EQ(c.arch.num_heads, 8);
  EXPECT_DOUBLE_EQ(c.arch.expansion, 4.0);
  EXPECT_EQ(c.arch.puzzle_emb_ndim, 512);
  EXPECT_EQ(c.arch.pos_encodings, "rope");
  // hrm's own keys
  EXPECT_EQ(c.device, "auto");  // the GPU where there is one (train_loop.h: parse_device)
  EXPECT_FALSE(c.ema);
  EXPECT_DOUBLE_EQ(c.ema_rate, 0.999);
}

TEST(PretrainConfig, ConfigsYamlFilesLoadToTheBuiltInDefaults) {
  ConfigBuilder from_file;
  from_file.merge_file(std::string(HRM_SOURCE_DIR) + "/configs/cfg_pretrain.yaml");
  EXPECT_EQ(to_yaml(from_file.build()), to_yaml(ConfigBuilder().build()));
}

TEST(PretrainConfig, OverridesSetTopLevelAndArchKeys) {
  const PretrainConfig c = with({"lr=7e-5", "epochs=20000", "eval_interval=2000", "arch.L_cycles=8", "ema=True",
                                 "eval_save_outputs=[inputs, logits]", "run_name=my run", "device=cuda:1"});
  EXPECT_DOUBLE_EQ(c.lr, 7e-5);
  EXPECT_EQ(c.epochs, 20000);
  EXPECT_EQ(c.eval_interval, 2000);
  EXPECT_EQ(c.arch.L_cycles, 8);
  EXPECT_TRUE(c.ema);
  EXPECT_EQ(c.eval_save_outputs, (std::vector<std::string>{"inputs", "logits"}));
  EXPECT_EQ(c.run_name, "my run");
  EXPECT_EQ(c.device, "cuda:1");
  EXPECT_EQ(with({"eval_interval=null"}).epochs_per_iter(), 100000);
}

TEST(PretrainConfig, PuzzleEmbNdimFollowsHiddenSizeUnlessSet) {
  EXPECT_EQ(with({"arch.hidden_size=256", "arch.num_heads=4"}).arch.puzzle_emb_ndim, 256);
  EXPECT_EQ(with({"arch.puzzle_emb_ndim=0", "arch.hidden_size=256", "arch.num_heads=4"}).arch.puzzle_emb_ndim, 0);
}

TEST(PretrainConfig, UnknownKeyNamesTheNearestValidKey) {
  const std::string e1 = error_of({"lrr=1e-4"});
  EXPECT_NE(e1.find("'lrr'"), std::string::npos) << e1;
  EXPECT_NE(e1.find("did you mean 'lr'"), std::string::npos) << e1;
  const std::string e2 = error_of({"arch.L_cycle=8"});
  EXPECT_NE(e2.find("did you mean 'arch.L_cycles'"), std::string::npos) << e2;
  const std::string e3 = error_of({"eval_intervall=5"});
  EXPECT_NE(e3.find("did you mean 'eval_interval'"), std::string::npos) << e3;
  EXPECT_NE(error_of({"arch.batch_size=4"}).find("global_batch_size"), std::string::npos);
  EXPECT_NE(error_of({"lr"}).find("key=value"), std::string::npos);
}

TEST(PretrainConfig, WrongTypeNamesTheExpectedType) {
  const std::string e1 = error_of({"epochs=many"});
  EXPECT_NE(e1.find("'epochs'"), std::string::npos) << e1;
  EXPECT_NE(e1.find("expected an integer"), std::string::npos) << e1;
  EXPECT_NE(error_of({"lr=fast"}).find("expected a number"), std::string::npos);
  EXPECT_NE(error_of({"ema=maybe"}).find("expected a boolean"), std::string::npos);
  EXPECT_NE(error_of({"eval_save_outputs=logits"}).find("expected a list"), std::string::npos);
  const std::string e2 = error_of({"arch.hidden_size=big"});
  EXPECT_NE(e2.find("arch.hidden_size"), std::string::npos) << e2;
  EXPECT_NE(e2.find("integer"), std::string::npos) << e2;
}

TEST(PretrainConfig, ValuesOutOfRangeAreErrors) {
  EXPECT_NE(error_of({"epochs=10", "eval_interval=3"}).find("must divide epochs"), std::string::npos);
  EXPECT_NE(error_of({"device=tpu"}).find("device"), std::string::npos);
  EXPECT_NE(error_of({"device=cuda:x"}).find("expected auto, cpu, cuda or cuda:N"), std::string::npos);
  EXPECT_NE(error_of({"cuda_graphs=true", "device=cpu"}).find("cuda_graphs' = true needs a GPU"), std::string::npos);
  EXPECT_NE(error_of({"eval_save_outputs=[preds]"}).find("unknown output 'preds'"), std::string::npos);
  EXPECT_NE(error_of({"lr=1e308"}).find("(the largest float32)"), std::string::npos);
  EXPECT_NE(error_of({"eval_save_outputs=[logits, inputs, logits]"}).find("'logits' is listed twice"), std::string::npos);
  EXPECT_NE(error_of({"arch.pos_encodings=alibi"}).find("rope, learned"), std::string::npos);
  EXPECT_NE(error_of({"arch.name=other@Model"}).find("only"), std::string::npos);
  EXPECT_NE(error_of({"global_batch_size=0"}).find("must be > 0"), std::string::npos);
  for (const char* minutes : {"save_state_minutes=-1", "save_state_minutes=1e7", "save_state_minutes=.nan"})
    EXPECT_NE(error_of({minutes}).find("'save_state_minutes' = "), std::string::npos) << minutes;
  // In milliseconds it must fit an int64 (.inf was INT64_MIN ms, and the rendezvous failed at once).
  for (const char* timeout : {"dist_timeout=.inf", "dist_timeout=1e300", "dist_timeout=1e-9", "dist_timeout=0"})
    EXPECT_NE(error_of({timeout}).find("'dist_timeout' = "), std::string::npos) << timeout;
}

TEST(PretrainConfig, ConfigFileWithARepeatedKeyOrAFlatArchIsAnError) {
  TempDir dir("cfg_file_errors");
  auto error_of_file = [&](const std::string& text) {
    const std::string path = (dir.path / "c.yaml").string();
    write_file_atomic(path, text);
    try {
      ConfigBuilder b;
      b.merge_file(path);
      b.build();
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string dup = error_of_file("lr: 1e-4\nepochs: 10\narch:\n  hidden_size: 64\n  hidden_size: 128\n");
  EXPECT_NE(dup.find("c.yaml:5: key 'hidden_size' again (first on line 4)"), std::string::npos) << dup;
  const std::string top = error_of_file("lr: 1e-4\nlr: 2e-4\n");
  EXPECT_NE(top.find("c.yaml:2: key 'lr' again (first on line 1)"), std::string::npos) << top;
  const std::string flat = error_of_file("arch: [1, 2]\n");
  EXPECT_NE(flat.find("config key 'arch' ("), std::string::npos) << flat;
  EXPECT_NE(flat.find("expected a mapping of arch.* keys"), std::string::npos) << flat;
}

TEST(PretrainConfig, YamlFloatIsPythonReprInPyYamlForm) {
  EXPECT_EQ(yaml_float(1e-4), "0.0001");
  EXPECT_EQ(yaml_float(1e-5), "1.0e-05");
  EXPECT_EQ(yaml_float(7e-5), "7.0e-05");
  EXPECT_EQ(yaml_float(0.1), "0.1");
  EXPECT_EQ(yaml_float(0.95), "0.95");
  EXPECT_EQ(yaml_float(4.0), "4.0");
  EXPECT_EQ(yaml_float(10000.0), "10000.0");
  EXPECT_EQ(yaml_float(1e16), "1.0e+16");
  EXPECT_EQ(yaml_float(0.30000000000000004), "0.30000000000000004");
}

TEST(PretrainConfig, AllConfigYamlRoundTripsInTheReferenceLayout) {
  TempDir dir("cfg_roundtrip");
  PretrainConfig c =
      with({"lr=7e-5", "arch.hidden_size=64", "arch.num_heads=2", "eval_save_outputs=[logits]", "ema=True"});
  fill_names(c);
  save_all_config(c, dir.path.string());
  const std::string text = read_file((dir.path / "all_config.yaml").string());
  EXPECT_EQ(text.rfind("arch:\n", 0), 0u) << text;
  EXPECT_NE(text.find("  loss:\n    loss_type: \"stablemax_cross_entropy\"\n    name: \"losses@ACTLossHead\"\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("\nlr: 7.0e-05\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nproject_name: \"Arc-aug-1000 ACT-torch\"\n"), std::string::npos) << text;
  ConfigBuilder back;
  back.merge_file((dir.path / "all_config.yaml").string());
  EXPECT_EQ(to_yaml(back.build()), text);
}

// A quoted string in a YAML file stays the string: build() once parsed the unquoted text again, so
// `data_path: "/data/set #2"` resumed at /data/set and `run_name: "null"` became null.
TEST(PretrainConfig, QuotedStringsOfAFileSurviveResumeAndEval) {
  TempDir dir("cfg_quoted");
  PretrainConfig c = with({"data_path=\"/data/set #2\"", "run_name=\"null\"", "project_name=\"exp: lr 1e-4\""});
  EXPECT_EQ(c.data_path, "/data/set #2");
  fill_names(c);
  save_all_config(c, dir.path.string());
  ConfigBuilder back;
  back.merge_file((dir.path / "all_config.yaml").string());
  const PretrainConfig b = back.build();
  EXPECT_EQ(b.data_path, "/data/set #2");
  EXPECT_EQ(b.run_name, std::optional<std::string>("null"));
  EXPECT_EQ(b.project_name, std::optional<std::string>("exp: lr 1e-4"));
}

// key=value is read as YAML: a value that YAML would change (a comment, a tag, a block) is refused
// with the quoting that keeps it, rather than cut short ("Test #1" became "Test") or dropped.
TEST(PretrainConfig, AnOverrideThatYamlWouldChangeIsRefusedWithItsQuotedForm) {
  for (const char* o : {"run_name=Test #1", "run_name=x  # c", "run_name=#x", "run_name=!x y", "run_name=|", "data_path=%x"}) {
    const std::string e = error_of({o});
    EXPECT_NE(e.find("YAML reads its value as "), std::string::npos) << o << ": " << e;
    EXPECT_NE(e.find(", not as written; quote it to keep it: "), std::string::npos) << o << ": " << e;
  }
  EXPECT_NE(error_of({"run_name=Test #1"}).find("run_name='\"Test #1\"'"), std::string::npos);
  EXPECT_EQ(with({"run_name=\"Test #1\""}).run_name, std::optional<std::string>("Test #1"));
  EXPECT_EQ(with({"run_name=null"}).run_name, std::nullopt);
  EXPECT_DOUBLE_EQ(with({"lr= 1e-4 "}).lr, 1e-4);
  EXPECT_EQ(with({"arch.puzzle_emb_ndim=${.hidden_size}", "arch.hidden_size=64"}).arch.puzzle_emb_ndim, 64);
}

TEST(PretrainConfig, ReadsTheReferencesAllConfigYaml) {
  // The layout of yaml.dump(config.model_dump()) in the reference's save_code_and_config.
  TempDir dir("cfg_reference");
  write_file_atomic((dir.path / "all_config.yaml").string(), R"(arch:
  H_cycles: 2
  H_layers: 4
  L_cycles: 2
  L_layers: 4
  expansion: 4
  halt_exploration_prob: 0.1
  halt_max_steps: 16
  hidden_size: 512
  loss:
    loss_type: stablemax_cross_entropy
    name: losses@ACTLossHead
  name: hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1
  num_heads: 8
  pos_encodings: rope
  puzzle_emb_ndim: 512
beta1: 0.9
beta2: 0.95
checkpoint_every_eval: true
checkpoint_path: checkpoints/Sudoku-extreme-1k-aug-1000 ACT-torch/HierarchicalReasoningModel_ACTV1 amber-owl
data_path: data/sudoku-extreme-1k-aug-1000
epochs: 20000
eval_interval: 2000
eval_save_outputs: []
global_batch_size: 768
lr: 7.0e-05
lr_min_ratio: 1.0
lr_warmup_steps: 2000
project_name: Sudoku-extreme-1k-aug-1000 ACT-torch
puzzle_emb_lr: 7.0e-05
puzzle_emb_weight_decay: 1.0
run_name: HierarchicalReasoningModel_ACTV1 amber-owl
seed: 0
weight_decay: 1.0
)");
  ConfigBuilder b;
  b.merge_file((dir.path / "all_config.yaml").string());
  const PretrainConfig c = b.build();
  EXPECT_EQ(c.epochs, 20000);
  EXPECT_DOUBLE_EQ(c.lr, 7e-5);
  EXPECT_DOUBLE_EQ(c.weight_decay, 1.0);
  EXPECT_EQ(c.arch.puzzle_emb_ndim, 512);
  EXPECT_EQ(c.run_name, "HierarchicalReasoningModel_ACTV1 amber-owl");
}

TEST(PretrainConfig, ResumeStartsFromTheRunsAllConfigYaml) {
  TempDir dir("cfg_resume");
  PretrainConfig saved = with({"epochs=40", "eval_interval=10", "lr=3e-4"});
  save_all_config(saved, dir.path.string());
  const PretrainConfig c = with({"resume=" + dir.path.string(), "lr=1e-4"});
  EXPECT_EQ(c.epochs, 40);
  EXPECT_DOUBLE_EQ(c.lr, 1e-4);  // a later override still wins
  EXPECT_EQ(c.checkpoint_path, dir.path.string());
  EXPECT_EQ(c.resume, dir.path.string());
  EXPECT_THROW(load_pretrain_config(std::string("x.yaml"), {"resume=" + dir.path.string()}), ConfigError);
}

// resume= once ignored a checkpoint_path= beside it and wrote into the resumed folder anyway; a missing
// folder or a file was "no all_config.yaml in that directory".
TEST(PretrainConfig, ResumeRefusesAnotherCheckpointPathAndNamesAMissingOrFileFolder) {
  TempDir dir("cfg_resume2");
  save_all_config(with({"epochs=40", "eval_interval=10"}), dir.path.string());
  auto error_of = [](const std::vector<std::string>& overrides) -> std::string {
    try {
      load_pretrain_config(std::nullopt, overrides);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string r = "resume=" + dir.path.string();
  EXPECT_NE(error_of({r, "checkpoint_path=/tmp/elsewhere"}).find("cannot move it"), std::string::npos);
  EXPECT_EQ(with({r, "checkpoint_path=" + dir.path.string() + "/"}).checkpoint_path, dir.path.string());
  EXPECT_NE(error_of({"resume=" + dir.path.string() + "/missing"}).find(": no such folder"), std::string::npos);
  EXPECT_NE(error_of({"resume=" + dir.path.string() + "/all_config.yaml"}).find(": a file; expected the folder"),
            std::string::npos);
  EXPECT_NE(error_of({"resume="}).find("needs the folder"), std::string::npos);
}

// The saved state counts iterations of eval_interval epochs, inside a pass drawn from the seed: a
// resume with another unit trained too many or too few epochs without a word, another seed drew the
// rest of the pass from another permutation. Both are refused; epochs may change (more training).
TEST(PretrainConfig, ResumeRefusesAnotherIterationUnitOrSeed) {
  TempDir dir("cfg_resume3"), whole("cfg_resume4");
  save_all_config(with({"epochs=40", "eval_interval=10"}), dir.path.string());
  const std::string r = "resume=" + dir.path.string();
  EXPECT_EQ(with({r, "epochs=80"}).epochs, 80);
  EXPECT_NE(error_of({r, "eval_interval=20"}).find(": the run evaluates every 10 epochs (eval_interval=10) and its saved state "
                                                   "counts iterations of that many; this config makes it 20: keep eval_interval=10"),
            std::string::npos) << error_of({r, "eval_interval=20"});
  EXPECT_NE(error_of({r, "seed=7"}).find(": seed=7 differs from the run's 0"), std::string::npos);
  save_all_config(with({"epochs=40", "eval_interval=null"}), whole.path.string());  // one iteration of all epochs
  EXPECT_NE(error_of({"resume=" + whole.path.string(), "epochs=80"}).find("(eval_interval=null, epochs=40)"), std::string::npos);
  EXPECT_EQ(with({"resume=" + whole.path.string(), "epochs=80", "eval_interval=40"}).epochs_per_iter(), 40);
}

TEST(PretrainConfig, FillNamesAsTheReference) {
  PretrainConfig c = with({"data_path=data/sudoku-extreme-1k-aug-1000"});
  fill_names(c);
  EXPECT_EQ(c.project_name, "Sudoku-extreme-1k-aug-1000 ACT-torch");
  EXPECT_EQ(c.run_name->rfind("HierarchicalReasoningModel_ACTV1 ", 0), 0u);
  EXPECT_EQ(*c.checkpoint_path, "checkpoints/" + *c.project_name + "/" + *c.run_name);
}

}  // namespace
}  // namespace hrm::train
