// The _core module: a thin layer that checks what it is handed (dtype, ndim, shapes,
// strides, writability), takes pointers, releases the GIL and calls the CPU loops.
// Shapes here are the normalised ones; latentatlas/ops.py maps the public forms onto them.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <thread>

#include "cpu/ops_cpu.h"
#include "cpu/parallel.h"
#include "cpu/stream.h"

#ifndef LATENTATLAS_VERSION
#define LATENTATLAS_VERSION "0.0.0"
#endif

namespace py = pybind11;
using latentatlas::index_t;

namespace {

std::string shape_str(const py::array& x) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < x.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(x.shape(i));
  }
  if (x.ndim() == 1) s += ",";
  return s + ")";
}

std::string dtype_str(const py::array& x) { return py::str(x.dtype()).cast<std::string>(); }

// 0 = float32, 1 = float64; anything else is a TypeError naming the argument.
int dtype_code(const py::array& x, const char* name) {
  if (x.dtype().equal(py::dtype::of<float>())) return 0;
  if (x.dtype().equal(py::dtype::of<double>())) return 1;
  throw py::type_error(std::string(name) + " must be float32 or float64, got " + dtype_str(x));
}

void same_dtype(const py::array& x, const char* name, const py::array& ref, const char* ref_name) {
  if (!x.dtype().equal(ref.dtype()))
    throw py::type_error(std::string(name) + " must have the dtype of " + ref_name + " (" +
                         dtype_str(ref) + "), got " + dtype_str(x));
}

void need_ndim(const py::array& x, const char* name, int ndim) {
  if (x.ndim() != ndim)
    throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-D, got shape " +
                          shape_str(x));
}

// Element stride of dimension d; the byte stride must be a whole number of elements.
index_t elem_stride(const py::array& x, const char* name, int d) {
  const py::ssize_t st = x.strides(d), item = x.itemsize();
  if (st % item != 0)
    throw py::value_error(std::string(name) + " has a stride that is not a multiple of its item size; "
                          "pass numpy.ascontiguousarray(" + name + ")");
  return static_cast<index_t>(st / item);
}

// The last dimension must be unit-stride (the loops vectorise over it).
void need_unit_inner(const py::array& x, const char* name) {
  const int d = static_cast<int>(x.ndim()) - 1;
  if (x.shape(d) > 1 && x.strides(d) != x.itemsize())
    throw py::value_error(std::string(name) + " must be contiguous in its last dimension; pass "
                          "numpy.ascontiguousarray(" + name + ")");
}

void need_writable_contiguous(const py::array& out) {
  if (!out.writeable()) throw py::value_error("out is read-only");
  if (!(out.flags() & py::array::c_style))
    throw py::value_error("out must be C-contiguous, got strides that are not");
}

void need_dim(const py::array& x, const char* name, int d, index_t want, const char* what) {
  if (x.shape(d) != want)
    throw py::value_error(std::string(name) + " must have " + what + " = " + std::to_string(want) +
                          ", got shape " + shape_str(x));
}

[[noreturn]] void raise_status(const latentatlas::Status& st, const char* op) {
  const int which = st.arg.load();
  const std::string row = std::to_string(st.row.load());
  switch (which) {
    case latentatlas::kBadA: throw py::value_error("a contains NaN or Inf (row " + row + ")");
    case latentatlas::kBadB: throw py::value_error("b contains NaN or Inf (row " + row + ")");
    case latentatlas::kBadT: throw py::value_error("t contains NaN or Inf");
    case latentatlas::kBadZ: throw py::value_error("z contains NaN or Inf (row " + row + ")");
    case latentatlas::kBadVectors: throw py::value_error("vectors contain NaN or Inf");
    case latentatlas::kBadAlphas: throw py::value_error("alphas contain NaN or Inf");
    case latentatlas::kNoMemory: throw std::bad_alloc();
    case latentatlas::kBadRows: throw py::value_error("rows has an entry outside [0, len(data)) (query " + row + ")");
    default: throw py::value_error(std::string(op) + ": unknown failure");
  }
}

