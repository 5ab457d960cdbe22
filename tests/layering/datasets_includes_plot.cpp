// Must not compile: the readers sit below the pictures.
#include "plot/png.hpp"
