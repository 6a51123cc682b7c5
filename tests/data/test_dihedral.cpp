// test_dihedral.cpp: tests src/data/dihedral.h against numpy's results for the reference's
// dihedral_transform (values below printed by numpy 2.x for np.arange(6).reshape(2, 3)).
#include <gtest/gtest.h>

#include "data/dihedral.h"

namespace hrm::dihedral {
namespace {

TEST(Dihedral, MatchesNumpyOnANonSquareGrid) {
  const std::vector<int> a{0, 1, 2, 3, 4, 5};  // 2 x 3
  const std::vector<std::vector<int>> numpy = {
      {0, 1, 2, 3, 4, 5},  // identity
      {2, 5, 1, 4, 0, 3},  // np.rot90(a, 1)
      {5, 4, 3, 2, 1, 0},  // np.rot90(a, 2)
      {3, 0, 4, 1, 5, 2},  // np.rot90(a, 3)
      {2, 1, 0, 5, 4, 3},  // np.fliplr(a)
      {3, 4, 5, 0, 1, 2},  // np.flipud(a)
      {0, 3, 1, 4, 2, 5},  // a.T
      {5, 2, 4, 1, 3, 0},  // np.fliplr(np.rot90(a, 1))
  };
  for (int t = 0; t < kCount; ++t) {
    EXPECT_EQ(transform(a, 2, 3, t), numpy[static_cast<size_t>(t)]) << "tid " << t;
    const auto [h, w] = output_shape(t, 2, 3);
    EXPECT_EQ(h * w, 6);
    EXPECT_EQ(h, swaps_sides(t) ? 3 : 2) << "tid " << t;
  }
}

TEST(Dihedral, InverseUndoesEveryTransform) {
  std::vector<int> a(4 * 7);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int>(i * 7 % 29);
  for (int t = 0; t < kCount; ++t) {
    const auto [h, w] = output_shape(t, 4, 7);
    EXPECT_EQ(inverse_transform(transform(a, 4, 7, t), h, w, t), a) << "tid " << t;
  }
}

TEST(Dihedral, RejectsBadIdsAndSizes) {
  const std::vector<int> a{1, 2, 3, 4};
  EXPECT_THROW(transform(a, 2, 2, 8), Error);
  EXPECT_THROW(transform(a, 3, 2, 0), Error);
}

}  // namespace
}  // namespace hrm::dihedral
