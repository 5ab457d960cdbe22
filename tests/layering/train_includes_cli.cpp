// Must not compile: the loop and its resume know nothing of flags (the flags know about resume).
#include "cli/flags.hpp"