template <typename T>
void run_interp(int method, const py::array& a, const py::array& b, const py::array& t, py::array& out) {
  latentatlas::InterpArgs<T> p;
  p.method = method;
  p.B = a.shape(0);
  p.D = a.shape(1);
  p.nT = t.shape(1);
  p.a = static_cast<const T*>(a.data());
  p.b = static_cast<const T*>(b.data());
  p.t = static_cast<const T*>(t.data());
  p.out = static_cast<T*>(out.mutable_data());
  p.a_row = elem_stride(a, "a", 0);
  p.b_row = elem_stride(b, "b", 0);
  p.t_row = t.shape(0) == 1 ? 0 : elem_stride(t, "t", 0);
  p.out_row = p.nT * p.D;
  p.out_t = p.D;
  const index_t t_cols = elem_stride(t, "t", 1);
  if (p.nT > 1 && t_cols != 1) throw py::value_error("t must be contiguous in its last dimension");
  latentatlas::Status st;
  {
    py::gil_scoped_release nogil;
    // Times are few; check them before any row is written.
    for (index_t r = 0; r < t.shape(0) && st.arg.load() == latentatlas::kNoBad; ++r)
      for (index_t s = 0; s < p.nT; ++s)
        if (!std::isfinite(static_cast<double>(p.t[r * p.t_row + s]))) {
          st.report(latentatlas::kBadT, r);
          break;
        }
    if (st.arg.load() == latentatlas::kNoBad) latentatlas::interp_cpu<T>(p, st);
  }
  if (st.arg.load() != latentatlas::kNoBad) raise_status(st, "interp");
}

void interp(int method, const py::array& a, const py::array& b, const py::array& t, py::array& out) {
  if (method < latentatlas::kLerp || method > latentatlas::kSlerpGaussian)
    throw py::value_error("method must be 0 (lerp), 1 (slerp), 2 (lerp_gaussian) or 3 (slerp_gaussian), got " +
                          std::to_string(method));
  const int code = dtype_code(a, "a");
  same_dtype(b, "b", a, "a");
  same_dtype(t, "t", a, "a");
  same_dtype(out, "out", a, "a");
  need_ndim(a, "a", 2);
  need_ndim(b, "b", 2);
  need_ndim(t, "t", 2);
  need_ndim(out, "out", 3);
  if (a.shape(0) != b.shape(0) || a.shape(1) != b.shape(1))
    throw py::value_error("a and b must have the same shape, got " + shape_str(a) + " and " + shape_str(b));
  const index_t B = a.shape(0), D = a.shape(1), T = t.shape(1);
  if (t.shape(0) != 1 && t.shape(0) != B)
    throw py::value_error("t must have 1 or " + std::to_string(B) + " rows, got shape " + shape_str(t));
  need_dim(out, "out", 0, B, "rows");
  need_dim(out, "out", 1, T, "times");
  need_dim(out, "out", 2, D, "columns");
  need_unit_inner(a, "a");
  need_unit_inner(b, "b");
  need_writable_contiguous(out);
  if (code == 0)
    run_interp<float>(method, a, b, t, out);
  else
    run_interp<double>(method, a, b, t, out);
}

template <typename T>
void run_offset(const py::array& z, const py::array& v, const py::array& al, py::array& out) {
  latentatlas::OffsetArgs<T> p;
  p.N = z.shape(0);
  p.D = z.shape(1);
  p.K = v.shape(0);
  p.A = al.shape(0);
  p.z = static_cast<const T*>(z.data());
  p.vectors = static_cast<const T*>(v.data());
  p.alphas = static_cast<const T*>(al.data());
  p.out = static_cast<T*>(out.mutable_data());
  p.z_row = elem_stride(z, "z", 0);
  p.v_row = elem_stride(v, "vectors", 0);
  p.al_row = elem_stride(al, "alphas", 0);
  p.out_row = p.A * p.D;
  p.out_a = p.D;
  latentatlas::Status st;
  {
    py::gil_scoped_release nogil;
    latentatlas::offset_cpu<T>(p, st);
  }
  if (st.arg.load() != latentatlas::kNoBad) raise_status(st, "offset");
}

