// The _cuda module: launches the CUDA kernels on the caller's stream (torch's current
// stream, passed as an integer). It is memory-safe on its own: each buffer arrives as an
// object with __cuda_array_interface__ (a torch CUDA tensor), and every size, stride,
// dtype and device is checked against the others before a kernel runs; a mismatch is a
// ValueError/TypeError (user-facing wording comes from latentatlas/ops.py, which checks
// first). CUDA errors are RuntimeError. The CUDA runtime is linked statically: without a
// driver the module still imports and device_count() is 0.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

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

// Runs fn on the given device, restoring the caller's current device afterwards.
template <typename Fn>
void on_device(int device, Fn fn, const char* what) {
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

// A CUDA buffer as described by its __cuda_array_interface__ (version 2 or 3): what the
// kernels need and what the checks below compare. The binding trusts nothing else.
struct DevBuf {
  std::uintptr_t ptr = 0;
  int dtype = -1;  // 0 float32, 1 float64
  bool readonly = false;
  std::vector<index_t> shape;
  std::vector<index_t> strides;  // in elements
};

std::string shape_str(const DevBuf& x) {
  std::string s = "(";
  for (size_t i = 0; i < x.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(x.shape[i]);
  return s + (x.shape.size() == 1 ? ",)" : ")");
}

DevBuf describe(const py::handle& obj, const char* name) {
  if (!py::hasattr(obj, "__cuda_array_interface__"))
    throw py::type_error(std::string(name) + " must be a CUDA array (an object with __cuda_array_interface__)");
  py::dict d = obj.attr("__cuda_array_interface__");
  DevBuf x;
  const std::string typestr = py::str(d["typestr"]);
  if (typestr == "<f4")
    x.dtype = 0;
  else if (typestr == "<f8")
    x.dtype = 1;
  else
    throw py::type_error(std::string(name) + " must be float32 or float64, got typestr " + typestr);
  const index_t item = x.dtype == 0 ? 4 : 8;
  py::tuple data = d["data"];
  x.ptr = data[0].cast<std::uintptr_t>();
  x.readonly = data[1].cast<bool>();
  for (auto s : py::tuple(d["shape"])) {
    const index_t n = s.cast<index_t>();
    if (n < 0) throw py::value_error(std::string(name) + " has a negative size");
    x.shape.push_back(n);
  }
  const bool has_strides = d.contains("strides") && !d["strides"].is_none();
  index_t running = 1;
  x.strides.assign(x.shape.size(), 0);
  for (size_t i = x.shape.size(); i-- > 0;) {
    if (has_strides) {
      const index_t st = py::tuple(d["strides"])[i].cast<index_t>();
      if (st % item != 0) throw py::value_error(std::string(name) + " has a stride that is not a multiple of its item size");
      x.strides[i] = st / item;
    } else {
      x.strides[i] = running;
    }
    running *= x.shape[i];
  }
  if (d.contains("mask") && !d["mask"].is_none()) throw py::value_error(std::string(name) + " must not be masked");
  return x;
}

void need(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

// Checks the rank and (where want >= 0) sizes of x; the kernels read rows with a unit inner stride.
void need_shape(const DevBuf& x, const char* name, std::initializer_list<index_t> want, const DevBuf& ref) {
  need(x.shape.size() == want.size(), std::string(name) + " must be " + std::to_string(want.size()) +
                                          "-D, got shape " + shape_str(x));
  if (x.dtype != ref.dtype) throw py::type_error(std::string(name) + " must have the dtype of the first argument");
  size_t i = 0;
  for (index_t w : want) {
    need(w < 0 || x.shape[i] == w, std::string(name) + " has shape " + shape_str(x) + ", which does not match the other arguments");
    ++i;
  }
  need(x.shape.back() <= 1 || x.strides.back() == 1, std::string(name) + " must be contiguous in its last dimension");
  for (size_t d = 0; d + 1 < x.shape.size(); ++d)
    need(x.shape[d] <= 1 || x.strides[d] >= 0, std::string(name) + " must not have negative strides");
}

void need_output(const DevBuf& out) {
  need(!out.readonly, "out is read-only");
  index_t running = 1;
  for (size_t i = out.shape.size(); i-- > 0;) {
    need(out.shape[i] <= 1 || out.strides[i] == running, "out must be C-contiguous");
    running *= out.shape[i];
  }
}

// The device holding every buffer (each must be device memory on the same device).
int device_of(std::initializer_list<const DevBuf*> bufs, const char* what) {
  const int n = device_count();
  if (n == 0) throw py::value_error(std::string(what) + ": no CUDA device is available");
  int device = -1;
  for (const DevBuf* x : bufs) {
    index_t elems = 1;
    for (index_t s : x->shape) elems *= s;
    if (elems == 0 || x->ptr == 0) continue;
    cudaPointerAttributes attr;
    if (cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(x->ptr)) != cudaSuccess) {
      cudaGetLastError();
      throw py::value_error(std::string(what) + ": a buffer is not CUDA memory");
    }
    if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
      throw py::value_error(std::string(what) + ": a buffer is not CUDA device memory");
    if (device >= 0 && attr.device != device)
      throw py::value_error(std::string(what) + ": buffers are on different devices");
    device = attr.device;
  }
  if (device < 0) check(cudaGetDevice(&device), what);
  return device;
}

template <typename T>
const T* cptr(const DevBuf& x) {
  return reinterpret_cast<const T*>(x.ptr);
}
template <typename T>
T* mptr(const DevBuf& x) {
  return reinterpret_cast<T*>(x.ptr);
}

// interp(method, a (B, D), b (B, D), t (1 or B, T), out (B, T, D), stream)
void interp(int method, const py::object& ao, const py::object& bo, const py::object& to, const py::object& oo,
            std::uintptr_t stream) {
  need(method >= latentatlas::kLerp && method <= latentatlas::kSlerpGaussian,
       "method must be 0..3, got " + std::to_string(method));
  const DevBuf a = describe(ao, "a"), b = describe(bo, "b"), t = describe(to, "t"), out = describe(oo, "out");
  need(a.shape.size() == 2, "a must be 2-D, got shape " + shape_str(a));
  need(t.shape.size() == 2, "t must be 2-D, got shape " + shape_str(t));
  const index_t B = a.shape[0], D = a.shape[1], T = t.shape[1];
  need_shape(a, "a", {B, D}, a);
  need_shape(b, "b", {B, D}, a);
  need(t.shape[0] == 1 || t.shape[0] == B, "t must have 1 or " + std::to_string(B) + " rows, got shape " + shape_str(t));
  need_shape(t, "t", {-1, T}, a);
  need_shape(out, "out", {B, T, D}, a);
  need_output(out);
  const index_t t_row = t.shape[0] == 1 ? 0 : t.strides[0];
  const int device = device_of({&a, &b, &t, &out}, "interp");
  auto s = reinterpret_cast<cudaStream_t>(stream);
  on_device(device, [&] {
    return a.dtype == 0 ? latentatlas::cuda::interp<float>(method, cptr<float>(a), a.strides[0], cptr<float>(b),
                                                          b.strides[0], cptr<float>(t), t_row, mptr<float>(out), B, T,
                                                          D, s)
                        : latentatlas::cuda::interp<double>(method, cptr<double>(a), a.strides[0], cptr<double>(b),
                                                           b.strides[0], cptr<double>(t), t_row, mptr<double>(out), B,
                                                           T, D, s);
  }, "interp");
}

// offset(z (N, D), vectors (K, D), alphas (A, K), out (N, A, D), stream)
void offset(const py::object& zo, const py::object& vo, const py::object& alo, const py::object& oo,
            std::uintptr_t stream) {
  const DevBuf z = describe(zo, "z"), v = describe(vo, "vectors"), al = describe(alo, "alphas"),
               out = describe(oo, "out");
  need(z.shape.size() == 2, "z must be 2-D, got shape " + shape_str(z));
  need(al.shape.size() == 2, "alphas must be 2-D, got shape " + shape_str(al));
  const index_t N = z.shape[0], D = z.shape[1], A = al.shape[0], K = al.shape[1];
  need_shape(z, "z", {N, D}, z);
  need_shape(v, "vectors", {K, D}, z);
  need_shape(al, "alphas", {A, K}, z);
  need(al.shape[0] <= 1 || al.strides[0] == K, "alphas must be C-contiguous");
  need_shape(out, "out", {N, A, D}, z);
  need_output(out);
  const int device = device_of({&z, &v, &al, &out}, "offset");
  auto s = reinterpret_cast<cudaStream_t>(stream);
  on_device(device, [&] {
    return z.dtype == 0 ? latentatlas::cuda::offset<float>(cptr<float>(z), z.strides[0], cptr<float>(v), v.strides[0],
                                                          cptr<float>(al), mptr<float>(out), N, A, K, D, s)
                        : latentatlas::cuda::offset<double>(cptr<double>(z), z.strides[0], cptr<double>(v),
                                                           v.strides[0], cptr<double>(al), mptr<double>(out), N, A, K,
                                                           D, s);
  }, "offset");
}

// score(z (N, D), vectors (K, D), normalize, out (N, K), stream)
void score(const py::object& zo, const py::object& vo, bool normalize, const py::object& oo, std::uintptr_t stream) {
  const DevBuf z = describe(zo, "z"), v = describe(vo, "vectors"), out = describe(oo, "out");
  need(z.shape.size() == 2, "z must be 2-D, got shape " + shape_str(z));
  need(v.shape.size() == 2, "vectors must be 2-D, got shape " + shape_str(v));
  const index_t N = z.shape[0], D = z.shape[1], K = v.shape[0];
  need_shape(z, "z", {N, D}, z);
  need_shape(v, "vectors", {K, D}, z);
  need_shape(out, "out", {N, K}, z);
  need_output(out);
  const int device = device_of({&z, &v, &out}, "score");
  auto s = reinterpret_cast<cudaStream_t>(stream);
  on_device(device, [&] {
    return z.dtype == 0 ? latentatlas::cuda::score<float>(cptr<float>(z), z.strides[0], cptr<float>(v), v.strides[0],
                                                         normalize, mptr<float>(out), N, K, D, s)
                        : latentatlas::cuda::score<double>(cptr<double>(z), z.strides[0], cptr<double>(v),
                                                          v.strides[0], normalize, mptr<double>(out), N, K, D, s);
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
  m.def("interp", &interp, py::arg("method"), py::arg("a"), py::arg("b"), py::arg("t"), py::arg("out"),
        py::arg("stream"), "Interpolate rows a (B, D) to b (B, D) at times t (1 or B, T) into out (B, T, D).");
  m.def("offset", &offset, py::arg("z"), py::arg("vectors"), py::arg("alphas"), py::arg("out"), py::arg("stream"),
        "out[n, a] = z[n] + sum_k alphas[a, k] * vectors[k] into out (N, A, D).");
  m.def("score", &score, py::arg("z"), py::arg("vectors"), py::arg("normalize"), py::arg("out"), py::arg("stream"),
        "Dot products (or cosines) of z (N, D) with vectors (K, D) into out (N, K).");
}
