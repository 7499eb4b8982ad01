// Internal helpers shared by the CUDA translation units (cuda_analyzer.cu, devices.cu).
#pragma once

#include "gpu/detail/raw.hpp"

#include <cuda_runtime.h>

#include <string>

namespace quire::gpu::cuda {

// "cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime version)"
std::string error_text(cudaError_t e);

}  // namespace quire::gpu::cuda
