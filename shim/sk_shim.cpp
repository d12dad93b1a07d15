// sk_shim.cpp - the single C++ translation unit of shrink: sk_shim.h over
// libtorch (1.13 CPU from Debian, or 2.x with CUDA).
//
// Every extern "C" function is wrapped so that no C++ exception escapes:
// c10::Error and std::exception become SK_ETORCH / SK_ENOMEM plus a one-line
// message naming the op and its argument shapes (tch-rs' PROTECT pattern,
// with c10::Error::what_without_backtrace() to keep messages short).
#include "sk_shim.h"

#include <torch/torch.h>
#include <torch/version.h>
// Named, not left to torch/torch.h's include chain, which differs between
// releases: at::CPUGeneratorImpl (1.13 and 2.x both ship this header).
#include <ATen/CPUGeneratorImpl.h>
#ifdef SK_SHIM_CUDA // set by CMake when libtorch is a CUDA build (it links c10_cuda)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <atomic>
#include <dlfcn.h> // dlsym: OpenBLAS's thread setting, when present
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

// libtorch's optional arguments: c10::optional is its own type in 1.13, an
// alias of std::optional from 2.4, and deprecated on its way out after that
// (built with -DC10_NODEPRECATED it is gone). Name std::optional where it is
// the same type; pass `{}` for "none" so no call site names either.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define SK_TORCH_STD_OPTIONAL 1
#else
#define SK_TORCH_STD_OPTIONAL 0
#endif

struct sk_scope;

struct sk_tensor {
    at::Tensor t;
    sk_scope *scope; // owning scope, or nullptr when caller-owned
    size_t slot;     // index in scope->items
};

struct sk_scope {
    std::vector<sk_tensor *> items;
    sk_scope *parent;
    size_t live; // non-null entries in items
};

struct sk_generator {
    at::Generator gen; // always a CPU generator: results do not depend on the device
};

struct sk_adamw {
    std::vector<at::Tensor> params;
    std::vector<int> decay;
    std::vector<sk_tensor *> exp_avg, exp_avg_sq; // caller-visible handles, owned here
    sk_adamw_opts opts;
    int64_t step;               // sk_adamw_step calls
    std::vector<int64_t> pstep; // per parameter: steps it took (torch's state['step'])
};

struct sk_sgd {
    std::vector<at::Tensor> params;
    std::vector<int> decay;
    std::vector<sk_tensor *> buf; // momentum buffers, caller-visible handles owned here; NULL until started
    sk_sgd_opts opts;
};

namespace {

thread_local sk_scope *cur_scope_ = nullptr;
std::atomic<int64_t> live_tensors_{0};
thread_local int cuda_index_ = 0;

// ---- errors ------------------------------------------------------------

std::string shape_str_(const at::Tensor &t)
{
    if (!t.defined()) return "undefined";
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); i++) {
        if (i) s += ", ";
        s += std::to_string(t.size(i));
    }
    s += "] ";
    s += c10::toString(t.scalar_type());
    if (t.is_cuda()) s += " cuda";
    return s;
}

std::string args_str_(std::initializer_list<const sk_tensor *> args)
{
    std::string s;
    for (const sk_tensor *a : args) {
        if (!s.empty()) s += ", ";
        s += a ? shape_str_(a->t) : std::string("NULL");
    }
    return s;
}

std::string first_line_(const char *msg)
{
    std::string s(msg ? msg : "");
    size_t nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    return s;
}

// Called from catch blocks only: rethrows to classify the active exception.
int fail_(const char *op, const std::string &args)
{
    try {
        throw;
    } catch (const c10::Error &e) {
        return sk_error_set(SK_ETORCH, "%s(%s): %s", op, args.c_str(), first_line_(e.what_without_backtrace()).c_str());
    } catch (const std::bad_alloc &) {
        return sk_error_set(SK_ENOMEM, "%s(%s): out of memory", op, args.c_str());
    } catch (const std::exception &e) {
        return sk_error_set(SK_ETORCH, "%s(%s): %s", op, args.c_str(), first_line_(e.what()).c_str());
    } catch (...) {
        return sk_error_set(SK_ETORCH, "%s(%s): unknown C++ exception", op, args.c_str());
    }
}

// A NULL argument means an earlier op failed and already said why; keep that
// message unless none was set.
bool null_args_(const char *op, std::initializer_list<const sk_tensor *> args)
{
    for (const sk_tensor *a : args) {
        if (!a) {
            if (sk_error_last_code() == SK_OK) sk_error_set(SK_EINVAL, "%s: NULL tensor argument", op);
            return true;
        }
    }
    return false;
}

// ---- ownership ---------------------------------------------------------

sk_tensor *wrap_(at::Tensor t)
{
    sk_tensor *h = new sk_tensor{std::move(t), nullptr, 0};
    live_tensors_++;
    if (cur_scope_) {
        h->scope = cur_scope_;
        h->slot = cur_scope_->items.size();
        cur_scope_->items.push_back(h);
        cur_scope_->live++;
    }
    return h;
}

template <class F> sk_tensor *op_(const char *name, std::initializer_list<const sk_tensor *> args, F f)
{
    if (null_args_(name, args)) return nullptr;
    try {
        return wrap_(f());
    } catch (...) {
        fail_(name, args_str_(args));
        return nullptr;
    }
}

template <class F> int op_int_(const char *name, std::initializer_list<const sk_tensor *> args, F f)
{
    if (null_args_(name, args)) return sk_error_last_code() ? sk_error_last_code() : SK_EINVAL;
    try {
        return f();
    } catch (...) {
        return fail_(name, args_str_(args));
    }
}

// ---- type mapping ------------------------------------------------------

at::ScalarType st_(sk_dtype dt)
{
    switch (dt) {
    case SK_F32: return at::kFloat;
    case SK_BF16: return at::kBFloat16;
    case SK_F16: return at::kHalf;
    case SK_F64: return at::kDouble;
    case SK_I64: return at::kLong;
    case SK_I32: return at::kInt;
    case SK_I16: return at::kShort;
    case SK_U8: return at::kByte;
    case SK_BOOL: return at::kBool;
    }
    throw std::invalid_argument("unknown sk_dtype " + std::to_string((int)dt));
}

sk_dtype dt_(at::ScalarType s)
{
    switch (s) {
    case at::kFloat: return SK_F32;
    case at::kBFloat16: return SK_BF16;
    case at::kHalf: return SK_F16;
    case at::kDouble: return SK_F64;
    case at::kLong: return SK_I64;
    case at::kInt: return SK_I32;
    case at::kShort: return SK_I16;
    case at::kByte: return SK_U8;
    case at::kBool: return SK_BOOL;
    default: return SK_F32;
    }
}

at::Device dev_(sk_device d)
{
    if (d == SK_CUDA) return at::Device(at::kCUDA, (c10::DeviceIndex)cuda_index_);
    return at::Device(at::kCPU);
}

at::TensorOptions opts_(sk_dtype dt, sk_device d) { return at::TensorOptions().dtype(st_(dt)).device(dev_(d)); }

std::vector<int64_t> shape_(const int64_t *shape, int ndim)
{
    if (ndim < 0 || ndim > SK_SHIM_MAX_DIMS) throw std::invalid_argument("ndim out of range: " + std::to_string(ndim));
    if (ndim > 0 && !shape) throw std::invalid_argument("NULL shape");
    return std::vector<int64_t>(shape, shape + ndim);
}

