# Optional CUDA: sets QUIRE_HAVE_CUDA and enables the CUDA language when nvcc is found.
# Shared by the top-level build and gpu/'s standalone build (see stack-notes: CMake 3.25 does not
# look in /usr/local/cuda; nvcc 13 wants compute_75+; host code is C++20 so CUDA uses 17;
# cudart is linked statically so a binary runs, and falls back, on hosts without a GPU).
set(QUIRE_HAVE_CUDA OFF)
if(QUIRE_WITH_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80;90")
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    enable_language(CUDA)
    set(QUIRE_HAVE_CUDA ON)
  endif()
endif()
