// The action-chunk task's picture: an observation's obstacles, its demonstration and the paths
// that models predict for it (the task itself is datasets/actions).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "datasets/actions.hpp"
#include "tensor/tensor.hpp"

namespace lz {

// One panel per (title, pred:[S, N, 2H]): observation i's obstacles, its demonstration, and the
// predicted paths (plot/plot2d's plot_trajectory_panels). False if gnuplot is missing.
bool plot_chunk_predictions(const ChunkTask& task, const ChunkData& data, int64_t i,
                            const std::vector<std::pair<std::string, TensorF>>& preds, const std::string& png_path,
                            const std::string& title);

}  // namespace lz
