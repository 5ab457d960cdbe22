// A generated 2-D action-chunk task, the motivation for latent variables in imitation learning
// (ALOHA's ACT predicts action chunks with a CVAE): from an observation (start, goal, obstacles),
// predict the next H waypoints; the demonstrations pass each obstacle on one side or the other,
// so the target is multimodal, and a regression's mean runs into the obstacle.
//
// One episode: start s = (0, s_y), goal g = (1, g_y), s_y, g_y ~ U(−0.2, 0.2); obstacle k centred on
// the segment s→g at u_k = k/(n+1) (jittered along it by a·U(−0.05, 0.05)), radius a·r, where
// a = 2/(n+1) shrinks the picture with the number of obstacles so each looks as one does alone.
// The demonstrated path is p(u) = s + u (g − s) + Σ_k side_k · A_k · exp(−((u − u_k)/w)²) · n̂, with
// n̂ the left normal of g − s, side_k = +1 (left) with probability p_left,
// A_k = a (r + clearance)(1 + 0.1 ε_k) and w = a/4; the chunk is the H waypoints p(t/H), t = 1..H,
// plus N(0, noise²) each.
// Actions are waypoints (target positions, as ACT's actions are target joint positions).
//
// Observation c = [s, g, (o_k, r_k) for each k] -> [4 + 3n]; chunk x = [p_1, ..., p_H] -> [2H].
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace lz {

struct ChunkTask {
  int64_t obstacles = 1;
  double p_left = 0.5;      // probability of passing each obstacle on its left
  int64_t horizon = 20;     // H
  double noise = 0.01;      // waypoint noise (standard deviation)
  double radius = 0.12;     // obstacle radius (of a single obstacle; n shrink by 2/(n+1))
  double clearance = 0.06;  // how far outside the obstacle the demonstrations pass

  void validate() const;  // throws std::invalid_argument naming the field
  int64_t obs_dim() const { return 4 + 3 * obstacles; }
  int64_t chunk_dim() const { return 2 * horizon; }
};

struct ChunkData {
  TensorF obs;    // [N, 4 + 3n]
  TensorF chunk;  // [N, 2H]
  std::vector<std::vector<int>> sides;  // [N][n]: +1 left, −1 right, as demonstrated
};
ChunkData make_chunks(const ChunkTask& task, int64_t n, Rng& rng);

// Which side of each obstacle a chunk passes (+1 left, −1 right of s→g): where the path (from s,
// linear between waypoints) first reaches the obstacle's position along s→g, is it left of the
// obstacle's centre? -> [n obstacles].
std::vector<int> passing_sides(const ChunkTask& task, const float* obs, const float* chunk);
// True if the polyline s, p_1, ..., p_H comes within an obstacle's radius of its centre.
bool collides(const ChunkTask& task, const float* obs, const float* chunk);

// Metrics of S predicted chunks per observation against the demonstrated one:
//   collision rate      share of predicted chunks that hit an obstacle
//   ADE / FDE           mean over samples of the mean (final) waypoint distance to the demonstration
//   minADE / minFDE     best of the S samples, averaged over observations (rewards spread: report
//                       it only beside the NLL and the mode shares)
//   left share          share of predicted chunks passing obstacle 1 on its left (the
//                       demonstrations' share beside it)
struct ChunkMetrics {
  double collision_rate = 0, ade = 0, fde = 0, min_ade = 0, min_fde = 0, left_share = 0, demo_left_share = 0;
  int64_t observations = 0, samples = 0;
};
// pred:[S, N, 2H] (S = 1 for a deterministic prediction) against data's chunks and sides.
ChunkMetrics chunk_metrics(const ChunkTask& task, const ChunkData& data, const TensorF& pred);
// The metrics as a summary.json object (every field by its name above).
nlohmann::json to_json(const ChunkMetrics& m);

// Predicted chunks pred:[S, N, 2H] as the paths of observation i from its start: [S, H + 1, 2].
TensorF chunk_paths(const TensorF& pred, const TensorF& obs, int64_t i);

}  // namespace lz
