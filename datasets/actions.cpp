#include "datasets/actions.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>


namespace lz {

void ChunkTask::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("action-chunk task: " + what); };
  if (obstacles < 1 || obstacles > 8) bad("--obstacles must be in [1, 8], got " + std::to_string(obstacles));
  if (!(p_left >= 0 && p_left <= 1)) bad("--p-left must be in [0, 1], got " + std::to_string(p_left));
  if (horizon < 2 || horizon > 1000) bad("--horizon must be in [2, 1000], got " + std::to_string(horizon));
  if (!(noise >= 0 && noise < 1)) bad("--noise must be in [0, 1), got " + std::to_string(noise));
  if (!(radius > 0 && radius < 0.5)) bad("--radius must be in (0, 0.5), got " + std::to_string(radius));
  if (!(clearance >= 0 && clearance < 0.5)) bad("--clearance must be in [0, 0.5), got " + std::to_string(clearance));
}

namespace {

struct Geometry {
  double sx, sy, gx, gy, dx, dy, nx, ny;  // start, goal, direction g − s, its left unit normal
};
Geometry geometry(const float* obs) {
  Geometry g{obs[0], obs[1], obs[2], obs[3], obs[2] - obs[0], obs[3] - obs[1], 0, 0};
  const double len = std::hypot(g.dx, g.dy);
  g.nx = -g.dy / len;
  g.ny = g.dx / len;
  return g;
}

double point_segment_distance(double px, double py, double ax, double ay, double bx, double by) {
  const double vx = bx - ax, vy = by - ay, l2 = vx * vx + vy * vy;
  const double t = l2 > 0 ? std::clamp(((px - ax) * vx + (py - ay) * vy) / l2, 0.0, 1.0) : 0.0;
  return std::hypot(px - ax - t * vx, py - ay - t * vy);
}

}  // namespace

ChunkData make_chunks(const ChunkTask& task, int64_t n, Rng& rng) {
  task.validate();
  const int64_t K = task.obstacles, H = task.horizon, C = task.obs_dim(), D = task.chunk_dim();
  ChunkData d{TensorF({n, C}), TensorF({n, D}), std::vector<std::vector<int>>(n, std::vector<int>(K))};
  // With n obstacles the whole picture shrinks by 2/(n+1) along the path (radius, clearance, bump
  // width), so that each obstacle and its gaps look as the single obstacle's do.
  const double shrink = 2.0 / static_cast<double>(K + 1), w = 0.25 * shrink, radius = task.radius * shrink,
               clearance = task.clearance * shrink;
  for (int64_t i = 0; i < n; ++i) {
    float* o = d.obs.data() + i * C;
    o[0] = 0.f;
    o[1] = static_cast<float>(rng.uniform() * 0.4 - 0.2);
    o[2] = 1.f;
    o[3] = static_cast<float>(rng.uniform() * 0.4 - 0.2);
    const Geometry g = geometry(o);
    std::vector<double> u(K), amp(K);
    for (int64_t k = 0; k < K; ++k) {
      u[k] = static_cast<double>(k + 1) / static_cast<double>(K + 1) + (rng.uniform() * 0.1 - 0.05) * shrink;
      o[4 + 3 * k] = static_cast<float>(g.sx + u[k] * g.dx);
      o[5 + 3 * k] = static_cast<float>(g.sy + u[k] * g.dy);
      o[6 + 3 * k] = static_cast<float>(radius);
      d.sides[i][k] = rng.uniform() < task.p_left ? 1 : -1;
      amp[k] = (radius + clearance) * (1 + 0.1 * rng.normal());
    }
    // A demonstration never hits an obstacle: one whose noise or amplitude took it into one is
    // drawn again (rare with one obstacle; a few percent with three, whose gaps are narrow).
    float* x = d.chunk.data() + i * D;
    for (int attempt = 0;; ++attempt) {
      for (int64_t t = 1; t <= H; ++t) {
        const double s = static_cast<double>(t) / static_cast<double>(H);
        double off = 0;
        for (int64_t k = 0; k < K; ++k) off += d.sides[i][k] * amp[k] * std::exp(-std::pow((s - u[k]) / w, 2));
        x[2 * (t - 1)] = static_cast<float>(g.sx + s * g.dx + off * g.nx + task.noise * rng.normal());
        x[2 * (t - 1) + 1] = static_cast<float>(g.sy + s * g.dy + off * g.ny + task.noise * rng.normal());
      }
      if (!collides(task, o, x)) break;
      if (attempt == 1000)
        throw std::invalid_argument("action-chunk task: no demonstration clears the obstacles in 1000 draws; lower "
                                    "--noise or --obstacles, or raise --horizon");
      for (int64_t k = 0; k < K; ++k) amp[k] = (radius + clearance) * (1 + 0.1 * rng.normal());
    }
  }
  return d;
}

