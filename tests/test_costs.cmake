# test_costs.cmake (read by ctest after the discovered tests): the longest tests start first in a
# parallel run. COST orders `ctest -j`; without it a fresh build directory starts tests in the
# order they were registered, and a long one that happens to start last runs alone at the end
# (the learning test did under the unity build: +3 minutes). Seconds measured on 2 cores; only
# tests that both the wheel and the Debian fallback build have. ctest ignores a name that no longer
# exists without a word: a renamed test only loses its place at the front.
set_tests_properties(Learning.TinyHrmSolvesHeldOut4x4SudokuAfterAFewCpuMinutes PROPERTIES COST 225)
set_tests_properties(CmdBench.ModelPuzzleEmbeddingFollowsHiddenSizeUnlessGiven PROPERTIES COST 33)
