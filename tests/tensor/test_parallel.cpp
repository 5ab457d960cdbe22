// The engine's own threads (tensor/parallel.hpp): ranges cut at whole grains and covered once,
// each thread starting with its own block of pieces, a product's tiles covered once around their
// part, a short-K product split by the size of its output, the direction of each cut, the pieces
// claimed by every thread of the pool, nested and concurrent callers served serially without
// deadlock, a worker's exception rethrown on the caller, and the split kernels and products equal
// to their one-thread results (pointwise bit for bit, GEMM against a naive double loop), and a
// split minibatch gather.
#define BOOST_TEST_MODULE tensor_parallel
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
// Sets the engine's thread count for a scope and restores 1 after it (tests share the process).
struct Threads {
  explicit Threads(int n) { set_threads(n); }
  ~Threads() { set_threads(1); }
};

struct Piece {
  int64_t begin, end;
  std::thread::id who;
};
std::vector<Piece> pieces_of(int64_t n, int64_t grain, int64_t min_len,
                             std::chrono::milliseconds nap = std::chrono::milliseconds(0)) {
  std::mutex m;
  std::vector<Piece> out;
  parallel::for_ranges(n, grain, min_len, [&](int64_t b, int64_t e) {
    if (nap.count()) std::this_thread::sleep_for(nap);
    std::lock_guard<std::mutex> g(m);
    out.push_back({b, e, std::this_thread::get_id()});
  });
  std::sort(out.begin(), out.end(), [](const Piece& x, const Piece& y) { return x.begin < y.begin; });
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(set_threads_checks_its_range) {
  BOOST_CHECK_THROW(set_threads(0), std::invalid_argument);
  BOOST_CHECK_THROW(set_threads(65), std::invalid_argument);
  BOOST_TEST(threads() == 1);
}

BOOST_AUTO_TEST_CASE(one_thread_is_one_piece_on_the_caller) {
  const auto p = pieces_of(100000, 64, 10);
  BOOST_TEST_REQUIRE(p.size() == 1u);
  BOOST_TEST(p[0].begin == 0);
  BOOST_TEST(p[0].end == 100000);
  BOOST_TEST((p[0].who == std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(ranges_cover_once_at_whole_grains_on_distinct_threads) {
  for (int n_threads : {2, 3}) {
    const Threads t(n_threads);
    BOOST_TEST_CONTEXT("threads " << n_threads) {
      const int64_t n = 100003, grain = 64;
      // Each piece sleeps, so no one thread can take them all before the others wake.
      const auto p = pieces_of(n, grain, 1000, std::chrono::milliseconds(3));
      BOOST_TEST_REQUIRE(p.size() == static_cast<size_t>(4 * n_threads));  // 4 per thread by default
      BOOST_TEST(p.front().begin == 0);
      BOOST_TEST(p.back().end == n);
      std::set<std::thread::id> who;
      for (size_t i = 0; i < p.size(); ++i) {
        if (i + 1 < p.size()) BOOST_TEST(p[i].end == p[i + 1].begin);  // contiguous, no overlap
        BOOST_TEST(p[i].begin % grain == 0);
        BOOST_TEST(p[i].end > p[i].begin);
        who.insert(p[i].who);
      }
      BOOST_TEST(who.size() == static_cast<size_t>(n_threads));  // every thread claimed pieces, the caller too
      BOOST_TEST(who.count(std::this_thread::get_id()) == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(short_ranges_stay_on_one_thread) {
  const Threads t(2);
  BOOST_TEST(pieces_of(1999, 1, 1000).size() == 1u);  // under 2 * min_len
  BOOST_TEST(pieces_of(2000, 1, 1000).size() == 2u);
  BOOST_TEST(pieces_of(100000, 1, 10).size() == 8u);  // 4 per thread at most
  BOOST_TEST(pieces_of(64, 64, 1).size() == 1u);  // one grain cannot be split
  BOOST_TEST(pieces_of(0, 64, 1).empty());
}

BOOST_AUTO_TEST_CASE(a_nested_split_runs_serially_inside_its_piece) {
  const Threads t(2);
  std::atomic<int64_t> total{0};
  std::atomic<int> inner_pieces{0}, elsewhere{0};
  parallel::for_ranges(4000, 1, 1000, [&](int64_t b, int64_t e) {
    const std::thread::id outer = std::this_thread::get_id();
    parallel::for_ranges(e - b, 1, 10, [&](int64_t ib, int64_t ie) {
      inner_pieces.fetch_add(1);
      if (std::this_thread::get_id() != outer) elsewhere.fetch_add(1);
      total.fetch_add(ie - ib);
    });
  });
  BOOST_TEST(total.load() == 4000);
  BOOST_TEST(inner_pieces.load() == 4 * 8);  // cut as always (4 outer, 8 inner each): bits never depend on nesting
  BOOST_TEST(elsewhere.load() == 0);     // but each inner piece ran on its outer piece's thread
}

BOOST_AUTO_TEST_CASE(two_callers_at_once_both_finish_with_every_element) {
  const Threads t(2);
  std::vector<int> a(200000, 0), b(200000, 0);
  auto fill = [](std::vector<int>& v) {
    for (int rep = 0; rep < 200; ++rep)
      parallel::for_ranges(static_cast<int64_t>(v.size()), 64, 1000, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) v[i] += 1;
      });
  };
  std::thread other([&] { fill(b); });
  fill(a);
  other.join();
  for (size_t i = 0; i < a.size(); i += 997) {
    BOOST_TEST(a[i] == 200);
    BOOST_TEST(b[i] == 200);
  }
}

BOOST_AUTO_TEST_CASE(a_workers_exception_reaches_the_caller_and_the_pool_still_works) {
  const Threads t(2);
  BOOST_CHECK_THROW(parallel::for_ranges(4000, 1, 1000,
                                         [&](int64_t b, int64_t) {
                                           if (b > 0) throw std::runtime_error("piece after the first");
                                         }),
                    std::runtime_error);
  BOOST_TEST(pieces_of(4000, 1, 1000).size() == 4u);  // and the pool still runs every piece
}

BOOST_AUTO_TEST_CASE(pointwise_kernels_give_the_same_bits_at_one_and_two_threads) {
  Rng rng(3);
  const TensorF a = TensorF::normal({1000, 131}, 0, 1, rng), b = TensorF::normal({1000, 131}, 0, 1, rng);
  const TensorF row = TensorF::normal({131}, 0, 1, rng);
  auto run = [&] {
    std::vector<TensorF> out;
    out.push_back(map(a, [](auto x) {
      using std::exp;
      using xsimd::exp;
      return exp(x) * x;
    }));
    out.push_back(mul(a, b));
    out.push_back(add(a, row));  // the row-broadcast path
    TensorF y = b.clone();
    vec::axpy(y.numel(), 0.3f, a.data(), y.data());
    out.push_back(y);
    return out;
  };
  const auto one = run();
  std::vector<TensorF> two;
  {
    const Threads t(2);
    two = run();
  }
  for (size_t k = 0; k < one.size(); ++k)
    for (int64_t i = 0; i < one[k].numel(); ++i)
      if (one[k][i] != two[k][i]) {
        BOOST_ERROR("kernel " << k << " element " << i << ": " << one[k][i] << " vs " << two[k][i]);
        break;
      }
}

// A minibatch gather large enough to split (300 rows of 131 > 2 * vec::kSplitMin elements): rows
// repeated and out of order land where they belong, and a row out of range throws.
BOOST_AUTO_TEST_CASE(a_split_gather_copies_every_row_to_its_place) {
  Rng rng(4);
  const TensorF a = TensorF::normal({500, 131}, 0, 1, rng);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 300; ++i) rows.push_back((i * 37 + 11) % 500 / (i % 7 == 0 ? 2 : 1));
  const Threads t(2);
  const TensorF g = index_select(a, rows);
  BOOST_TEST(g.shape() == (Shape{300, 131}), tt::per_element());
  int64_t wrong = 0;
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 131; ++j) wrong += g[i * 131 + j] != a[rows[i] * 131 + j];
  BOOST_TEST(wrong == 0);
  rows[250] = 500;
  BOOST_CHECK_THROW(index_select(a, rows), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(split_products_match_a_naive_loop_along_rows_and_columns) {
  const Threads t(2);
  Rng rng(4);
  // Tall C (split along rows), wide C (along columns), every transpose flag, and gemm_into's beta.
  for (auto [M, N] : {std::pair<int64_t, int64_t>{300, 70}, {70, 300}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        BOOST_TEST_CONTEXT("M " << M << " N " << N << " ta " << ta << " tb " << tb) {
          const int64_t K = 129;
          const TensorD a = TensorD::normal(ta ? Shape{K, M} : Shape{M, K}, 0, 1, rng);
          const TensorD b = TensorD::normal(tb ? Shape{N, K} : Shape{K, N}, 0, 1, rng);
          TensorD c = TensorD::normal({M, N}, 0, 1, rng);
          const TensorD c0 = c.clone();
          gemm_into(a, b, c, ta, tb, 0.5, 2.0);
          double worst = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double s = 0;
              for (int64_t k = 0; k < K; ++k) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
              worst = std::max(worst, std::abs(c[i * N + j] - (0.5 * s + 2.0 * c0[i * N + j])));
            }
          BOOST_TEST(worst < 1e-11);
        }
      }
}

// The tiles a split product hands to gemm_into's before/after cover C exactly once, each after its
// own product part (here: before fills the tile with 1s for beta = 1, after doubles it), at one and
// two threads, along rows and along columns.
BOOST_AUTO_TEST_CASE(product_tiles_cover_the_output_once_around_their_part) {
  Rng rng(5);
  for (int n_threads : {1, 2})
    for (auto [M, N] : {std::pair<int64_t, int64_t>{300, 70}, {70, 300}, {5, 3}}) {
      const Threads t(n_threads);
      BOOST_TEST_CONTEXT("threads " << n_threads << " M " << M << " N " << N) {
        const int64_t K = 129;
        const TensorD a = TensorD::normal({M, K}, 0, 1, rng), b = TensorD::normal({N, K}, 0, 1, rng);
        TensorD c = TensorD::full({M, N}, -7.0);  // before() overwrites every element of it
        std::vector<int> filled(static_cast<size_t>(M * N), 0), doubled(static_cast<size_t>(M * N), 0);
        std::mutex m;
        int tiles = 0;
        auto before = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
          const std::lock_guard<std::mutex> g(m);
          ++tiles;
          for (int64_t i = r0; i < r1; ++i)
            for (int64_t j = c0; j < c1; ++j) c[i * N + j] = 1.0, ++filled[i * N + j];
        };
        auto after = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
          const std::lock_guard<std::mutex> g(m);
          for (int64_t i = r0; i < r1; ++i)
            for (int64_t j = c0; j < c1; ++j) c[i * N + j] *= 2.0, ++doubled[i * N + j];
        };
        gemm_into(a, b, c, false, true, 1.0, 1.0, TileFn(before), TileFn(after));
        if (n_threads == 2 && M * N > 1000) BOOST_TEST(tiles == 2);  // one tile per thread
        if (n_threads == 1) BOOST_TEST(tiles == 1);
        double worst = 0;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) s += a[i * K + k] * b[j * K + k];
            worst = std::max(worst, std::abs(c[i * N + j] - 2.0 * (1.0 + s)));
            BOOST_TEST_REQUIRE(filled[i * N + j] == 1);
            BOOST_TEST_REQUIRE(doubled[i * N + j] == 1);
          }
        BOOST_TEST(worst < 1e-11);
      }
    }
}

// A product with a short K is bound by writing C, so it is split once C alone is as large as a
// pointwise kernel that would be split (2 * vec::kSplitMin elements): a flow's first layer (K = 2)
// on a batch of 256 is. A smaller C with as short a K stays whole on the caller.
BOOST_AUTO_TEST_CASE(a_short_product_splits_by_the_size_of_its_output) {
  const Threads t(2);
  Rng rng(6);
  for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{256, 128, 2}, {128, 256, 2}, {128, 128, 2}, {256, 16, 4}}) {
    BOOST_TEST_CONTEXT("M " << M << " N " << N << " K " << K) {
      const TensorD a = TensorD::normal({M, K}, 0, 1, rng), b = TensorD::normal({K, N}, 0, 1, rng);
      TensorD c = TensorD::full({M, N}, 3.0);
      std::mutex m;
      int tiles = 0;
      auto count = [&](int64_t, int64_t, int64_t, int64_t) {
        const std::lock_guard<std::mutex> g(m);
        ++tiles;
      };
      gemm_into(a, b, c, false, false, 1.0, 0.5, TileFn(count));
      BOOST_TEST(tiles == (M * N >= 2 * vec::kSplitMin ? 2 : 1));
      double worst = 0;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = 1.5;
          for (int64_t k = 0; k < K; ++k) s += a[i * K + k] * b[k * N + j];
          worst = std::max(worst, std::abs(c[i * N + j] - s));
        }
      BOOST_TEST(worst < 1e-12);
    }
  }
}

