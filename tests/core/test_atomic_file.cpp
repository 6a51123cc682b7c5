// test_atomic_file.cpp: tests of src/core/atomic_file.cpp around the atomic write itself: the
// temporaries of killed writers are cleared (and a live writer's kept), and an output option never
// replaces a file of another kind.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/remove_tree.h"

namespace hrm {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("hrm_atomic_" + name + "_" + std::to_string(::getpid()));
  remove_tree(d.string());
  fs::create_directories(d);
  return d;
}

// A directory read as a file looked empty ("empty file; expected a header row"); a byte-order mark
// counted as three characters of a Sudoku line.
TEST(ReadFile, ADirectoryIsNamedAndTextLosesItsByteOrderMark) {
  const fs::path d = fresh_dir("read");
  try {
    read_file(d.string());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.string() + " is a directory; expected a file"), std::string::npos) << e.what();
  }
  write_file_atomic((d / "bom.txt").string(), "\xEF\xBB\xBF" "12.4\n");
  EXPECT_EQ(read_text_file((d / "bom.txt").string()), "12.4\n");
  EXPECT_EQ(read_file((d / "bom.txt").string()).size(), 8u);  // binary reads keep every byte
  remove_tree(d.string());
}

TEST(AtomicFile, StaleTemporariesOfGoneProcessesAreRemovedAndLiveOnesKept) {
  const fs::path d = fresh_dir("stale");
  // 4194305 = 2^22 + 1, above Linux's largest pid_max: no such process.
  std::ofstream(d / "train_state.pt.tmp-4194305") << "half";
  fs::create_directories(d / ".ds.tmp-4194305-0" / "train");
  const std::string live = "step_8.tmp-" + std::to_string(::getpid());
  std::ofstream(d / live) << "being written";
  std::ofstream(d / "step_8") << "a checkpoint";
  std::ofstream(d / "notes.tmp-later") << "not a temporary of ours";
  fs::create_directories(d / "notes.tmp-2024-05-01");  // a user's name that merely looks like one

  EXPECT_EQ(remove_stale_temporaries(d.string(), ".ds."), 1);  // the prefix limits it to that output's
  EXPECT_FALSE(fs::exists(d / ".ds.tmp-4194305-0"));
  EXPECT_TRUE(fs::exists(d / "train_state.pt.tmp-4194305"));
  EXPECT_EQ(remove_stale_temporaries(d.string()), 1);
  EXPECT_FALSE(fs::exists(d / "train_state.pt.tmp-4194305"));
  for (const std::string kept : {live, std::string("step_8"), std::string("notes.tmp-later"), std::string("notes.tmp-2024-05-01")})
    EXPECT_TRUE(fs::exists(d / kept)) << kept;
  remove_tree(d.string());
}

TEST(AtomicFile, OutputOfAnotherKindIsNotReplaced) {
  const fs::path d = fresh_dir("replace");
  const std::string html = (d / "r.html").string(), ckpt = (d / "step_8").string(), empty = (d / "empty").string();
  const auto is_html = [](const std::string& c) { return starts_after_space(c, "<!DOCTYPE html"); };
  write_file_atomic(html, "\n  <!DOCTYPE html>\n<html>...");
  write_file_atomic(ckpt, std::string("PK\x03\x04", 4) + "archive/data.pkl");
  write_file_atomic(empty, " \n");
  EXPECT_NO_THROW(check_replaceable(html, is_html, "an HTML report"));
  EXPECT_NO_THROW(check_replaceable(empty, is_html, "an HTML report"));
  EXPECT_NO_THROW(check_replaceable((d / "new.html").string(), is_html, "an HTML report"));
  EXPECT_NO_THROW(check_replaceable("new_here.html", is_html, "an HTML report"));  // the current folder
  try {  // said before the work (the write failed after it, naming a temporary)
    check_replaceable((d / "no" / "r.html").string(), is_html, "an HTML report");
    ADD_FAILURE() << "a missing folder was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its folder " + (d / "no").string() + " does not exist"), std::string::npos)
        << e.what();
  }
  try {
    check_replaceable(ckpt, is_html, "an HTML report");
    ADD_FAILURE() << "a checkpoint was allowed to be replaced";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(ckpt + ": exists and is not an HTML report"), std::string::npos) << e.what();
  }
  const auto any = [](const std::string&) { return true; };
  EXPECT_THROW(check_replaceable(d.string(), any, "a JSON file"), Error);  // a directory
  write_file_atomic((d / "dataset.json").string(), "{\"pad_id\": 0}");
  EXPECT_THROW(check_replaceable((d / "dataset.json").string(), any, "a JSON file"), Error);
  remove_tree(d.string());
}

}  // namespace
}  // namespace hrm
