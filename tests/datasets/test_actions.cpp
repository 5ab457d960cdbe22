// The action-chunk task (datasets/actions.hpp): demonstrations clear their obstacles on the side they
// were drawn with, the straight line through an obstacle collides, the side shares follow p_left,
// and the metrics of the demonstrations against themselves are exact.
#define BOOST_TEST_MODULE actions
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "datasets/actions.hpp"
#include "tests/thrown.hpp"

using namespace lz;

BOOST_AUTO_TEST_CASE(demonstrations_clear_their_obstacles_on_the_drawn_side) {
  for (int64_t k : {1, 2, 3}) {
    ChunkTask t;
    t.obstacles = k;
    Rng rng(5);
    const ChunkData d = make_chunks(t, 2000, rng);
    BOOST_TEST(d.obs.size(1) == t.obs_dim());
    BOOST_TEST(d.chunk.size(1) == t.chunk_dim());
    int64_t collisions = 0, wrong_side = 0;
    for (int64_t i = 0; i < 2000; ++i) {
      const float* o = d.obs.data() + i * t.obs_dim();
      const float* x = d.chunk.data() + i * t.chunk_dim();
      collisions += collides(t, o, x);
      wrong_side += passing_sides(t, o, x) != d.sides[i];
      // the chunk ends at the goal (up to the waypoint noise)
      BOOST_TEST(std::hypot(x[t.chunk_dim() - 2] - o[2], x[t.chunk_dim() - 1] - o[3]) < 0.06);
    }
    BOOST_TEST_MESSAGE(k << " obstacle(s): " << collisions << " collisions, " << wrong_side << " wrong sides in 2000");
    BOOST_TEST(wrong_side == 0);
    BOOST_TEST(collisions == 0);  // drawn again until they clear
  }
}

BOOST_AUTO_TEST_CASE(the_straight_line_collides_and_shares_follow_p_left) {
  ChunkTask t;
  t.p_left = 0.3;
  Rng rng(6);
  const ChunkData d = make_chunks(t, 4000, rng);
  TensorF line(d.chunk.shape());
  int64_t left = 0, hits = 0;
  for (int64_t i = 0; i < 4000; ++i) {
    const float* o = d.obs.data() + i * t.obs_dim();
    for (int64_t s = 1; s <= t.horizon; ++s) {
      const double u = double(s) / double(t.horizon);
      line[i * t.chunk_dim() + 2 * (s - 1)] = static_cast<float>(o[0] + u * (o[2] - o[0]));
      line[i * t.chunk_dim() + 2 * (s - 1) + 1] = static_cast<float>(o[1] + u * (o[3] - o[1]));
    }
    hits += collides(t, o, line.data() + i * t.chunk_dim());
    left += d.sides[i][0] > 0;
  }
  BOOST_TEST(hits == 4000);
  const double se = std::sqrt(0.3 * 0.7 / 4000);
  BOOST_TEST(std::abs(double(left) / 4000 - 0.3) < 4 * se);
  // metrics: the demonstrations against themselves, and the line against them
  const ChunkMetrics self = chunk_metrics(t, d, d.chunk.reshape({1, 4000, t.chunk_dim()}));
  BOOST_TEST(self.ade == 0.0);
  BOOST_TEST(self.min_fde == 0.0);
  BOOST_TEST(self.left_share == self.demo_left_share);
  BOOST_TEST(self.collision_rate == 0.0);
  const ChunkMetrics m = chunk_metrics(t, d, line.reshape({1, 4000, t.chunk_dim()}));
  BOOST_TEST(m.collision_rate == 1.0);
  BOOST_TEST(m.ade > 0.05);
  BOOST_TEST(m.min_ade == m.ade);  // one sample: best of one is the one
}

BOOST_AUTO_TEST_CASE(bad_settings_are_named) {
  ChunkTask t;
  t.obstacles = 0;
  BOOST_TEST(test::thrown_message([&] { t.validate(); }).find("--obstacles") != std::string::npos);
  t = {};
  t.p_left = 1.5;
  BOOST_TEST(test::thrown_message([&] { t.validate(); }).find("--p-left") != std::string::npos);
  t = {};
  Rng rng(1);
  const ChunkData d = make_chunks(t, 3, rng);
  BOOST_TEST(test::thrown_message([&] { chunk_metrics(t, d, TensorF({2, 4, t.chunk_dim()})); }).find("expected predictions [S,3,40]") !=
             std::string::npos);
}