void offset(const py::array& z, const py::array& v, const py::array& al, py::array& out) {
  const int code = dtype_code(z, "z");
  same_dtype(v, "vectors", z, "z");
  same_dtype(al, "alphas", z, "z");
  same_dtype(out, "out", z, "z");
  need_ndim(z, "z", 2);
  need_ndim(v, "vectors", 2);
  need_ndim(al, "alphas", 2);
  need_ndim(out, "out", 3);
  if (v.shape(1) != z.shape(1))
    throw py::value_error("vectors must have the latent size of z, got " + shape_str(v) + " and " + shape_str(z));
  if (al.shape(1) != v.shape(0))
    throw py::value_error("alphas must have one column per vector, got " + shape_str(al) + " for vectors " +
                          shape_str(v));
  need_dim(out, "out", 0, z.shape(0), "rows");
  need_dim(out, "out", 1, al.shape(0), "strengths");
  need_dim(out, "out", 2, z.shape(1), "columns");
  need_unit_inner(z, "z");
  need_unit_inner(v, "vectors");
  need_unit_inner(al, "alphas");
  need_writable_contiguous(out);
  if (code == 0)
    run_offset<float>(z, v, al, out);
  else
    run_offset<double>(z, v, al, out);
}

template <typename T>
void run_score(const py::array& z, const py::array& v, bool normalize, py::array& out) {
  latentatlas::ScoreArgs<T> p;
  p.N = z.shape(0);
  p.D = z.shape(1);
  p.K = v.shape(0);
  p.z = static_cast<const T*>(z.data());
  p.vectors = static_cast<const T*>(v.data());
  p.out = static_cast<T*>(out.mutable_data());
  p.z_row = elem_stride(z, "z", 0);
  p.v_row = elem_stride(v, "vectors", 0);
  p.out_row = p.K;
  p.normalize = normalize;
  latentatlas::Status st;
  {
    py::gil_scoped_release nogil;
    latentatlas::score_cpu<T>(p, st);
  }
  if (st.arg.load() != latentatlas::kNoBad) raise_status(st, "score");
}

void score(const py::array& z, const py::array& v, bool normalize, py::array& out) {
  const int code = dtype_code(z, "z");
  same_dtype(v, "vectors", z, "z");
  same_dtype(out, "out", z, "z");
  need_ndim(z, "z", 2);
  need_ndim(v, "vectors", 2);
  need_ndim(out, "out", 2);
  if (v.shape(1) != z.shape(1))
    throw py::value_error("vectors must have the latent size of z, got " + shape_str(v) + " and " + shape_str(z));
  need_dim(out, "out", 0, z.shape(0), "rows");
  need_dim(out, "out", 1, v.shape(0), "columns");
  need_unit_inner(z, "z");
  need_unit_inner(v, "vectors");
  need_writable_contiguous(out);
  if (code == 0)
    run_score<float>(z, v, normalize, out);
  else
    run_score<double>(z, v, normalize, out);
}

template <typename T>
void run_gather_score(const py::array& q, const py::array& data, const py::array& rows, py::array& out) {
  latentatlas::GatherArgs<T> p;
  p.Q = q.shape(0);
  p.D = q.shape(1);
  p.N = data.shape(0);
  p.C = rows.shape(1);
  p.q = static_cast<const T*>(q.data());
  p.data = static_cast<const T*>(data.data());
  p.rows = static_cast<const std::int64_t*>(rows.data());
  p.out = static_cast<T*>(out.mutable_data());
  p.q_row = elem_stride(q, "q", 0);
  p.data_row = elem_stride(data, "data", 0);
  p.rows_row = elem_stride(rows, "rows", 0);
  p.out_row = p.C;
  latentatlas::Status st;
  {
    py::gil_scoped_release nogil;
    latentatlas::gather_score_cpu<T>(p, st);
  }
  if (st.arg.load() != latentatlas::kNoBad) raise_status(st, "gather_score");
}

