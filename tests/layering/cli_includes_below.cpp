// Must compile: a layer sees every layer below it (the control for the probes that must not).
#include "autodiff/var.hpp"
#include "cli/flags.hpp"
#include "datasets/csv.hpp"
#include "models/vae.hpp"
#include "nn/module.hpp"
#include "tensor/tensor.hpp"
#include "train/trainer.hpp"
