// Must not compile: a model knows nothing of files.
#include "datasets/csv.hpp"