#if SK_TORCH_STD_OPTIONAL
using opt_tensor_ = std::optional<at::Tensor>;
#else
using opt_tensor_ = c10::optional<at::Tensor>;
#endif

opt_tensor_ opt_(const sk_tensor *t)
{
    if (!t) return {};
    return t->t;
}

// Random numbers come from the CPU generator and move to the device, so a
// seed gives the same values on every device.
at::Tensor on_(at::Tensor cpu, sk_device d, sk_dtype dt) { return cpu.to(opts_(dt, d)); }

at::Tensor causal_bias_(int64_t n, const at::TensorOptions &o)
{
    return at::full({n, n}, -std::numeric_limits<float>::infinity(), o).triu(1);
}

} // namespace

extern "C" {

// ---- library -------------------------------------------------------------

const char *sk_shim_torch_version(void) { return TORCH_VERSION; }

int sk_shim_has_fused_sdpa(void)
{
#if TORCH_VERSION_MAJOR >= 2
    return 1;
#else
    return 0;
#endif
}

int sk_shim_cuda_available(void)
{
    try {
        return torch::cuda::is_available() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

void sk_shim_set_num_threads(int n)
{
    if (n <= 0) return;
    at::set_num_threads(n);
    /* OpenBLAS (pthreads build) starts one thread per core, which
     * at::set_num_threads does not reach: "1 thread" ran GEMMs on every
     * core, and MPI ranks sharing a host oversubscribed it. Its pool is set
     * to 1, not n: next to libtorch's OpenMP pool both spin, and n BLAS
     * threads measured slower than 1 at every n tried (bench_train ViT at 2
     * threads: 374-487 vs 877-977 samples/s; bench_shim at 2: 9.6-11.7 vs
     * 8.7-9.6 ms). Looked up at run time, so a libtorch on MKL (or a BLAS
     * without this entry point) is left as it is. */
    using blas_threads_fn = void (*)(int);
    static blas_threads_fn blas_threads =
        reinterpret_cast<blas_threads_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (blas_threads) blas_threads(1);
}

int sk_shim_get_num_threads(void) { return at::get_num_threads(); }

int sk_shim_tune_host_allocator(size_t bytes)
{
#if defined(__GLIBC__)
    const size_t cap = (size_t)32 << 20; // glibc's largest mmap threshold on 64-bit
    if (bytes > cap) bytes = cap;
    if (!mallopt(M_MMAP_THRESHOLD, (int)bytes) || !mallopt(M_TRIM_THRESHOLD, (int)(2 * bytes)))
        return sk_error_set(SK_EINVAL, "tune_host_allocator: mallopt rejected %zu bytes", bytes);
    return SK_OK;
#else
    (void)bytes;
    return sk_error_set(SK_EUNSUPPORTED, "tune_host_allocator: needs glibc");
#endif
}

size_t sk_shim_dtype_size(sk_dtype dt)
{
    switch (dt) {
    case SK_F32:
    case SK_I32: return 4;
    case SK_BF16:
    case SK_F16:
    case SK_I16: return 2;
    case SK_F64:
    case SK_I64: return 8;
    case SK_U8:
    case SK_BOOL: return 1;
    }
    return 0;
}

const char *sk_shim_dtype_name(sk_dtype dt)
{
    static const char *const names[] = {"f32", "bf16", "f16", "f64", "i64", "i32", "i16", "u8", "bool"};
    return ((unsigned)dt < sizeof names / sizeof *names) ? names[dt] : "?";
}

int sk_shim_parse_device(const char *s, sk_device *out)
{
    if (s && strcmp(s, "cpu") == 0) {
        *out = SK_CPU;
        return SK_OK;
    }
    if (s && strcmp(s, "cuda") == 0) {
        *out = SK_CUDA;
        return SK_OK;
    }
    return sk_error_set(SK_EINVAL, "unknown device '%s' (expected cpu or cuda)", s ? s : "");
}

int sk_shim_parse_dtype(const char *s, sk_dtype *out)
{
    for (int i = 0; i <= SK_BOOL; i++) {
        if (s && strcmp(s, sk_shim_dtype_name((sk_dtype)i)) == 0) {
            *out = (sk_dtype)i;
            return SK_OK;
        }
    }
    return sk_error_set(SK_EINVAL, "unknown dtype '%s' (expected f32, bf16, ...)", s ? s : "");
}

int sk_shim_synchronize(sk_device dev)
{
    if (dev != SK_CUDA) return SK_OK;
    try {
        // The device sk_shim_set_cuda_index chose, not whichever is current.
        torch::cuda::synchronize(cuda_index_);
        return SK_OK;
    } catch (...) {
        return fail_("synchronize", "cuda");
    }
}

void sk_shim_set_cuda_index(int index) { cuda_index_ = index; }

// The caching allocator's peak statistics: reset them (reset = 1) or read
// the peak of allocated bytes into *bytes.
static int cuda_peak_(int reset, int64_t *bytes)
{
#ifdef SK_SHIM_CUDA
    if (!sk_shim_cuda_available()) return sk_error_set(SK_EUNSUPPORTED, "no usable CUDA device for memory statistics");
    try {
        const c10::DeviceIndex dev = (c10::DeviceIndex)cuda_index_;
        if (reset) {
            c10::cuda::CUDACachingAllocator::resetPeakStats(dev);
        } else {
            // allocated_bytes[0]: the aggregate over pool types (StatType::AGGREGATE in 1.13 and 2.x)
            auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(dev);
            *bytes = (int64_t)st.allocated_bytes[0].peak;
        }
        return SK_OK;
    } catch (...) {
        return fail_(reset ? "cuda_peak_reset" : "cuda_peak_bytes", std::to_string(cuda_index_));
    }
#else
    (void)reset;
    (void)bytes;
    return sk_error_set(SK_EUNSUPPORTED, "device memory statistics need a CUDA build of libtorch (this one is %s, CPU)",
                        TORCH_VERSION);
#endif
}

int sk_shim_cuda_peak_reset(void) { return cuda_peak_(1, NULL); }

int sk_shim_cuda_peak_bytes(int64_t *bytes)
{
    *bytes = -1;
    return cuda_peak_(0, bytes);
}

// ---- scopes --------------------------------------------------------------

sk_scope *sk_shim_scope_begin(void)
{
    sk_scope *s = new (std::nothrow) sk_scope();
    if (!s) {
        sk_error_set(SK_ENOMEM, "scope_begin: out of memory");
        return nullptr;
    }
    s->parent = cur_scope_;
    s->live = 0;
    s->items.reserve(256);
    cur_scope_ = s;
    return s;
}

void sk_shim_scope_end(sk_scope *s)
{
    if (!s) return;
    // Ending an outer scope first ends the inner scopes still open in it.
    bool open = false;
    for (sk_scope *p = cur_scope_; p; p = p->parent)
        if (p == s) open = true;
    while (open && cur_scope_ != s) sk_shim_scope_end(cur_scope_);
    for (sk_tensor *t : s->items) {
        if (t) {
            delete t;
            live_tensors_--;
        }
    }
    if (cur_scope_ == s) cur_scope_ = s->parent;
    delete s;
}

size_t sk_shim_scope_size(const sk_scope *s) { return s ? s->live : 0; }

int64_t sk_shim_live_tensors(void) { return live_tensors_.load(); }

sk_tensor *sk_shim_keep(sk_tensor *t)
{
    if (t && t->scope) {
        t->scope->items[t->slot] = nullptr;
        t->scope->live--;
        t->scope = nullptr;
    }
    return t;
}

void sk_tensor_free(sk_tensor *t)
{
    if (!t) return;
    sk_shim_keep(t);
    delete t;
    live_tensors_--;
}

// ---- RNG -----------------------------------------------------------------

int sk_generator_create(sk_generator **out, uint64_t seed, sk_device dev)
{
    (void)dev;
    *out = nullptr;
    try {
        sk_generator *g = new sk_generator{at::make_generator<at::CPUGeneratorImpl>(seed)};
        *out = g;
        return SK_OK;
    } catch (...) {
        return fail_("generator_create", "");
    }
}

void sk_generator_free(sk_generator *g) { delete g; }

int sk_generator_get_state(sk_generator *g, void *buf, size_t cap, size_t *len)
{
    if (!g) return sk_error_set(SK_EINVAL, "generator_get_state: NULL generator");
    try {
        std::lock_guard<std::mutex> lock(g->gen.mutex());
        at::Tensor st = g->gen.get_state();
        size_t n = (size_t)st.numel();
        if (len) *len = n;
        if (!buf) return SK_OK;
        if (cap < n) return sk_error_set(SK_EINVAL, "generator_get_state: buffer of %zu bytes, need %zu", cap, n);
        memcpy(buf, st.data_ptr(), n);
        return SK_OK;
    } catch (...) {
        return fail_("generator_get_state", "");
    }
}

int sk_generator_set_state(sk_generator *g, const void *buf, size_t len)
{
    if (!g || !buf) return sk_error_set(SK_EINVAL, "generator_set_state: NULL argument");
    try {
        at::Tensor st = at::empty({(int64_t)len}, at::kByte);
        memcpy(st.data_ptr(), buf, len);
        std::lock_guard<std::mutex> lock(g->gen.mutex());
        g->gen.set_state(st);
        return SK_OK;
    } catch (...) {
        return fail_("generator_set_state", std::to_string(len) + " bytes");
    }
}

// ---- creation ------------------------------------------------------------

sk_tensor *sk_shim_zeros(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev)
{
    return op_("zeros", {}, [&] { return at::zeros(shape_(shape, ndim), opts_(dt, dev)); });
}

sk_tensor *sk_shim_ones(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev)
{
    return op_("ones", {}, [&] { return at::ones(shape_(shape, ndim), opts_(dt, dev)); });
}

sk_tensor *sk_shim_full(const int64_t *shape, int ndim, double value, sk_dtype dt, sk_device dev)
{
    return op_("full", {}, [&] { return at::full(shape_(shape, ndim), value, opts_(dt, dev)); });
}

static sk_tensor *random_(const char *name, bool normal, const int64_t *shape, int ndim, sk_dtype dt, sk_device dev,
                          sk_generator *g)
{
    if (!g) {
        sk_error_set(SK_EINVAL, "%s: NULL generator", name);
        return nullptr;
    }
    return op_(name, {}, [&] {
        // at::randn/rand lock the generator themselves.
        auto cpu = at::TensorOptions().dtype(at::kFloat);
        at::Tensor r =
            normal ? at::randn(shape_(shape, ndim), g->gen, cpu) : at::rand(shape_(shape, ndim), g->gen, cpu);
        return on_(r, dev, dt);
    });
}

sk_tensor *sk_shim_randn(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev, sk_generator *g)
{
    return random_("randn", true, shape, ndim, dt, dev, g);
}

sk_tensor *sk_shim_rand(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev, sk_generator *g)
{
    return random_("rand", false, shape, ndim, dt, dev, g);
}

sk_tensor *sk_shim_randperm(int64_t n, sk_device dev, sk_generator *g)
{
    if (!g) {
        sk_error_set(SK_EINVAL, "randperm: NULL generator");
        return nullptr;
    }
    return op_("randperm", {},
               [&] { return at::randperm(n, g->gen, at::TensorOptions().dtype(at::kLong)).to(dev_(dev)); });
}

sk_tensor *sk_shim_arange(int64_t n, sk_device dev)
{
    return op_("arange", {}, [&] { return at::arange(n, opts_(SK_I64, dev)); });
}

sk_tensor *sk_shim_from_host(const void *data, const int64_t *shape, int ndim, sk_dtype dt, sk_device dev)
{
    if (!data) {
        sk_error_set(SK_EINVAL, "from_host: NULL data");
        return nullptr;
    }
    return op_("from_host", {}, [&] {
        at::Tensor view =
            at::from_blob(const_cast<void *>(data), shape_(shape, ndim), at::TensorOptions().dtype(st_(dt)));
        return dev == SK_CPU ? view.clone() : view.to(dev_(dev));
    });
}

int sk_shim_to_host(const sk_tensor *t, void *buf, size_t cap)
{
    return op_int_("to_host", {t}, [&] {
        at::Tensor c = t->t.detach().to(at::kCPU).contiguous();
        size_t need = (size_t)c.numel() * c.element_size();
        if (cap < need)
            return sk_error_set(SK_EINVAL, "to_host(%s): buffer of %zu bytes, need %zu", shape_str_(t->t).c_str(), cap,
                                need);
        if (need) memcpy(buf, c.data_ptr(), need);
        return (int)SK_OK;
    });
}

int sk_shim_copy_from_host(sk_tensor *t, const void *data, size_t bytes)
{
    return op_int_("copy_from_host", {t}, [&] {
        size_t need = (size_t)t->t.numel() * t->t.element_size();
        if (bytes != need)
            return sk_error_set(SK_EINVAL, "copy_from_host(%s): got %zu bytes, need %zu", shape_str_(t->t).c_str(),
                                bytes, need);
        at::NoGradGuard ng;
        at::Tensor src =
            at::from_blob(const_cast<void *>(data), t->t.sizes(), at::TensorOptions().dtype(t->t.scalar_type()));
        t->t.copy_(src);
        return (int)SK_OK;
    });
}

int sk_shim_copy_(sk_tensor *dst, const sk_tensor *src)
{
    return op_int_("copy_", {dst, src}, [&] {
        at::NoGradGuard ng;
        if (!dst->t.sizes().equals(src->t.sizes()))
            return sk_error_set(SK_EINVAL, "copy_(%s, %s): shapes differ", shape_str_(dst->t).c_str(),
                                shape_str_(src->t).c_str());
        dst->t.copy_(src->t);
        return (int)SK_OK;
    });
}

// ---- shape queries ---------------------------------------------------------

int sk_shim_ndim(const sk_tensor *t)
{
    if (!t) return sk_error_set(SK_EINVAL, "ndim: NULL tensor");
    return (int)t->t.dim();
}

int64_t sk_shim_size(const sk_tensor *t, int d)
{
    if (!t) {
        sk_error_set(SK_EINVAL, "size: NULL tensor");
        return -1;
    }
    int64_t nd = t->t.dim();
    int64_t dd = d < 0 ? d + nd : d;
    if (dd < 0 || dd >= nd) {
        sk_error_set(SK_EINVAL, "size(%s): dim %d out of range", shape_str_(t->t).c_str(), d);
        return -1;
    }
    return t->t.size(dd);
}

int64_t sk_shim_numel(const sk_tensor *t) { return t ? t->t.numel() : -1; }

int sk_shim_shape(const sk_tensor *t, int64_t *shape)
{
    if (!t) return sk_error_set(SK_EINVAL, "shape: NULL tensor");
    int nd = (int)t->t.dim();
    if (nd > SK_SHIM_MAX_DIMS) return sk_error_set(SK_EINVAL, "shape: %d dims exceed SK_SHIM_MAX_DIMS", nd);
    for (int i = 0; i < nd; i++) shape[i] = t->t.size(i);
    return nd;
}

sk_dtype sk_shim_dtype(const sk_tensor *t) { return t ? dt_(t->t.scalar_type()) : SK_F32; }

sk_device sk_shim_device(const sk_tensor *t) { return (t && t->t.is_cuda()) ? SK_CUDA : SK_CPU; }

const char *sk_shim_describe(const sk_tensor *t, char *buf, size_t cap)
{
    if (!buf || !cap) return buf;
    std::string s = t ? shape_str_(t->t) : std::string("NULL");
    snprintf(buf, cap, "%s", s.c_str());
    return buf;
}

void *sk_shim_data_ptr(sk_tensor *t)
{
    if (!t) {
        sk_error_set(SK_EINVAL, "data_ptr: NULL tensor");
        return nullptr;
    }
    if (t->t.is_cuda() || !t->t.is_contiguous()) {
        sk_error_set(SK_EINVAL, "data_ptr(%s): needs a contiguous CPU tensor", shape_str_(t->t).c_str());
        return nullptr;
    }
    return t->t.data_ptr();
}

// ---- conversion and layout ---------------------------------------------------

sk_tensor *sk_shim_to(const sk_tensor *t, sk_device dev, sk_dtype dt)
{
    return op_("to", {t}, [&] { return t->t.to(opts_(dt, dev)); });
}
sk_tensor *sk_shim_clone(const sk_tensor *t)
{
    return op_("clone", {t}, [&] { return t->t.clone(); });
}
sk_tensor *sk_shim_detach(const sk_tensor *t)
{
    return op_("detach", {t}, [&] { return t->t.detach(); });
}
sk_tensor *sk_shim_contiguous(const sk_tensor *t)
{
    return op_("contiguous", {t}, [&] { return t->t.contiguous(); });
}

sk_tensor *sk_shim_reshape(const sk_tensor *t, const int64_t *shape, int ndim)
{
    return op_("reshape", {t}, [&] { return t->t.reshape(shape_(shape, ndim)); });
}

sk_tensor *sk_shim_permute(const sk_tensor *t, const int64_t *dims, int ndim)
{
    return op_("permute", {t}, [&] { return t->t.permute(shape_(dims, ndim)); });
}

sk_tensor *sk_shim_transpose(const sk_tensor *t, int64_t d0, int64_t d1)
{
    return op_("transpose", {t}, [&] { return t->t.transpose(d0, d1); });
}

sk_tensor *sk_shim_unsqueeze(const sk_tensor *t, int64_t d)
{
    return op_("unsqueeze", {t}, [&] { return t->t.unsqueeze(d); });
}
sk_tensor *sk_shim_squeeze(const sk_tensor *t, int64_t d)
{
    return op_("squeeze", {t}, [&] { return t->t.squeeze(d); });
}

sk_tensor *sk_shim_expand(const sk_tensor *t, const int64_t *shape, int ndim)
{
    return op_("expand", {t}, [&] { return t->t.expand(shape_(shape, ndim)); });
}

sk_tensor *sk_shim_slice(const sk_tensor *t, int64_t d, int64_t start, int64_t end)
{
    return op_("slice", {t}, [&] { return t->t.slice(d, start, end); });
}

static sk_tensor *join_(const char *name, sk_tensor *const *ts, int n, int64_t d, bool stack)
{
    if (n <= 0 || !ts) {
        sk_error_set(SK_EINVAL, "%s: no tensors", name);
        return nullptr;
    }
    for (int i = 0; i < n; i++)
        if (null_args_(name, {ts[i]})) return nullptr;
    try {
        std::vector<at::Tensor> v;
        v.reserve(n);
        for (int i = 0; i < n; i++) v.push_back(ts[i]->t);
        return wrap_(stack ? at::stack(v, d) : at::cat(v, d));
    } catch (...) {
        std::string a;
        for (int i = 0; i < n && i < 8; i++) a += (i ? ", " : "") + shape_str_(ts[i]->t);
        fail_(name, a);
        return nullptr;
    }
}

sk_tensor *sk_shim_cat(sk_tensor *const *ts, int n, int64_t d) { return join_("cat", ts, n, d, false); }
sk_tensor *sk_shim_stack(sk_tensor *const *ts, int n, int64_t d) { return join_("stack", ts, n, d, true); }

// ---- elementwise -------------------------------------------------------------

#define SK_BINARY(fn, expr)                                         \
    sk_tensor *sk_shim_##fn(const sk_tensor *a, const sk_tensor *b) \
    {                                                               \
        return op_(#fn, {a, b}, [&] { return expr; });              \
    }
#define SK_UNARY(fn, expr)                          \
    sk_tensor *sk_shim_##fn(const sk_tensor *a)     \
    {                                               \
        return op_(#fn, {a}, [&] { return expr; }); \
    }
#define SK_SCALAR(fn, expr)                               \
    sk_tensor *sk_shim_##fn(const sk_tensor *a, double s) \
    {                                                     \
        return op_(#fn, {a}, [&] { return expr; });       \
    }

SK_BINARY(add, a->t + b->t)
SK_BINARY(sub, a->t - b->t)
SK_BINARY(mul, a->t * b->t)
SK_BINARY(div, a->t / b->t)
SK_BINARY(eq, a->t.eq(b->t))
SK_SCALAR(add_scalar, a->t + s)
SK_SCALAR(mul_scalar, a->t *s)
SK_SCALAR(pow_scalar, a->t.pow(s))
SK_SCALAR(gt_scalar, a->t.gt(s))
SK_SCALAR(ge_scalar, a->t.ge(s))
SK_SCALAR(lt_scalar, a->t.lt(s))
SK_UNARY(neg, -a->t)
SK_UNARY(exp, a->t.exp())
SK_UNARY(log, a->t.log())
SK_UNARY(sqrt, a->t.sqrt())
SK_UNARY(abs, a->t.abs())
SK_UNARY(tanh, a->t.tanh())
SK_UNARY(sigmoid, a->t.sigmoid())
SK_UNARY(relu, a->t.relu())
SK_UNARY(gelu, at::gelu(a->t))
SK_UNARY(logical_not, a->t.logical_not())

sk_tensor *sk_shim_clamp(const sk_tensor *a, double lo, double hi)
{
    return op_("clamp", {a}, [&] { return a->t.clamp(lo, hi); });
}

sk_tensor *sk_shim_where(const sk_tensor *mask, const sk_tensor *a, const sk_tensor *b)
{
    return op_("where", {mask, a, b}, [&] { return at::where(mask->t, a->t, b->t); });
}

sk_tensor *sk_shim_masked_fill(const sk_tensor *a, const sk_tensor *mask, double value)
{
    return op_("masked_fill", {a, mask}, [&] { return a->t.masked_fill(mask->t, value); });
}

// ---- reductions ----------------------------------------------------------------

sk_tensor *sk_shim_sum(const sk_tensor *a, const int64_t *dims, int ndims, int keepdim)
{
    return op_("sum", {a}, [&] {
        if (ndims == 0) return a->t.sum();
        return a->t.sum(at::IntArrayRef(shape_(dims, ndims)), keepdim != 0);
    });
}

sk_tensor *sk_shim_mean(const sk_tensor *a, const int64_t *dims, int ndims, int keepdim)
{
    return op_("mean", {a}, [&] {
        if (ndims == 0) return a->t.mean();
        return a->t.mean(at::IntArrayRef(shape_(dims, ndims)), keepdim != 0);
    });
}

int sk_shim_max(const sk_tensor *a, int64_t d, int keepdim, sk_tensor **values, sk_tensor **indices)
{
    if (values) *values = nullptr;
    if (indices) *indices = nullptr;
    return op_int_("max", {a}, [&] {
        if (!indices) { /* values only: amax is ~8x faster on CPU than max with its indices */
            if (values) *values = wrap_(at::amax(a->t, {d}, keepdim != 0));
            return (int)SK_OK;
        }
        auto r = a->t.max(d, keepdim != 0);
        if (values) *values = wrap_(std::get<0>(r));
        if (indices) *indices = wrap_(std::get<1>(r));
        return (int)SK_OK;
    });
}

sk_tensor *sk_shim_argmax(const sk_tensor *a, int64_t d, int keepdim)
{
    return op_("argmax", {a}, [&] { return a->t.argmax(d, keepdim != 0); });
}

sk_tensor *sk_shim_norm(const sk_tensor *a, int64_t d, int keepdim)
{
    return op_("norm", {a}, [&] { return at::linalg_vector_norm(a->t, 2, at::IntArrayRef{d}, keepdim != 0, {}); });
}

sk_tensor *sk_shim_cumsum(const sk_tensor *a, int64_t d)
{
    return op_("cumsum", {a}, [&] { return a->t.cumsum(d); });
}

int sk_shim_item(const sk_tensor *a, double *out)
{
    return op_int_("item", {a}, [&] {
        *out = a->t.detach().to(at::kCPU).to(at::kDouble).item<double>();
        return (int)SK_OK;
    });
}

int sk_shim_all_finite(const sk_tensor *a, int *out)
{
    return op_int_("all_finite", {a}, [&] {
        *out = at::isfinite(a->t.detach()).all().item<bool>() ? 1 : 0;
        return (int)SK_OK;
    });
}

// ---- linear algebra and NN ---------------------------------------------------------

SK_BINARY(matmul, at::matmul(a->t, b->t))

sk_tensor *sk_shim_linear(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b)
{
    return op_("linear", {x, w}, [&] { return at::linear(x->t, w->t, opt_(b)); });
}

sk_tensor *sk_shim_layer_norm(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b, double eps)
{
    return op_("layer_norm", {x}, [&] {
        int64_t d = x->t.size(-1);
        return at::layer_norm(x->t, {d}, opt_(w), opt_(b), eps);
    });
}

sk_tensor *sk_shim_softmax(const sk_tensor *x, int64_t d)
{
    return op_("softmax", {x}, [&] { return x->t.softmax(d); });
}
sk_tensor *sk_shim_log_softmax(const sk_tensor *x, int64_t d)
{
    return op_("log_softmax", {x}, [&] { return x->t.log_softmax(d); });
}

sk_tensor *sk_shim_embedding(const sk_tensor *weight, const sk_tensor *idx)
{
    return op_("embedding", {weight, idx}, [&] { return at::embedding(weight->t, idx->t.to(at::kLong)); });
}

sk_tensor *sk_shim_cross_entropy(const sk_tensor *logits, const sk_tensor *targets, int64_t ignore_index)
{
    return op_("cross_entropy", {logits, targets}, [&] {
        return at::cross_entropy_loss(logits->t, targets->t.to(at::kLong), {}, at::Reduction::Mean, ignore_index, 0.0);
    });
}

sk_tensor *sk_shim_dropout(const sk_tensor *x, double p, sk_generator *g)
{
    if (p <= 0.0) return op_("dropout", {x}, [&] { return x->t.alias(); });
    if (!g) {
        sk_error_set(SK_EINVAL, "dropout: NULL generator");
        return nullptr;
    }
    return op_("dropout", {x}, [&] {
        if (p >= 1.0) return at::zeros_like(x->t);
        at::Tensor keep = at::rand(x->t.sizes(), g->gen, at::TensorOptions().dtype(at::kFloat)).ge(p);
        return x->t * keep.to(x->t.options()) * (1.0 / (1.0 - p));
    });
}

// Attention: the explicit form softmax(q k^T / sqrt(d) + bias [+ causal]) v.
static at::Tensor attn_explicit_(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, const sk_tensor *bias,
                                 int causal, at::Tensor *probs_out)
{
    double scale = 1.0 / std::sqrt((double)q.size(-1));
    at::Tensor s = at::matmul(q, k.transpose(-2, -1)) * scale;
    if (bias) s = s + bias->t;
    if (causal) s = s + causal_bias_(q.size(-2), s.options());
    at::Tensor p = s.softmax(-1);
    if (probs_out) *probs_out = p;
    return at::matmul(p, v);
}

sk_tensor *sk_shim_sdpa(const sk_tensor *q, const sk_tensor *k, const sk_tensor *v, const sk_tensor *attn_bias,
                        int causal)
{
    return op_("sdpa", {q, k, v}, [&] {
#if TORCH_VERSION_MAJOR >= 2
        if (!attn_bias) return at::scaled_dot_product_attention(q->t, k->t, v->t, {}, 0.0, causal != 0);
        at::Tensor bias = attn_bias->t.to(q->t.scalar_type());
        if (causal) bias = bias + causal_bias_(q->t.size(-2), q->t.options());
        return at::scaled_dot_product_attention(q->t, k->t, v->t, bias, 0.0, false);
#else
        return attn_explicit_(q->t, k->t, v->t, attn_bias, causal, nullptr);
#endif
    });
}

sk_tensor *sk_shim_attention_probs(const sk_tensor *q, const sk_tensor *k, const sk_tensor *v,
                                   const sk_tensor *attn_bias, int causal, sk_tensor **probs)
{
    if (probs) *probs = nullptr;
    at::Tensor p;
    sk_tensor *out =
        op_("attention_probs", {q, k, v}, [&] { return attn_explicit_(q->t, k->t, v->t, attn_bias, causal, &p); });
    if (out && probs) *probs = wrap_(p);
    return out;
}

// ---- indexing ----------------------------------------------------------------------

sk_tensor *sk_shim_gather(const sk_tensor *x, int64_t d, const sk_tensor *idx)
{
    return op_("gather", {x, idx}, [&] { return x->t.gather(d, idx->t); });
}

sk_tensor *sk_shim_scatter(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src)
{
    return op_("scatter", {x, idx, src}, [&] { return x->t.scatter(d, idx->t, src->t); });
}

sk_tensor *sk_shim_scatter_add(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src)
{
    return op_("scatter_add", {x, idx, src}, [&] { return x->t.scatter_add(d, idx->t, src->t); });
}

sk_tensor *sk_shim_index_add(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src)
{
    return op_("index_add", {x, idx, src}, [&] {
        /* Whole rows on CPU: libtorch's index_add runs one add kernel per
         * index entry; index_put with accumulate walks all elements in one
         * (serial, so still deterministic) kernel, ~1.4x faster for
         * [3152, 128] rows (bench_select, tome merge). Same values and
         * gradients (src's is the gather of the output gradient). */
        if (d == 0 && x->t.dim() > 1 && x->t.device().is_cpu())
            return x->t.index_put({idx->t}, src->t, /*accumulate=*/true);
        return x->t.index_add(d, idx->t, src->t);
    });
}

/* The straight-through gate as one autograd node: forward passes rows
 * through; backward gives rows their gradient unchanged and the logits
 * d/dl [rows * (1 + sigmoid(l) - sg(sigmoid(l)))] = sum_d(grad * rows) *
 * sigmoid'(l) over the gated rows. The same values and gradients as those
 * five ops and a cat of ones for the prefix, in two kernels forward. */
struct st_gate_fn_ : public torch::autograd::Function<st_gate_fn_> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &rows, const at::Tensor &logits,
                              int64_t p)
    {
        ctx->save_for_backward({rows, logits});
        ctx->saved_data["p"] = p;
        return rows.clone();
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list grads)
    {
        auto saved = ctx->get_saved_variables();
        int64_t p = ctx->saved_data["p"].toInt(), k = saved[1].size(1);
        auto sg = saved[1].sigmoid();
        auto dl = (grads[0].narrow(1, p, k) * saved[0].narrow(1, p, k)).sum(-1) * sg * (1 - sg);
        return {grads[0], dl, at::Tensor()};
    }
};

sk_tensor *sk_shim_st_gate(const sk_tensor *rows, const sk_tensor *logits, int64_t p)
{
    return op_("st_gate", {rows, logits}, [&] {
        if (rows->t.dim() != 3 || logits->t.dim() != 2 || p < 0 || rows->t.size(0) != logits->t.size(0) ||
            rows->t.size(1) != p + logits->t.size(1))
            throw std::invalid_argument("st_gate: rows must be [B, p + K, D] for logits [B, K]");
        return st_gate_fn_::apply(rows->t, logits->t, p);
    });
}

sk_tensor *sk_shim_index_copy(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src)
{
    return op_("index_copy", {x, idx, src}, [&] { return x->t.index_copy(d, idx->t, src->t); });
}

sk_tensor *sk_shim_index_select(const sk_tensor *x, int64_t d, const sk_tensor *idx)
{
    return op_("index_select", {x, idx}, [&] { return x->t.index_select(d, idx->t); });
}

int sk_shim_topk(const sk_tensor *x, int64_t k, int64_t d, int largest, int sorted, sk_tensor **values,
                 sk_tensor **indices)
{
    if (values) *values = nullptr;
    if (indices) *indices = nullptr;
    return op_int_("topk", {x}, [&] {
        auto r = x->t.topk(k, d, largest != 0, sorted != 0);
        if (values) *values = wrap_(std::get<0>(r));
        if (indices) *indices = wrap_(std::get<1>(r));
        return (int)SK_OK;
    });
}

int sk_shim_sort(const sk_tensor *x, int64_t d, int descending, sk_tensor **values, sk_tensor **indices)
{
    if (values) *values = nullptr;
    if (indices) *indices = nullptr;
    return op_int_("sort", {x}, [&] {
        auto r = x->t.sort(/*stable=*/true, d, descending != 0);
        if (values) *values = wrap_(std::get<0>(r));
        if (indices) *indices = wrap_(std::get<1>(r));
        return (int)SK_OK;
    });
}

sk_tensor *sk_shim_argsort(const sk_tensor *x, int64_t d, int descending)
{
    return op_("argsort", {x}, [&] { return std::get<1>(x->t.sort(true, d, descending != 0)); });
}

sk_tensor *sk_shim_argsort_unstable(const sk_tensor *x, int64_t d, int descending)
{
    return op_("argsort", {x}, [&] { return x->t.argsort(d, descending != 0); });
}

// ---- convolutional nets (the ConvNet of models/sk_convnet.h) -------------------------

sk_tensor *sk_shim_conv2d(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b, int64_t padding)
{
    return op_("conv2d", {x, w}, [&] {
        if (padding < 0) throw std::invalid_argument("padding " + std::to_string(padding) + " < 0");
        return at::conv2d(x->t, w->t, opt_(b), {1, 1}, {padding, padding});
    });
}

sk_tensor *sk_shim_group_norm(const sk_tensor *x, int64_t groups, const sk_tensor *w, const sk_tensor *b, double eps)
{
    return op_("group_norm", {x}, [&] { return at::group_norm(x->t, groups, opt_(w), opt_(b), eps); });
}

sk_tensor *sk_shim_batch_norm(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b, sk_tensor *running_mean,
                              sk_tensor *running_var, int training, double momentum, double eps)
{
    return op_("batch_norm", {x}, [&] {
        if (!training && (!running_mean || !running_var))
            throw std::invalid_argument("evaluation needs running_mean and running_var");
        if (!running_mean != !running_var) throw std::invalid_argument("give both running statistics or neither");
        return at::batch_norm(x->t, opt_(w), opt_(b), opt_(running_mean), opt_(running_var), training != 0, momentum,
                              eps, /*cudnn_enabled=*/true);
    });
}

sk_tensor *sk_shim_avg_pool2d(const sk_tensor *x, int64_t k)
{
    return op_("avg_pool2d", {x}, [&] { return at::avg_pool2d(x->t, {k, k}, {k, k}); });
}

sk_tensor *sk_shim_max_pool2d(const sk_tensor *x, int64_t k)
{
    return op_("max_pool2d", {x}, [&] { return at::max_pool2d(x->t, {k, k}, {k, k}); });
}

// ---- spatial transforms ------------------------------------------------------------

sk_tensor *sk_shim_affine_grid(const sk_tensor *theta, int64_t n, int64_t c, int64_t h, int64_t w, int align_corners)
{
    return op_("affine_grid", {theta}, [&] {
        std::vector<int64_t> size = {n, c, h, w};
        return at::affine_grid_generator(theta->t, size, align_corners != 0);
    });
}

sk_tensor *sk_shim_grid_sample(const sk_tensor *x, const sk_tensor *grid, int align_corners)
{
    // interpolation 0 = bilinear, padding 0 = zeros (torch's GridSamplerInterpolation / Padding enums)
    return op_("grid_sample", {x, grid}, [&] { return at::grid_sampler(x->t, grid->t, 0, 0, align_corners != 0); });
}

sk_tensor *sk_shim_flip(const sk_tensor *x, int64_t d)
{
    return op_("flip", {x}, [&] { return at::flip(x->t, {d}); });
}

// ---- autograd ------------------------------------------------------------------------

int sk_shim_set_requires_grad(sk_tensor *t, int on)
{
    return op_int_("set_requires_grad", {t}, [&] {
        t->t.requires_grad_(on != 0);
        return (int)SK_OK;
    });
}

int sk_shim_requires_grad(const sk_tensor *t) { return t && t->t.requires_grad() ? 1 : 0; }

int sk_shim_backward(const sk_tensor *loss)
{
    return op_int_("backward", {loss}, [&] {
        loss->t.backward();
        return (int)SK_OK;
    });
}

int sk_shim_grad(const sk_tensor *t, sk_tensor **out)
{
    *out = nullptr;
    return op_int_("grad", {t}, [&] {
        const at::Tensor &g = t->t.grad();
        if (g.defined()) *out = wrap_(g);
        return (int)SK_OK;
    });
}

int sk_shim_autograd_grad(const sk_tensor *output, sk_tensor *const *inputs, int n, int create_graph, sk_tensor **grads)
{
    for (int i = 0; i < n; i++) grads[i] = nullptr;
    if (!output || n < 0 || (n > 0 && !inputs)) return sk_error_set(SK_EINVAL, "autograd_grad: bad arguments");
    for (int i = 0; i < n; i++)
        if (!inputs[i]) return sk_error_set(SK_EINVAL, "autograd_grad: input %d is NULL", i);
    return op_int_("autograd_grad", {output}, [&] {
        std::vector<at::Tensor> in;
        in.reserve((size_t)n);
        for (int i = 0; i < n; i++) in.push_back(inputs[i]->t);
        /* torch.autograd.grad(output, inputs, create_graph=...): the graph is
         * kept when it is extended (second order), as PyTorch's retain_graph
         * default; allow_unused: an input the output does not reach gets a zero
         * gradient of its shape */
        std::vector<at::Tensor> g = torch::autograd::grad({output->t}, in, {}, create_graph != 0, create_graph != 0,
                                                          /*allow_unused=*/true);
        for (int i = 0; i < n; i++)
            grads[i] = wrap_(g[(size_t)i].defined() ? g[(size_t)i] : at::zeros_like(in[(size_t)i]));
        return (int)SK_OK;
    });
}

int sk_shim_zero_grad(sk_tensor *const *params, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = op_int_("zero_grad", {params[i]}, [&] {
            params[i]->t.mutable_grad() = at::Tensor();
            return (int)SK_OK;
        });
        if (rc < 0) return rc;
    }
    return SK_OK;
}

int sk_shim_set_grad(sk_tensor *t, const sk_tensor *g)
{
    return op_int_("set_grad", {t, g}, [&] {
        if (!t->t.sizes().equals(g->t.sizes()) || t->t.scalar_type() != g->t.scalar_type())
            return sk_error_set(SK_EINVAL, "set_grad(%s, %s): shapes or dtypes differ", shape_str_(t->t).c_str(),
                                shape_str_(g->t).c_str());
        at::NoGradGuard ng;
        t->t.mutable_grad() = g->t.detach().clone();
        return (int)SK_OK;
    });
}

int sk_shim_set_grad_enabled(int on)
{
    int prev = at::GradMode::is_enabled() ? 1 : 0;
    at::GradMode::set_enabled(on != 0);
    return prev;
}

int sk_shim_add_grad_hook(sk_tensor *t, sk_grad_hook_fn cb, void *user, int index, int *handle)
{
    if (!cb || !handle) return sk_error_set(SK_EINVAL, "add_grad_hook: NULL callback or handle");
    return op_int_("add_grad_hook", {t}, [&] {
        *handle = (int)t->t.register_hook([cb, user, index](const at::Tensor &g) {
            // The hook body must not throw into autograd's engine thread.
            sk_scope *saved = cur_scope_;
            cur_scope_ = nullptr;
            sk_tensor h{g, nullptr, 0};
            live_tensors_++;
            cb(user, index, &h);
            live_tensors_--;
            cur_scope_ = saved;
        });
        return (int)SK_OK;
    });
}

int sk_shim_remove_grad_hook(sk_tensor *t, int handle)
{
    return op_int_("remove_grad_hook", {t}, [&] {
        t->t.remove_hook((unsigned)handle);
        return (int)SK_OK;
    });
}

int sk_shim_clip_grad_norm(sk_tensor *const *params, int n, double max_norm, double *norm)
{
    try {
        at::NoGradGuard ng;
        std::vector<at::Tensor> norms;
        std::vector<at::Tensor> grads;
        for (int i = 0; i < n; i++) {
            if (null_args_("clip_grad_norm", {params[i]})) return SK_EINVAL;
            const at::Tensor &g = params[i]->t.grad();
            if (!g.defined()) continue;
            grads.push_back(g);
            norms.push_back(at::linalg_vector_norm(g, 2, {}, false, {}));
        }
        double total = 0.0;
        if (!norms.empty()) {
            // As torch.nn.utils.clip_grad_norm_: norm of the per-tensor norms.
            at::Tensor tn = at::linalg_vector_norm(at::stack(norms), 2, {}, false, {});
            total = tn.item<double>();
            if (max_norm > 0) {
                at::Tensor coef = (max_norm / (tn + 1e-6)).clamp_max(1.0);
                for (auto &g : grads) g.mul_(coef.to(g.device()));
            }
        }
        if (norm) *norm = total;
        return SK_OK;
    } catch (...) {
        return fail_("clip_grad_norm", std::to_string(n) + " params");
    }
}

// ---- AdamW ---------------------------------------------------------------------------

int sk_adamw_create(sk_adamw **out, sk_tensor *const *params, const int *decay, int n, const sk_adamw_opts *opts)
{
    *out = nullptr;
    if (!opts || n < 0 || (n > 0 && !params)) return sk_error_set(SK_EINVAL, "adamw_create: bad arguments");
    try {
        sk_adamw *o = new sk_adamw();
        o->opts = *opts;
        o->step = 0;
        for (int i = 0; i < n; i++) {
            if (!params[i]) {
                delete o;
                return sk_error_set(SK_EINVAL, "adamw_create: parameter %d is NULL", i);
            }
            o->params.push_back(params[i]->t);
            o->decay.push_back(decay ? decay[i] : 1);
        }
        o->exp_avg.assign(n, nullptr);
        o->exp_avg_sq.assign(n, nullptr);
        o->pstep.assign(n, 0);
        *out = o;
        return SK_OK;
    } catch (...) {
        return fail_("adamw_create", std::to_string(n) + " params");
    }
}

void sk_adamw_free(sk_adamw *opt)
{
    if (!opt) return;
    for (auto *t : opt->exp_avg) sk_tensor_free(t);
    for (auto *t : opt->exp_avg_sq) sk_tensor_free(t);
    delete opt;
}

static void ensure_state_(sk_adamw *o, size_t i)
{
    if (o->exp_avg[i]) return;
    // State is caller-visible but optimizer-owned: never in a scope.
    sk_scope *saved = cur_scope_;
    cur_scope_ = nullptr;
    o->exp_avg[i] = wrap_(at::zeros_like(o->params[i], at::MemoryFormat::Contiguous));
    o->exp_avg_sq[i] = wrap_(at::zeros_like(o->params[i], at::MemoryFormat::Contiguous));
    cur_scope_ = saved;
}

int sk_adamw_step(sk_adamw *o, double lr)
{
    if (!o) return sk_error_set(SK_EINVAL, "adamw_step: NULL optimizer");
    try {
        at::NoGradGuard ng;
        o->step++;
        const double b1 = o->opts.beta1, b2 = o->opts.beta2, eps = o->opts.eps, wd = o->opts.weight_decay;
        for (size_t i = 0; i < o->params.size(); i++) {
            at::Tensor &p = o->params[i];
            const at::Tensor &g = p.grad();
            if (!g.defined()) continue;
            ensure_state_(o, i);
            // Bias correction by this parameter's own step count, as torch
            // (state['step'] advances only with a gradient): a parameter
            // whose first gradient comes late takes a full first step.
            const double t = (double)++o->pstep[i];
            const double bc1 = 1.0 - std::pow(b1, t);
            const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
            const double step_size = lr / bc1;
            at::Tensor &m = o->exp_avg[i]->t, &v = o->exp_avg_sq[i]->t;
            // torch.optim.AdamW (single-tensor path): decoupled decay first.
            if (o->decay[i] && wd != 0.0) p.mul_(1.0 - lr * wd);
            m.mul_(b1).add_(g, 1.0 - b1);
            v.mul_(b2).addcmul_(g, g, 1.0 - b2);
            at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(eps);
            p.addcdiv_(m, denom, -step_size);
        }
        return SK_OK;
    } catch (...) {
        return fail_("adamw_step", "step " + std::to_string(o->step));
    }
}

int64_t sk_adamw_step_count(const sk_adamw *opt) { return opt ? opt->step : 0; }

int sk_adamw_set_step_count(sk_adamw *opt, int64_t step)
{
    if (!opt || step < 0) return sk_error_set(SK_EINVAL, "adamw_set_step_count: bad arguments");
    opt->step = step;
    return SK_OK;
}

int64_t sk_adamw_param_step(const sk_adamw *opt, int i)
{
    return (opt && i >= 0 && (size_t)i < opt->pstep.size()) ? opt->pstep[i] : 0;
}

int sk_adamw_set_param_step(sk_adamw *opt, int i, int64_t step)
{
    if (!opt || i < 0 || (size_t)i >= opt->pstep.size() || step < 0)
        return sk_error_set(SK_EINVAL, "adamw_set_param_step: parameter %d or step %lld out of range", i,
                            (long long)step);
    opt->pstep[i] = step;
    return SK_OK;
}

int sk_adamw_state(sk_adamw *opt, int i, sk_tensor **exp_avg, sk_tensor **exp_avg_sq)
{
    if (!opt || i < 0 || (size_t)i >= opt->params.size())
        return sk_error_set(SK_EINVAL, "adamw_state: parameter index %d out of range", i);
    try {
        ensure_state_(opt, (size_t)i);
        if (exp_avg) *exp_avg = opt->exp_avg[i];
        if (exp_avg_sq) *exp_avg_sq = opt->exp_avg_sq[i];
        return SK_OK;
    } catch (...) {
        return fail_("adamw_state", std::to_string(i));
    }
}

// ---- SGD -----------------------------------------------------------------------------

int sk_sgd_create(sk_sgd **out, sk_tensor *const *params, const int *decay, int n, const sk_sgd_opts *opts)
{
    *out = nullptr;
    if (!opts || n < 0 || (n > 0 && !params)) return sk_error_set(SK_EINVAL, "sgd_create: bad arguments");
    if (!(opts->lr >= 0) || !(opts->momentum >= 0) || !(opts->dampening >= 0) || !(opts->weight_decay >= 0))
        return sk_error_set(SK_EINVAL, "sgd_create: lr %g, momentum %g, dampening %g, weight_decay %g must be >= 0",
                            opts->lr, opts->momentum, opts->dampening, opts->weight_decay);
    if (opts->nesterov && (opts->momentum <= 0 || opts->dampening != 0))
        return sk_error_set(SK_EINVAL, "sgd_create: nesterov needs momentum > 0 and dampening 0");
    try {
        sk_sgd *o = new sk_sgd();
        o->opts = *opts;
        for (int i = 0; i < n; i++) {
            if (!params[i]) {
                delete o;
                return sk_error_set(SK_EINVAL, "sgd_create: parameter %d is NULL", i);
            }
            o->params.push_back(params[i]->t);
            o->decay.push_back(decay ? decay[i] : 1);
        }
        o->buf.assign(n, nullptr);
        *out = o;
        return SK_OK;
    } catch (...) {
        return fail_("sgd_create", std::to_string(n) + " params");
    }
}

void sk_sgd_free(sk_sgd *opt)
{
    if (!opt) return;
    for (auto *t : opt->buf) sk_tensor_free(t);
    delete opt;
}

// The buffer as an optimizer-owned handle (never in a scope).
static sk_tensor *sgd_own_(at::Tensor t)
{
    sk_scope *saved = cur_scope_;
    cur_scope_ = nullptr;
    sk_tensor *h = wrap_(std::move(t));
    cur_scope_ = saved;
    return h;
}

int sk_sgd_step(sk_sgd *o, double lr)
{
    if (!o) return sk_error_set(SK_EINVAL, "sgd_step: NULL optimizer");
    try {
        at::NoGradGuard ng;
        const double mom = o->opts.momentum, damp = o->opts.dampening, wd = o->opts.weight_decay;
        for (size_t i = 0; i < o->params.size(); i++) {
            at::Tensor &p = o->params[i];
            const at::Tensor &g = p.grad();
            if (!g.defined()) continue;
            // torch.optim.SGD, _single_tensor_sgd, in its order of operations.
            at::Tensor d = (o->decay[i] && wd != 0.0) ? g.add(p, wd) : g;
            if (mom != 0.0) {
                if (!o->buf[i]) {
                    o->buf[i] = sgd_own_(d.clone(at::MemoryFormat::Contiguous).detach());
                } else {
                    o->buf[i]->t.mul_(mom).add_(d, 1.0 - damp);
                }
                const at::Tensor &b = o->buf[i]->t;
                d = o->opts.nesterov ? d.add(b, mom) : b;
            }
            p.add_(d, -lr);
        }
        return SK_OK;
    } catch (...) {
        return fail_("sgd_step", std::to_string(o->params.size()) + " params");
    }
}

int sk_sgd_momentum_buffer(sk_sgd *opt, int i, sk_tensor **buf)
{
    if (!opt || i < 0 || (size_t)i >= opt->params.size() || !buf)
        return sk_error_set(SK_EINVAL, "sgd_momentum_buffer: parameter index %d out of range", i);
    if (opt->opts.momentum == 0.0)
        return sk_error_set(SK_EINVAL, "sgd_momentum_buffer: momentum is 0, plain SGD keeps no buffer");
    try {
        if (!opt->buf[i]) opt->buf[i] = sgd_own_(at::zeros_like(opt->params[i], at::MemoryFormat::Contiguous));
        *buf = opt->buf[i];
        return SK_OK;
    } catch (...) {
        return fail_("sgd_momentum_buffer", std::to_string(i));
    }
}

int sk_sgd_has_buffer(const sk_sgd *opt, int i)
{
    return (opt && i >= 0 && (size_t)i < opt->buf.size() && opt->buf[i]) ? 1 : 0;
}

} // extern "C"