std::vector<int> passing_sides(const ChunkTask& task, const float* obs, const float* chunk) {
  // In the frame of the segment s→g (a = along, b = left of it): the path's b where its a first
  // reaches the obstacle's a (linear between waypoints, the polyline starting at s), against the
  // obstacle's own b.
  const Geometry g = geometry(obs);
  const double len = std::hypot(g.dx, g.dy);
  auto along = [&](double x, double y) { return ((x - g.sx) * g.dx + (y - g.sy) * g.dy) / len; };
  auto left = [&](double x, double y) { return (x - g.sx) * g.nx + (y - g.sy) * g.ny; };
  std::vector<int> sides(task.obstacles);
  for (int64_t k = 0; k < task.obstacles; ++k) {
    const double ox = obs[4 + 3 * k], oy = obs[5 + 3 * k], oa = along(ox, oy);
    double pa = 0, pb = 0, b = left(chunk[0], chunk[1]);  // fallback: the first waypoint
    bool found = false;
    for (int64_t t = 0; t < task.horizon && !found; ++t) {
      const double qa = along(chunk[2 * t], chunk[2 * t + 1]), qb = left(chunk[2 * t], chunk[2 * t + 1]);
      if (qa >= oa) {
        b = qa > pa ? pb + (qb - pb) * (oa - pa) / (qa - pa) : qb;
        found = true;
      }
      pa = qa, pb = qb;
    }
    if (!found) b = pb;  // the path never got that far: its last waypoint's side
    sides[k] = b >= left(ox, oy) ? 1 : -1;
  }
  return sides;
}

bool collides(const ChunkTask& task, const float* obs, const float* chunk) {
  for (int64_t k = 0; k < task.obstacles; ++k) {
    const double ox = obs[4 + 3 * k], oy = obs[5 + 3 * k], r = obs[6 + 3 * k];
    double ax = obs[0], ay = obs[1];
    for (int64_t t = 0; t < task.horizon; ++t) {
      const double bx = chunk[2 * t], by = chunk[2 * t + 1];
      if (point_segment_distance(ox, oy, ax, ay, bx, by) < r) return true;
      ax = bx, ay = by;
    }
  }
  return false;
}

ChunkMetrics chunk_metrics(const ChunkTask& task, const ChunkData& data, const TensorF& pred) {
  const int64_t N = data.obs.size(0), C = task.obs_dim(), D = task.chunk_dim(), H = task.horizon;
  if (pred.dim() != 3 || pred.size(1) != N || pred.size(2) != D)
    throw std::invalid_argument("chunk_metrics: expected predictions [S," + std::to_string(N) + "," +
                                std::to_string(D) + "], got " + shape_str(pred.shape()));
  const int64_t S = pred.size(0);
  ChunkMetrics m;
  m.observations = N;
  m.samples = S;
  for (int64_t i = 0; i < N; ++i) {
    const float* o = data.obs.data() + i * C;
    const float* truth = data.chunk.data() + i * D;
    m.demo_left_share += data.sides[i][0] > 0;
    double best_ade = std::numeric_limits<double>::infinity(), best_fde = best_ade;
    for (int64_t s = 0; s < S; ++s) {
      const float* p = pred.data() + (s * N + i) * D;
      double ade = 0;
      for (int64_t t = 0; t < H; ++t) ade += std::hypot(p[2 * t] - truth[2 * t], p[2 * t + 1] - truth[2 * t + 1]);
      ade /= static_cast<double>(H);
      const double fde = std::hypot(p[D - 2] - truth[D - 2], p[D - 1] - truth[D - 1]);
      m.ade += ade;
      m.fde += fde;
      best_ade = std::min(best_ade, ade);
      best_fde = std::min(best_fde, fde);
      m.collision_rate += collides(task, o, p);
      m.left_share += passing_sides(task, o, p)[0] > 0;
    }
    m.min_ade += best_ade;
    m.min_fde += best_fde;
  }
  const double ns = static_cast<double>(N * S), n = static_cast<double>(N);
  m.ade /= ns;
  m.fde /= ns;
  m.collision_rate /= ns;
  m.left_share /= ns;
  m.min_ade /= n;
  m.min_fde /= n;
  m.demo_left_share /= n;
  return m;
}

nlohmann::json to_json(const ChunkMetrics& m) {
  return {{"collision_rate", m.collision_rate}, {"ade", m.ade},       {"fde", m.fde},
          {"min_ade", m.min_ade},               {"min_fde", m.min_fde}, {"left_share", m.left_share},
          {"demo_left_share", m.demo_left_share}, {"samples", m.samples}};
}

TensorF chunk_paths(const TensorF& pred, const TensorF& obs, int64_t i) {
  const int64_t S = pred.size(0), N = pred.size(1), D = pred.size(2), H = D / 2, C = obs.size(1);
  TensorF p({S, H + 1, 2});
  for (int64_t s = 0; s < S; ++s) {
    p[s * (H + 1) * 2] = obs[i * C];
    p[s * (H + 1) * 2 + 1] = obs[i * C + 1];
    for (int64_t d = 0; d < D; ++d) p[s * (H + 1) * 2 + 2 + d] = pred[(s * N + i) * D + d];
  }
  return p;
}

}  // namespace lz