// Which way a product is cut (measured per shape, tensor/matmul.cpp): a weight gradient gᵀ x (A
// transposed) along C's rows even when C is wider than tall, x Wᵀ of a wide layer with a long K
// along its columns, and a short K along rows.
BOOST_AUTO_TEST_CASE(a_weight_gradient_splits_along_rows_and_a_wide_layer_along_columns) {
  const Threads t(2);
  Rng rng(7);
  struct Case { bool ta, tb; int64_t M, N, K; bool rows; };
  for (const Case& k : {Case{true, false, 400, 784, 128, true}, Case{false, true, 128, 400, 784, false},
                        Case{false, true, 128, 400, 32, true}, Case{false, false, 300, 70, 129, true}}) {
    BOOST_TEST_CONTEXT("ta " << k.ta << " tb " << k.tb << " M " << k.M << " N " << k.N << " K " << k.K) {
      const TensorF a = TensorF::normal(k.ta ? Shape{k.K, k.M} : Shape{k.M, k.K}, 0, 1, rng);
      const TensorF b = TensorF::normal(k.tb ? Shape{k.N, k.K} : Shape{k.K, k.N}, 0, 1, rng);
      TensorF c({k.M, k.N});
      std::mutex m;
      std::vector<std::array<int64_t, 4>> tiles;
      auto record = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        const std::lock_guard<std::mutex> g(m);
        tiles.push_back({r0, r1, c0, c1});
      };
      gemm_into(a, b, c, k.ta, k.tb, 1.0f, 0.0f, TileFn(record));
      BOOST_TEST_REQUIRE(tiles.size() == 2u);
      for (const auto& tile : tiles) {
        if (k.rows) BOOST_TEST((tile[2] == 0 && tile[3] == k.N && tile[1] - tile[0] < k.M));
        else BOOST_TEST((tile[0] == 0 && tile[1] == k.M && tile[3] - tile[2] < k.N));
      }
    }
  }
}