void gather_score(const py::array& q, const py::array& data, const py::array& rows, py::array& out) {
  const int code = dtype_code(q, "q");
  same_dtype(data, "data", q, "q");
  same_dtype(out, "out", q, "q");
  if (!rows.dtype().equal(py::dtype::of<std::int64_t>()))
    throw py::type_error("rows must be int64, got " + dtype_str(rows));
  need_ndim(q, "q", 2);
  need_ndim(data, "data", 2);
  need_ndim(rows, "rows", 2);
  need_ndim(out, "out", 2);
  if (data.shape(1) != q.shape(1))
    throw py::value_error("data must have the vector size of q, got " + shape_str(data) + " and " + shape_str(q));
  need_dim(rows, "rows", 0, q.shape(0), "rows");
  need_dim(out, "out", 0, q.shape(0), "rows");
  need_dim(out, "out", 1, rows.shape(1), "columns");
  need_unit_inner(q, "q");
  need_unit_inner(data, "data");
  need_unit_inner(rows, "rows");
  need_writable_contiguous(out);
  if (code == 0)
    run_gather_score<float>(q, data, rows, out);
  else
    run_gather_score<double>(q, data, rows, out);
}

void fill(py::array& out, double value) {
  const int code = dtype_code(out, "out");
  need_writable_contiguous(out);
  const index_t n = static_cast<index_t>(out.size());
  py::gil_scoped_release nogil;
  if (code == 0)
    latentatlas::fill_cpu<float>(static_cast<float*>(out.mutable_data()), n, static_cast<float>(value));
  else
    latentatlas::fill_cpu<double>(static_cast<double*>(out.mutable_data()), n, value);
}

py::dict build_info() {
  py::dict d;
  d["version"] = LATENTATLAS_VERSION;
#if defined(__clang__)
  d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  d["compiler"] = std::string("gcc ") + __VERSION__;
#else
  d["compiler"] = "unknown";
#endif
  d["simd_dispatch"] = LA_SIMD_DISPATCH;
  d["simd_selected"] = latentatlas::simd_level();
  d["hardware_threads"] = static_cast<int>(std::thread::hardware_concurrency());
#ifdef LATENTATLAS_NVCC_FOUND
  d["nvcc_found"] = static_cast<bool>(LATENTATLAS_NVCC_FOUND);
  d["cuda_option"] = LATENTATLAS_CUDA_MODE;
#endif
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "latentatlas native CPU kernels (normalised shapes; use latentatlas.ops)";
  m.def("interp", &interp, py::arg("method"), py::arg("a").noconvert(), py::arg("b").noconvert(),
        py::arg("t").noconvert(), py::arg("out").noconvert(),
        "Interpolate rows a (B, D) to b (B, D) at times t (1 or B, T) into out (B, T, D).");
  m.def("offset", &offset, py::arg("z").noconvert(), py::arg("vectors").noconvert(),
        py::arg("alphas").noconvert(), py::arg("out").noconvert(),
        "out[n, a] = z[n] + sum_k alphas[a, k] * vectors[k]; z (N, D), vectors (K, D), alphas (A, K), out (N, A, D).");
  m.def("score", &score, py::arg("z").noconvert(), py::arg("vectors").noconvert(), py::arg("normalize"),
        py::arg("out").noconvert(), "Dot products (or cosines) of z (N, D) with vectors (K, D) into out (N, K).");
  m.def("gather_score", &gather_score, py::arg("q").noconvert(), py::arg("data").noconvert(),
        py::arg("rows").noconvert(), py::arg("out").noconvert(),
        "out[i, c] = q[i] . data[rows[i, c]]; q (Q, D), data (N, D), rows (Q, C) int64, out (Q, C).");
  m.def("fill", &fill, py::arg("out").noconvert(), py::arg("value"),
        "Fill a C-contiguous array with the thread pool (the write-bandwidth baseline).");
  m.def("set_num_threads", &latentatlas::set_num_threads, py::arg("n"),
        "Threads used by the CPU kernels; n <= 0 restores the default (all cores).");
  m.def("get_num_threads", &latentatlas::get_num_threads, "Threads used by the CPU kernels.");
  m.def("set_streaming", &latentatlas::set_streaming_mode, py::arg("mode"),
        "Streaming (non-temporal) stores for large outputs: -1 automatic (default), 0 never, 1 always.");
  m.def("get_streaming", &latentatlas::streaming_mode, "The streaming-store mode (-1, 0 or 1).");
  m.def("build_info", &build_info, "Compiler, SIMD dispatch and version of this build.");
}
