// Must not compile: pictures sit below the training loop (CMakeLists.txt, lz_include_root).
#include "train/run.hpp"
