// Data-parallel training on MPI, in one small place: which rank this process is, and the four
// collectives the trainer and the mixture's EM need. No other file includes <mpi.h>.
//
// Started lazily: the first call to any function here initialises MPI if the process was launched
// by mpirun / mpiexec (Open MPI's OMPI_COMM_WORLD_SIZE or a PMI/PMIx rank in the environment) and
// registers MPI_Finalize at exit. Otherwise, and in a build without MPI (CMake found none), the
// process is rank 0 of 1 and every collective is a no-op, so drivers never need an #ifdef and a
// plain run never pays for an MPI start-up.
//
// Ranks other than 0 are quiet: their stdout and stderr go to /dev/null (set LZ_RANK_OUTPUT=all to
// keep them), except report_error(), which writes to the original stderr with the rank named.
// They also write no files (train/run.cpp and plot/plot.cpp check is_root()): rank 0 alone
// writes checkpoints, metrics, pictures and the summary.
#pragma once

#include <cstdint>
#include <string>

namespace lz::dist {

int rank();
int size();
inline bool is_root() { return rank() == 0; }
// "rank 1 of 2" (empty when there is one process): for messages.
std::string where();

// In-place sums over every rank (MPI_Allreduce with MPI_IN_PLACE, MPI_SUM). Every rank gets the
// same result.
void allreduce_sum(float* data, int64_t n);
void allreduce_sum(double* data, int64_t n);
// Rank 0's values to every rank.
void broadcast(float* data, int64_t n);
void broadcast(double* data, int64_t n);
void broadcast(uint64_t* data, int64_t n);

// Print "<program>: error on rank r of N: <message>" on the original stderr (rank 0's unless
// LZ_RANK_OUTPUT redirected nothing, and every rank's: a failing rank is the one that knows why).
void report_error(const std::string& message);
// End the whole job: MPI_Abort over every rank when there are several (mpirun then stops them all
// within a second and names the rank), else std::exit(code).
[[noreturn]] void abort(int code);

// Whether this build has MPI at all (for the tests' skip messages).
bool built_with_mpi();

}  // namespace lz::dist
