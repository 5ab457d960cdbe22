#include "train/distributed.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#ifdef LZ_HAVE_MPI
// The C API only: Open MPI's mpi.h otherwise drags in its deprecated C++ bindings (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace lz::dist {

namespace {

struct World {
  int rank = 0, size = 1;
  bool mpi = false;
  int err_fd = 2;  // the original stderr (ranks > 0 have fd 2 on /dev/null)
};

#ifdef LZ_HAVE_MPI
bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

void finalize_at_exit() {
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(msg, size_t(len)));
}
#endif

World start() {
  World w;
#ifdef LZ_HAVE_MPI
  if (!launched_by_mpirun()) return w;
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) {
    if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS) {
      std::fprintf(stderr, "error: MPI_Init failed (launched by mpirun, but MPI could not start)\n");
      std::exit(1);
    }
    std::atexit(finalize_at_exit);
  }
  // Errors come back as codes (turned into exceptions) instead of MPI's default of aborting
  // silently, so that the message names what failed.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  w.mpi = true;
  const char* keep = std::getenv("LZ_RANK_OUTPUT");
  if (w.rank != 0 && !(keep && std::strcmp(keep, "all") == 0)) {
    std::fflush(stdout), std::fflush(stderr);
    w.err_fd = ::dup(2);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, 1), ::dup2(null, 2);
      ::close(null);
    }
  }
#endif
  return w;
}

const World& world() {
  static const World w = start();
  return w;
}

}  // namespace

int rank() { return world().rank; }
int size() { return world().size; }
bool built_with_mpi() {
#ifdef LZ_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::string where() {
  const World& w = world();
  return w.size > 1 ? "rank " + std::to_string(w.rank) + " of " + std::to_string(w.size) : "";
}

// Counts go to MPI as int: a buffer of more than 2^31 elements is sent in pieces.
#ifdef LZ_HAVE_MPI
namespace {
template <typename T>
void allreduce(T* data, int64_t n, MPI_Datatype type) {
  if (world().size == 1) return;
  constexpr int64_t kPiece = int64_t(1) << 30;
  for (int64_t s = 0; s < n; s += kPiece)
    check(MPI_Allreduce(MPI_IN_PLACE, data + s, int(std::min(kPiece, n - s)), type, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
}
template <typename T>
void bcast(T* data, int64_t n, MPI_Datatype type) {
  if (world().size == 1) return;
  constexpr int64_t kPiece = int64_t(1) << 30;
  for (int64_t s = 0; s < n; s += kPiece)
    check(MPI_Bcast(data + s, int(std::min(kPiece, n - s)), type, 0, MPI_COMM_WORLD), "MPI_Bcast");
}
}  // namespace
void allreduce_sum(float* data, int64_t n) { allreduce(data, n, MPI_FLOAT); }
void allreduce_sum(double* data, int64_t n) { allreduce(data, n, MPI_DOUBLE); }
void broadcast(float* data, int64_t n) { bcast(data, n, MPI_FLOAT); }
void broadcast(double* data, int64_t n) { bcast(data, n, MPI_DOUBLE); }
void broadcast(uint64_t* data, int64_t n) { bcast(data, n, MPI_UINT64_T); }
#else
void allreduce_sum(float*, int64_t) {}
void allreduce_sum(double*, int64_t) {}
void broadcast(float*, int64_t) {}
void broadcast(double*, int64_t) {}
void broadcast(uint64_t*, int64_t) {}
#endif

void report_error(const std::string& message) {
  const World& w = world();
  std::string line = std::string(program_invocation_short_name) + ": error";
  if (w.size > 1) line += " on " + where();
  line += ": " + message + "\n";
  std::fflush(stderr);
  if (::write(w.err_fd, line.data(), line.size()) < 0) std::perror("report_error");
}

void abort(int code) {
#ifdef LZ_HAVE_MPI
  if (world().size > 1) {
    std::fflush(stdout), std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
#endif
  std::exit(code);
}

}  // namespace lz::dist
