// The pieces of data-parallel runs that one process can check: a generator
// drawing rows of a shared batch (Generator::set_rows) against the whole
// draw, the split of a batch between ranks, and the collectives of a run of
// one. tests/test_distributed_apps.cpp runs the programs under mpirun.
#include <gtest/gtest.h>

#include "autograd/distributed.h"
#include "autograd/generator.h"
#include "autograd/ops.h"

namespace distributed_test {

using ag::Generator;
using ag::Tensor;

// Rows [begin, end) of a draw of `total` rows of `row_shape`, drawn whole
// and drawn as rows, and the generators' offsets after each.
void expect_rows_match(ag::RandomKind kind, int64_t begin, int64_t end, int64_t total,
                       const ag::Shape& row_shape) {
  ag::Shape whole_shape = row_shape, part_shape = row_shape;
  whole_shape.insert(whole_shape.begin(), total);
  part_shape.insert(part_shape.begin(), end - begin);
  Generator whole(7), part(7);
  whole.reserve(5), part.reserve(5);  // start mid-stream
  const Tensor all =
      ag::random_draw(kind, whole_shape, whole, 0.3, ag::DType::F32, ag::Device::CPU);
  Tensor mine;
  {
    ag::RowsGuard rows(part, begin, total);
    mine = ag::random_draw(kind, part_shape, part, 0.3, ag::DType::F32, ag::Device::CPU);
  }
  EXPECT_EQ(part.offset(), whole.offset());
  EXPECT_EQ(part.rows_total(), 0) << "the guard restores whole draws";
  const std::vector<float> want = ag::slice(all, 0, begin, end).contiguous().to_vector<float>();
  const std::vector<float> got = mine.to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
}

TEST(GeneratorRows, DrawsTheRowsOfTheWholeBatch) {
  // rows of 3 elements start at every word of a Philox block; rows of 4 on
  // a block's edge
  for (ag::RandomKind kind :
       {ag::RandomKind::Normal, ag::RandomKind::Uniform, ag::RandomKind::Bernoulli})
    for (int64_t begin = 0; begin < 6; ++begin) {
      expect_rows_match(kind, begin, begin + 3, 9, {3});
      expect_rows_match(kind, begin, 7, 7, {2, 2});
    }
}

TEST(GeneratorRows, RandnAndDropoutHonourTheRows) {
  Generator whole(3), part(3);
  const Tensor all = ag::randn({6, 5}, &whole);
  ag::RowsGuard rows(part, 2, 6);
  const Tensor mine = ag::randn({3, 5}, &part);
  EXPECT_EQ(mine.to_vector<float>(), ag::slice(all, 0, 2, 5).contiguous().to_vector<float>());
  const Tensor ones = ag::ones({3, 5});
  const Tensor kept = ag::dropout(ones, 0.5, true, &part);
  const Tensor kept_all = ag::dropout(ag::ones({6, 5}), 0.5, true, &whole);
  EXPECT_EQ(kept.to_vector<float>(), ag::slice(kept_all, 0, 2, 5).contiguous().to_vector<float>());
  EXPECT_EQ(part.offset(), whole.offset());
}

TEST(GeneratorRows, RowsOutsideTheBatchAreErrors) {
  Generator g(1);
  EXPECT_THROW(g.set_rows(4, 4), std::runtime_error);
  EXPECT_THROW(g.set_rows(1, 0), std::runtime_error);
  g.set_rows(2, 4);
  EXPECT_THROW(ag::randn({3, 2}, &g), std::runtime_error);  // rows 2..4 of 4
  EXPECT_THROW(ag::randn({}, &g), std::runtime_error);      // no rows at all
}

TEST(DistributedRows, SplitsABatchEvenlyInRankOrder) {
  for (int ranks : {1, 2, 3, 5})
    for (int64_t n : {5, 6, 7, 64}) {
      int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const ag::dist::Rows rows = ag::dist::rows_of(n, r, ranks);
        EXPECT_EQ(rows.begin, next) << n << " rows, rank " << r << " of " << ranks;
        EXPECT_GE(rows.count(), n / ranks);
        EXPECT_LE(rows.count(), n / ranks + 1);
        next = rows.end;
      }
      EXPECT_EQ(next, n);
    }
  EXPECT_EQ(ag::dist::rows_of(7, 0, 2).count(), 4);
  EXPECT_EQ(ag::dist::rows_of(7, 1, 2).begin, 4);
}

TEST(Distributed, OneProcessIsTheIdentity) {
  ASSERT_EQ(ag::dist::size(), 1) << "the test runs alone, not under mpirun";
  EXPECT_EQ(ag::dist::rank(), 0);
  const Tensor t = ag::from_vector(std::vector<float>{1, 2, 3}, {3});
  ag::dist::all_reduce_sum(t);
  ag::dist::broadcast(t);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(ag::dist::gather_rows(t, 3).to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(ag::dist::sum(2.5), 2.5);
  EXPECT_TRUE(ag::dist::any(true));
  EXPECT_FALSE(ag::dist::any(false));
}

}  // namespace distributed_test
