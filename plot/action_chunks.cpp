#include "plot/action_chunks.hpp"

#include "plot/plot2d.hpp"

namespace lz {

bool plot_chunk_predictions(const ChunkTask& task, const ChunkData& data, int64_t i,
                            const std::vector<std::pair<std::string, TensorF>>& preds, const std::string& png_path,
                            const std::string& title) {
  const int64_t C = task.obs_dim(), D = task.chunk_dim();
  const float* obs = data.obs.data() + i * C;
  std::vector<Circle> obstacles;
  for (int64_t k = 0; k < task.obstacles; ++k) obstacles.push_back({obs[4 + 3 * k], obs[5 + 3 * k], obs[6 + 3 * k]});
  TensorF demo({task.horizon + 1, 2});
  demo[0] = obs[0];
  demo[1] = obs[1];
  for (int64_t d = 0; d < D; ++d) demo[2 + d] = data.chunk[i * D + d];
  std::vector<TrajectoryPanel> panels;
  for (const auto& [name, pred] : preds) panels.push_back({name, chunk_paths(pred, data.obs, i)});
  return plot_trajectory_panels(panels, demo, obstacles, {-0.05, 1.05, -0.45, 0.45}, png_path, title);
}

}  // namespace lz