// Products cut so that each core reads the batch rows it wrote (tensor/matmul.cpp): a weight
// gradient gᵀ x whose batch K is at least C's height is cut along K into per-thread partials (so
// before/after see C whole, once), and must not read C when beta = 0; a product whose A is a large
// block of batch rows is cut along them however little work it does (the 4-output layer's x Wᵀ).
BOOST_AUTO_TEST_CASE(products_are_cut_along_the_batch_rows_each_core_wrote) {
  const Threads t(2);
  Rng rng(8);
  struct Case { bool ta, tb; int64_t M, N, K; double beta; size_t tiles; };
  for (const Case& k : {Case{true, false, 128, 128, 256, 0.0, 1}, Case{true, true, 4, 128, 256, 1.0, 1},
                        Case{true, false, 128, 2, 257, 0.0, 1}, Case{false, true, 256, 4, 128, 1.0, 2}}) {
    BOOST_TEST_CONTEXT("ta " << k.ta << " tb " << k.tb << " M " << k.M << " N " << k.N << " K " << k.K) {
      const TensorD a = TensorD::normal(k.ta ? Shape{k.K, k.M} : Shape{k.M, k.K}, 0, 1, rng);
      const TensorD b = TensorD::normal(k.tb ? Shape{k.N, k.K} : Shape{k.K, k.N}, 0, 1, rng);
      TensorD c = k.beta == 0 ? TensorD::full({k.M, k.N}, std::nan("")) : TensorD::normal({k.M, k.N}, 0, 1, rng);
      const TensorD c0 = c.clone();
      std::mutex m;
      std::vector<std::array<int64_t, 4>> tiles;
      auto record = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        const std::lock_guard<std::mutex> g(m);
        tiles.push_back({r0, r1, c0, c1});
      };
      gemm_into(a, b, c, k.ta, k.tb, 0.5, k.beta, TileFn(record));
      BOOST_TEST_REQUIRE(tiles.size() == k.tiles);
      if (k.tiles == 1) BOOST_TEST((tiles[0] == std::array<int64_t, 4>{0, k.M, 0, k.N}));
      double worst = 0;
      for (int64_t i = 0; i < k.M; ++i)
        for (int64_t j = 0; j < k.N; ++j) {
          double s = 0;
          for (int64_t q = 0; q < k.K; ++q)
            s += (k.ta ? a[q * k.M + i] : a[i * k.K + q]) * (k.tb ? b[j * k.K + q] : b[q * k.N + j]);
          const double want = 0.5 * s + (k.beta == 0 ? 0.0 : k.beta * c0[i * k.N + j]);
          BOOST_TEST_REQUIRE(std::isfinite(c[i * k.N + j]));  // C was read at beta = 0
          worst = std::max(worst, std::abs(c[i * k.N + j] - want));
        }
      BOOST_TEST(worst < 1e-11);
    }
  }
}

