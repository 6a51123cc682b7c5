// build_maze.cpp: see build_maze.h.
#include "data/build_maze.h"

#include <cstddef>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/rng.h"
#include "data/dihedral.h"

namespace hrm::data {
namespace {

std::vector<maze::MazeRecord> subsample(std::vector<maze::MazeRecord> records, int64_t size, uint64_t seed) {
  const int64_t total = static_cast<int64_t>(records.size());
  if (size < 0) HRM_THROW(ConfigError, "--subsample-size must be >= 0, got ", size);
  if (size >= total) return records;
  // np.random.choice(total, size, replace=False): distinct rows in draw order, here from a seeded Rng.
  Rng rng = Rng::derive(seed, 0x5ab5a3b1e);
  std::vector<int64_t> idx(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) idx[static_cast<size_t>(i)] = i;
  std::vector<maze::MazeRecord> out;
  for (int64_t i = 0; i < size; ++i) {
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(rng.integers(i, total))]);
    out.push_back(std::move(records[static_cast<size_t>(idx[static_cast<size_t>(i)])]));
  }
  return out;
}

std::vector<maze::MazeRecord> to_records(const std::vector<maze::GeneratedMaze>& mazes, uint64_t seed) {
  std::vector<maze::MazeRecord> out;
  int64_t line = 2;
  for (const auto& m : mazes)
    out.push_back({"hrm-maze seed=" + std::to_string(seed) + " attempt=" + std::to_string(m.attempt), m.question, m.answer,
                   std::to_string(m.path_length), line++});
  return out;
}

DatasetMetadata maze_metadata() {
  DatasetMetadata m;  // build_maze_dataset.py: pad 0, ignore 0, blank 0, one identifier
  m.pad_id = 0;
  m.ignore_label_id = 0;
  m.blank_identifier_id = 0;
  m.num_puzzle_identifiers = 1;
  return m;
}

}  // namespace

void write_maze_split(SplitWriter& split, const std::vector<maze::MazeRecord>& records, int64_t side, bool aug, bool check,
                      const std::string& name) {
  std::vector<uint8_t> in(static_cast<size_t>(side * side)), out(in.size());
  for (const auto& r : records) {
    if (check) maze::check_maze(r, side, name);
    const std::string where = name + ":" + std::to_string(r.line);
    if (static_cast<int64_t>(r.question.size()) != side * side || r.answer.size() != r.question.size())
      HRM_THROW(FormatError, where, ": expected ", side * side, "-character question and answer (side ", side,
                " from the first row), found ", r.question.size(), " and ", r.answer.size());
    const std::vector<uint8_t> q = maze::encode(r.question, where + " (question)");
    const std::vector<uint8_t> a = maze::encode(r.answer, where + " (answer)");
    split.begin_group();
    for (int t = 0; t < (aug ? dihedral::kCount : 1); ++t) {
      dihedral::transform(q.data(), side, side, t, in.data());
      dihedral::transform(a.data(), side, side, t, out.data());
      split.begin_puzzle(0);
      split.add_example(in.data(), out.data());
    }
  }
}

MazeBuildSummary build_maze_dataset(const MazeBuildConfig& cfg) {
  check_dataset_output(cfg.output_dir, cfg.input_dir.empty() ? std::vector<std::string>{} : std::vector<std::string>{cfg.input_dir});
  MazeBuildSummary summary;
  std::vector<maze::MazeRecord> splits[2];
  std::string names[2] = {"train.csv", "test.csv"};
  if (!cfg.input_dir.empty()) {
    for (int s = 0; s < 2; ++s) {
      names[s] = (std::filesystem::path(cfg.input_dir) / names[s]).string();
      splits[s] = maze::read_maze_csv(names[s]);
    }
  } else {
    maze::GeneratorConfig g = cfg.generator;
    g.seed = cfg.seed;
    const maze::GeneratedSplits gen = maze::generate(g, cfg.train_size, cfg.test_size, cfg.threads);
    summary.attempts = gen.attempts;
    splits[0] = to_records(gen.train, cfg.seed);
    splits[1] = to_records(gen.test, cfg.seed);
  }
  if (cfg.subsample_size) splits[0] = subsample(std::move(splits[0]), *cfg.subsample_size, cfg.seed);

  DatasetWriter writer(cfg.output_dir);
  const char* split_names[2] = {"train", "test"};
  for (int s = 0; s < 2; ++s) {
    const bool generated = cfg.input_dir.empty();
    if (splits[s].empty() && !generated) HRM_THROW(FormatError, names[s], ": no mazes (the grid size comes from the first row)");
    // As the reference: the side comes from the first row.
    const int64_t side = splits[s].empty() ? cfg.generator.side : maze::grid_side(splits[s][0].question);
    SplitWriter& w = writer.split(split_names[s], side * side, maze::kVocabSize);
    write_maze_split(w, splits[s], side, cfg.aug && s == 0, cfg.check, names[s]);
    w.finish(maze_metadata());
    (s == 0 ? summary.train_examples : summary.test_examples) = w.examples();
  }
  if (cfg.input_dir.empty() && cfg.save_csv) {
    std::filesystem::create_directories(writer.temp_dir() / "input");
    for (int s = 0; s < 2; ++s)
      write_file_atomic((writer.temp_dir() / "input" / (std::string(split_names[s]) + ".csv")).string(),
                        maze::format_maze_csv(splits[s]));
  }
  writer.commit({"<blank>"});
  return summary;
}

}  // namespace hrm::data
