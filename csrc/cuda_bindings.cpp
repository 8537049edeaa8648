// The _cuda module: launches the CUDA kernels on raw device pointers and the caller's
// stream (torch's current stream, passed as an integer). Validation of shapes and values
// happens in latentatlas/ops.py; this layer checks sizes and reports CUDA errors as
// RuntimeError. The CUDA runtime is linked statically: without a driver the module still
// imports and device_count() is 0.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "cuda/launch.h"

#ifndef LATENTATLAS_VERSION
#define LATENTATLAS_VERSION "0.0.0"
#endif

namespace py = pybind11;
using latentatlas::index_t;

namespace {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

void need_sizes(std::initializer_list<index_t> sizes) {
  for (index_t s : sizes)
    if (s < 0) throw py::value_error("sizes must be non-negative");
}

// Runs fn on the given device, restoring the caller's current device afterwards.
template <typename Fn>
void on_device(int device, Fn fn, const char* what) {
  if (device < 0 || device >= device_count()) throw py::value_error("no CUDA device " + std::to_string(device));
  int prev = 0;
  check(cudaGetDevice(&prev), what);
  check(cudaSetDevice(device), what);
  cudaError_t err;
  {
    py::gil_scoped_release nogil;
    err = fn();
  }
  cudaSetDevice(prev);
  check(err, what);
}

template <typename T>
const T* cptr(std::uintptr_t p) {
  return reinterpret_cast<const T*>(p);
}
template <typename T>
T* mptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

void interp(int method, int dtype, std::uintptr_t a, index_t a_row, std::uintptr_t b, index_t b_row,
            std::uintptr_t t, index_t t_row, std::uintptr_t out, index_t B, index_t T, index_t D, int device,
            std::uintptr_t stream) {
  if (method < 0 || method > 3) throw py::value_error("method must be 0..3, got " + std::to_string(method));
  need_sizes({B, T, D});
  auto s = reinterpret_cast<cudaStream_t>(stream);
  on_device(device, [&] {
    return dtype == 0 ? latentatlas::cuda::interp<float>(method, cptr<float>(a), a_row, cptr<float>(b), b_row,
                                                        cptr<float>(t), t_row, mptr<float>(out), B, T, D, s)
                      : latentatlas::cuda::interp<double>(method, cptr<double>(a), a_row, cptr<double>(b), b_row,
                                                         cptr<double>(t), t_row, mptr<double>(out), B, T, D, s);
  }, "interp");
}

void offset(int dtype, std::uintptr_t z, index_t z_row, std::uintptr_t v, index_t v_row, std::uintptr_t al,
            std::uintptr_t out, index_t N, index_t A, index_t K, index_t D, int device, std::uintptr_t stream) {
  need_sizes({N, A, K, D});
  auto s = reinterpret_cast<cudaStream_t>(stream);
  on_device(device, [&] {
    return dtype == 0 ? latentatlas::cuda::offset<float>(cptr<float>(z), z_row, cptr<float>(v), v_row,
                                                        cptr<float>(al), mptr<float>(out), N, A, K, D, s)
                      : latentatlas::cuda::offset<double>(cptr<double>(z), z_row, cptr<double>(v), v_row,
                                                         cptr<double>(al), mptr<double>(out), N, A, K, D, s);
  }, "offset");
}

void score(int dtype, std::uintptr_t z, index_t z_row, std::uintptr_t v, index_t v_row, bool normalize,
           std::uintptr_t out, index_t N, index_t K, index_t D, int device, std::uintptr_t stream) {
  need_sizes({N, K, D});
  auto s = reinterpret_cast<cudaStream_t>(stream);
  on_device(device, [&] {
    return dtype == 0 ? latentatlas::cuda::score<float>(cptr<float>(z), z_row, cptr<float>(v), v_row, normalize,
                                                       mptr<float>(out), N, K, D, s)
                      : latentatlas::cuda::score<double>(cptr<double>(z), z_row, cptr<double>(v), v_row,
                                                        normalize, mptr<double>(out), N, K, D, s);
  }, "score");
}

py::dict build_info() {
  py::dict d;
  d["version"] = LATENTATLAS_VERSION;
  d["cuda_runtime"] = CUDART_VERSION;
#ifdef LATENTATLAS_CUDA_ARCHS
  d["architectures"] = LATENTATLAS_CUDA_ARCHS;
#endif
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();
  d["driver"] = driver;
  py::list devices;
  for (int i = 0; i < device_count(); ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) == cudaSuccess)
      devices.append(std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")");
  }
  d["devices"] = devices;
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "latentatlas CUDA kernels (device pointers and a stream; use latentatlas.ops)";
  m.def("device_count", &device_count, "CUDA devices visible (0 without a driver or GPU).");
  m.def("build_info", &build_info, "CUDA runtime, architectures and the devices seen.");
  m.def("interp", &interp);
  m.def("offset", &offset);
  m.def("score", &score);
}