// Each thread runs the pieces of its own block first (the caller pieces [0, P/2), the worker the
// rest, at two threads), so the rows a product wrote on one core are the rows the next kernel
// of the same length reads there. The caller's first piece is always 0; the worker, unless it
// woke only after the caller had taken three pieces (150 ms), starts in its own block.
BOOST_AUTO_TEST_CASE(each_thread_starts_with_its_own_block_of_pieces) {
  const Threads t(2);
  std::mutex m;
  std::vector<std::pair<int64_t, std::thread::id>> order;
  parallel::for_ranges(4, 1, 1, [&](int64_t b, int64_t) {
    {
      const std::lock_guard<std::mutex> g(m);
      order.push_back({b, std::this_thread::get_id()});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }, 1 << 10);  // per_thread large: 4 pieces of one
  BOOST_TEST_REQUIRE(order.size() == 4u);
  const std::thread::id caller = std::this_thread::get_id();
  auto first_of = [&](bool is_caller) -> int64_t {
    for (const auto& [piece, who] : order)
      if ((who == caller) == is_caller) return piece;
    return -1;
  };
  BOOST_TEST(first_of(true) == 0);
  const int64_t worker_first = first_of(false);
  if (worker_first >= 0) BOOST_TEST(worker_first >= 2);
}
