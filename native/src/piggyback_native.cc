// Native kernels for the 'native' TF.js backend (src/core/native/). Tensors stay JS
// Float32Arrays owned by the tfjs cpu backend; every function here reads its inputs and writes
// into a caller-allocated output array (zero-copy). Convolutions and GEMM run in oneDNN
// (JIT for the CPU's ISA; threads chosen per shape, see pickThreads); the element-wise and
// data-movement kernels are plain loops, split over the threads when large (parRange). PIGGYBACK_NATIVE_BLOCKED=1 lets oneDNN pick blocked
// activation layouts (with reorders) instead of NHWC: a tuning experiment, not faster here.
#include <node_api.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#include <pthread.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;

namespace {

// ------------------------------------------------------------------------------------------
// N-API helpers

struct Err {
  std::string msg;
};

#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) throw Err{"N-API call failed: " #call}; \
  } while (0)

struct F32 {
  float* p;
  size_t n;
};

F32 f32(napi_env env, napi_value v) {
  bool is;
  NAPI_OK(napi_is_typedarray(env, v, &is));
  if (!is) throw Err{"expected a Float32Array"};
  napi_typedarray_type t;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  NAPI_OK(napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off));
  if (t != napi_float32_array) throw Err{"expected a Float32Array"};
  return {static_cast<float*>(data), len};
}

std::vector<int64_t> ints(napi_env env, napi_value v) {
  bool is;
  NAPI_OK(napi_is_typedarray(env, v, &is));
  if (!is) throw Err{"expected an Int32Array"};
  napi_typedarray_type t;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  NAPI_OK(napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off));
  if (t != napi_int32_array) throw Err{"expected an Int32Array"};
  const int32_t* d = static_cast<const int32_t*>(data);
  return std::vector<int64_t>(d, d + len);
}

double num(napi_env env, napi_value v) {
  double d;
  NAPI_OK(napi_get_value_double(env, v, &d));
  return d;
}

std::vector<napi_value> args(napi_env env, napi_callback_info info, size_t want) {
  std::vector<napi_value> a(want);
  size_t n = want;
  NAPI_OK(napi_get_cb_info(env, info, &n, a.data(), nullptr, nullptr));
  if (n < want) throw Err{"too few arguments"};
  return a;
}

template <typename F>
napi_value guarded(napi_env env, F&& f) {
  try {
    f();
  } catch (const Err& e) {
    napi_throw_error(env, "PIGGYBACK_NATIVE", e.msg.c_str());
  } catch (const dnnl::error& e) {
    napi_throw_error(env, "PIGGYBACK_NATIVE", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "PIGGYBACK_NATIVE", e.what());
  }
  return nullptr;
}

void need(const F32& a, size_t n, const char* what) {
  if (a.n < n) throw Err{std::string("array too small: ") + what};
}

// Holds this thread's asynchronous signals (blocked, delivered when the scope ends) while oneDNN
// runs. oneDNN 2.x's JIT sgemm kernels (jit_avx512_common_gemm_f32, jit_avx_gemm_f32: the
// "nocopy" path of dnnl_sgemm and of gemm-based primitives) point rsp into a malloc'ed workspace
// when K exceeds their stack capacity (e.g. 64x3136x128 with B transposed). A signal arriving then
// gets its frame pushed below that workspace, over malloc's chunk headers, and a later free
// aborts ("corrupted size vs. prev_size"). Any handled signal does it; V8's CPU profiler
// (node --cpu-prof) sends SIGPROF every millisecond. uxlfoundation/oneDNN#4845 (fixed upstream
// by #4855; Debian's libdnnl 2.6.3 has it). Every OpenMP parallel region started from here (by
// oneDNN or parRange/parRows) is inside a scope, so the worker threads libgomp creates inherit
// the mask and never take a signal. Fault signals stay unblocked (blocking them is undefined).
class HoldSignals {
 public:
  HoldSignals() {
    sigset_t s;
    sigfillset(&s);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(&s, sig);
    pthread_sigmask(SIG_BLOCK, &s, &old_);
  }
  ~HoldSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  HoldSignals(const HoldSignals&) = delete;
  HoldSignals& operator=(const HoldSignals&) = delete;

 private:
  sigset_t old_;
};

// ------------------------------------------------------------------------------------------
// oneDNN state

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
stream& strm() {
  static stream s(eng());
  return s;
}

// A cached convolution: the primitive plus reorders between the user's plain weight layout
// (TF's HWIO / depthwise HWCM) and whatever blocked layout the primitive chose.
struct ConvEntry {
  primitive prim;
  memory::desc src, wei, dst;  // as the primitive wants them
  memory::desc userWei, userSrc, userDst;
  bool reorderWei = false, reorderAct = false;
  reorder weiReorder;  // user -> prim (fwd, bwd-data) or prim -> user (bwd-weights)
  std::string impl;
};

std::mutex cacheMu;
std::unordered_map<std::string, std::unique_ptr<ConvEntry>> convCache;

// dims: N,H,W,C, KH,KW,O, OH,OW, sh,sw, dh,dw, pt,pl,pb,pr, groups
struct ConvDims {
  int64_t N, H, W, C, KH, KW, O, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr, G;
};

ConvDims convDims(const std::vector<int64_t>& d) {
  if (d.size() < 18) throw Err{"conv: need 18 dims"};
  ConvDims c{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15], d[16], d[17]};
  if (c.G < 1 || c.C % c.G || c.O % c.G) throw Err{"conv: bad groups"};
  return c;
}

ConvEntry* getConv(int mode, const ConvDims& c, int threads) {
  std::string key = std::to_string(mode) + "/" + std::to_string(threads);
  for (int64_t v : {c.N, c.H, c.W, c.C, c.KH, c.KW, c.O, c.OH, c.OW, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb, c.pr, c.G})
    key += "," + std::to_string(v);
  std::lock_guard<std::mutex> lock(cacheMu);
  auto it = convCache.find(key);
  if (it != convCache.end()) return it->second.get();

  using tag = memory::format_tag;
  using dt = memory::data_type;
  memory::dims srcD{c.N, c.C, c.H, c.W}, dstD{c.N, c.O, c.OH, c.OW};
  memory::dims weiD = c.G == 1 ? memory::dims{c.O, c.C, c.KH, c.KW}
                               : memory::dims{c.G, c.O / c.G, c.C / c.G, c.KH, c.KW};
  memory::dims strides{c.sh, c.sw}, dil{c.dh - 1, c.dw - 1}, padL{c.pt, c.pl}, padR{c.pb, c.pr};
  static const bool blocked = getenv("PIGGYBACK_NATIVE_BLOCKED") != nullptr;
  memory::desc userSrc(srcD, dt::f32, tag::nhwc), userDst(dstD, dt::f32, tag::nhwc);
  memory::desc srcMd = blocked ? memory::desc(srcD, dt::f32, tag::any) : userSrc;
  memory::desc dstMd = blocked ? memory::desc(dstD, dt::f32, tag::any) : userDst;
  memory::desc userWei(weiD, dt::f32, c.G == 1 ? tag::hwio : tag::hwigo);
  memory::desc anyWei(weiD, dt::f32, tag::any);

  auto e = std::make_unique<ConvEntry>();
  e->userWei = userWei;
  e->userSrc = userSrc;
  e->userDst = userDst;
  // Winograd (oneDNN's F(4x4, 3x3), AVX-512 only: elsewhere creating it fails and the direct
  // algorithm is used) does about half the multiplications of a direct 3x3 stride-1 conv. It pays
  // for its tile transforms and the reorders to and from its blocked layout on 8x8-32x32 maps
  // of 32+ channels (measured: ResNet-18's 16x16x64 and 8x8x128 convs 25-30% faster, a 4x4x256
  // level, a 2x2 or a 64x64 one slower). Shape-determined, so runs stay reproducible.
  // PIGGYBACK_NATIVE_WINO=0 turns it off.
  static const bool winoOff = [] {
    const char* v = getenv("PIGGYBACK_NATIVE_WINO");
    return v && std::string(v) == "0";
  }();
  const bool winoShape = !winoOff && c.G == 1 && c.C % 16 == 0 && c.O % 16 == 0 && c.C >= 32 && c.O >= 32 && c.KH == 3 &&
                         c.KW == 3 && c.sh == 1 && c.sw == 1 && c.dh == 1 && c.dw == 1 && c.OH >= 8 && c.OW >= 8 &&
                         c.OH <= 32 && c.OW <= 32;
  // Keeps a built primitive with the layouts it wants for x (or dx), W (or dW) and y (or dy).
  auto keep = [&](primitive p, const memory::desc& x, const memory::desc& w, const memory::desc& y, const std::string& impl) {
    e->prim = p, e->src = x, e->wei = w, e->dst = y, e->impl = impl;
  };
  // Builds the primitive for `mode` with `alg` (throws dnnl::error where oneDNN has none).
  auto build = [&](algorithm alg, const memory::desc& sMd, const memory::desc& dMd) {
    convolution_forward::desc fwdDesc(prop_kind::forward_training, alg, sMd, anyWei, dMd, strides, dil, padL, padR);
    convolution_forward::primitive_desc fwdPd(fwdDesc, eng());
    if (mode == 0) {
      keep(convolution_forward(fwdPd), fwdPd.src_desc(), fwdPd.weights_desc(), fwdPd.dst_desc(), fwdPd.impl_info_str());
    } else if (mode == 1) {
      convolution_backward_data::primitive_desc pd(convolution_backward_data::desc(alg, sMd, anyWei, dMd, strides, dil, padL, padR), eng(), fwdPd);
      keep(convolution_backward_data(pd), pd.diff_src_desc(), pd.weights_desc(), pd.diff_dst_desc(), pd.impl_info_str());
    } else {
      convolution_backward_weights::primitive_desc pd(convolution_backward_weights::desc(alg, sMd, anyWei, dMd, strides, dil, padL, padR), eng(), fwdPd);
      keep(convolution_backward_weights(pd), pd.src_desc(), pd.diff_weights_desc(), pd.diff_dst_desc(), pd.impl_info_str());
    }
  };
  bool built = false;
  if (winoShape) {
    try {  // Winograd wants its own blocked activations: 'any', reordered per call
      build(algorithm::convolution_winograd, memory::desc(srcD, dt::f32, tag::any), memory::desc(dstD, dt::f32, tag::any));
      built = true;
    } catch (const dnnl::error&) {
    }
  }
  if (!built) build(algorithm::convolution_direct, srcMd, dstMd);
  e->reorderAct = e->src != userSrc || e->dst != userDst;
  e->reorderWei = e->wei != userWei;
  if (e->reorderWei) {
    memory a(mode == 2 ? e->wei : userWei, eng(), DNNL_MEMORY_NONE);
    memory b(mode == 2 ? userWei : e->wei, eng(), DNNL_MEMORY_NONE);
    e->weiReorder = reorder(a, b);
  }
  ConvEntry* raw = e.get();
  convCache.emplace(key, std::move(e));
  return raw;
}

// ------------------------------------------------------------------------------------------
// Threads for the convolutions. With the cores free, all of them are fastest for large shapes; on
// a busy machine (other processes competing for the cores) every OpenMP barrier can wait a whole
// time slice for a descheduled thread and one thread is faster (measured: 2x for a reference-CNN
// step; up to 50x for a small weight-gradient conv, whose reduction has several barriers).
// A fixed count from setThreads (the default: every core) applies to convolutions of at least
// kConvParMinFlops (override: $PIGGYBACK_NATIVE_PAR_MIN_MFLOP); smaller ones, where even on an idle
// machine the second thread saves less than ~0.5 ms, run on one. The choice depends on the shape
// only, so runs stay reproducible. Otherwise ("adaptive", setThreads(0)) each convolution shape
// times both choices and keeps the faster, re-trying the other every few calls. Results are
// identical either way except for the summation order of weight gradients (float rounding).
int fixedThreads = 0;  // 0: adaptive between 1 and omp_get_max_threads()

double convParMinFlops() {
  static double v = [] {
    const char* e = getenv("PIGGYBACK_NATIVE_PAR_MIN_MFLOP");
    double m = e && *e ? std::atof(e) : 64.0;
    return (m >= 0 ? m : 64.0) * 1e6;
  }();
  return v;
}

struct ThreadChoice {
  double ema[2] = {0, 0};
  int seen[2] = {0, 0};
  int64_t calls = 0;
};
std::unordered_map<std::string, ThreadChoice> choices;

int allThreads() {
  static int n = omp_get_max_threads();
  return n;
}

int pickThreads(const std::string& key, int& slot, double flops) {
  if (fixedThreads > 0) return slot = -1, flops >= convParMinFlops() ? fixedThreads : 1;
  int all = allThreads();
  if (all <= 1) return slot = -1, 1;
  ThreadChoice& t = choices[key];
  int64_t k = t.calls++;
  if (t.seen[0] < 2 || t.seen[1] < 2) slot = static_cast<int>(k % 2);
  else if (k % 16 == 0) slot = t.ema[0] < t.ema[1] ? 1 : 0;  // re-try the slower one
  else slot = t.ema[0] <= t.ema[1] ? 0 : 1;
  return slot == 0 ? 1 : all;
}

void recordThreads(const std::string& key, int slot, double seconds) {
  if (slot < 0) return;
  ThreadChoice& t = choices[key];
  t.ema[slot] = t.seen[slot]++ == 0 ? seconds : 0.7 * t.ema[slot] + 0.3 * seconds;
}

// dW[kh, kw, c] = sum over n, oh, ow of x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, c] *
// dy[n, oh, ow, c] (multiplier 1; TF's [KH, KW, C, 1] layout), vectorised over c.
void depthwiseBwdWeights(const ConvDims& c, const float* x, const float* dy, float* dw) {
  const int64_t C = c.C;
  std::fill(dw, dw + c.KH * c.KW * C, 0.0f);
  for (int64_t n = 0; n < c.N; n++)
    for (int64_t oh = 0; oh < c.OH; oh++)
      for (int64_t ow = 0; ow < c.OW; ow++) {
        const float* __restrict g = dy + ((n * c.OH + oh) * c.OW + ow) * C;
        for (int64_t kh = 0; kh < c.KH; kh++) {
          int64_t h = oh * c.sh - c.pt + kh * c.dh;
          if (h < 0 || h >= c.H) continue;
          for (int64_t kw = 0; kw < c.KW; kw++) {
            int64_t w = ow * c.sw - c.pl + kw * c.dw;
            if (w < 0 || w >= c.W) continue;
            const float* __restrict xi = x + ((n * c.H + h) * c.W + w) * C;
            float* __restrict acc = dw + (kh * c.KW + kw) * C;
            for (int64_t ch = 0; ch < C; ch++) acc[ch] += xi[ch] * g[ch];
          }
        }
      }
}

// A convolution of a 1x1 map to a 1x1 map (ResNet-18's last stage at 32 px: 3x3 'same' convs on
// 1x1 maps, 512 -> 512 channels) reads one tap of its kernel, (pt/dh, pl/dw): the others fall on
// padding. It is then a matrix product with that tap's [C, O] slice (contiguous in the HWIO
// layout), 1/(KH*KW) of the work oneDNN does with the zeros (13 GFLOP/s measured for it; the
// weight gradient's other taps are 0). Returns false for any other shape.
bool onePixelConv(int mode, const ConvDims& c, float* xp, float* wp, float* yp) {
  if (c.H != 1 || c.W != 1 || c.OH != 1 || c.OW != 1 || c.G != 1 || c.KH * c.KW == 1) return false;
  if (c.pt % c.dh || c.pl % c.dw) return false;
  const int64_t kh = c.pt / c.dh, kw = c.pl / c.dw;
  if (kh >= c.KH || kw >= c.KW) return false;
  const int64_t N = c.N, C = c.C, O = c.O;
  float* tap = wp + (kh * c.KW + kw) * C * O;
  dnnl_status_t st;
  if (mode == 0) {
    st = dnnl_sgemm('N', 'N', N, O, C, 1.0f, xp, C, tap, O, 0.0f, yp, O);  // y[N,O] = x[N,C] W[C,O]
  } else if (mode == 1) {
    st = dnnl_sgemm('N', 'T', N, C, O, 1.0f, yp, O, tap, O, 0.0f, xp, C);  // dx[N,C] = dy[N,O] W[C,O]^T
  } else {
    std::memset(wp, 0, sizeof(float) * c.KH * c.KW * C * O);
    st = dnnl_sgemm('T', 'N', C, O, N, 1.0f, xp, C, yp, O, 0.0f, tap, O);  // dW[C,O] = x[N,C]^T dy[N,O]
  }
  if (st != dnnl_success) throw Err{"dnnl_sgemm failed"};
  return true;
}

// A convolution of a tiny map (ResNet-18's 2x2 maps: 3x3 'same' convs with 512 channels, where
// 5 of the 9 taps of every output fall on padding and oneDNN reached ~50 GFLOP/s) as one matrix
// product per tap over the outputs that tap reaches: rows of x (or dy) gathered into a
// contiguous block, multiplied by the tap's [C, O] slice of the HWIO weights, added back. Any
// stride, dilation and padding; taps are summed in a fixed order (reproducible). Returns false
// for shapes it does not take (see smallMap).
bool smallMap(const ConvDims& c) { return c.G == 1 && c.KH * c.KW > 1 && c.OH * c.OW <= 4 && c.H * c.W <= 16; }

// The output indices o in [0, out) that tap k reaches (input o*s - p + k*d in [0, in)).
static std::pair<int64_t, int64_t> tapRange(int64_t in, int64_t out, int64_t s, int64_t p, int64_t k, int64_t d) {
  int64_t lo = 0, hi = out;
  while (lo < hi && lo * s - p + k * d < 0) lo++;
  while (hi > lo && (hi - 1) * s - p + k * d >= in) hi--;
  return {lo, hi};
}

bool tapGemmConv(int mode, const ConvDims& c, float* xp, float* wp, float* yp) {
  if (!smallMap(c)) return false;
  const int64_t N = c.N, C = c.C, O = c.O;
  std::vector<int64_t> xr, yr;  // row indices into x [N*H*W, C] and y [N*OH*OW, O]
  std::vector<float> a, b, t;
  if (mode == 0) std::memset(yp, 0, sizeof(float) * N * c.OH * c.OW * O);
  if (mode == 1) std::memset(xp, 0, sizeof(float) * N * c.H * c.W * C);
  for (int64_t kh = 0; kh < c.KH; kh++)
    for (int64_t kw = 0; kw < c.KW; kw++) {
      float* tap = wp + (kh * c.KW + kw) * C * O;
      auto [h0, h1] = tapRange(c.H, c.OH, c.sh, c.pt, kh, c.dh);
      auto [w0, w1] = tapRange(c.W, c.OW, c.sw, c.pl, kw, c.dw);
      xr.clear(), yr.clear();
      for (int64_t n = 0; n < N; n++)
        for (int64_t oh = h0; oh < h1; oh++)
          for (int64_t ow = w0; ow < w1; ow++) {
            yr.push_back((n * c.OH + oh) * c.OW + ow);
            xr.push_back((n * c.H + oh * c.sh - c.pt + kh * c.dh) * c.W + ow * c.sw - c.pl + kw * c.dw);
          }
      const int64_t M = static_cast<int64_t>(yr.size());
      if (M == 0) {
        if (mode == 2) std::memset(tap, 0, sizeof(float) * C * O);
        continue;
      }
      dnnl_status_t st;
      if (mode == 0) {  // y[rows] += x[rows] W_tap
        a.resize(M * C), t.resize(M * O);
        for (int64_t m = 0; m < M; m++) std::memcpy(&a[m * C], xp + xr[m] * C, sizeof(float) * C);
        st = dnnl_sgemm('N', 'N', M, O, C, 1.0f, a.data(), C, tap, O, 0.0f, t.data(), O);
        for (int64_t m = 0; m < M; m++) {
          float* __restrict dst = yp + yr[m] * O;
          const float* __restrict src = &t[m * O];
          for (int64_t j = 0; j < O; j++) dst[j] += src[j];
        }
      } else if (mode == 1) {  // dx[rows]^T += W_tap dy[rows]^T (sgemm with a transposed B ran at half speed for these M)
        a.resize(M * O), t.resize(M * C);
        for (int64_t m = 0; m < M; m++) {
          const float* __restrict src = yp + yr[m] * O;
          for (int64_t j = 0; j < O; j++) a[j * M + m] = src[j];
        }
        st = dnnl_sgemm('N', 'N', C, M, O, 1.0f, tap, O, a.data(), M, 0.0f, t.data(), M);
        for (int64_t m = 0; m < M; m++) {
          float* __restrict dst = xp + xr[m] * C;
          for (int64_t j = 0; j < C; j++) dst[j] += t[j * M + m];
        }
      } else {  // dW_tap = x[rows]^T dy[rows]
        a.resize(M * C), b.resize(M * O);
        for (int64_t m = 0; m < M; m++) {
          std::memcpy(&a[m * C], xp + xr[m] * C, sizeof(float) * C);
          std::memcpy(&b[m * O], yp + yr[m] * O, sizeof(float) * O);
        }
        st = dnnl_sgemm('T', 'N', C, O, M, 1.0f, a.data(), C, b.data(), O, 0.0f, tap, O);
      }
      if (st != dnnl_success) throw Err{"dnnl_sgemm failed"};
    }
  return true;
}

// conv(mode, a, b, out, dims): mode 0: y = conv(x=a, w=b); 1: dx = bwdData(dy=a, w=b);
// 2: dw = bwdWeights(x=a, dy=b).
napi_value Conv(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    HoldSignals hold;  // oneDNN (gemm-based convolutions, reorders) runs below
    auto a = args(env, info, 5);
    int mode = static_cast<int>(num(env, a[0]));
    F32 A = f32(env, a[1]), B = f32(env, a[2]), Out = f32(env, a[3]);
    ConvDims c = convDims(ints(env, a[4]));
    size_t xs = c.N * c.H * c.W * c.C, ys = c.N * c.OH * c.OW * c.O, ws = c.KH * c.KW * (c.C / c.G) * c.O;
    std::string shapeKey = std::to_string(mode) + ":" + std::to_string(c.N) + "," + std::to_string(c.H) + "," +
                           std::to_string(c.W) + "," + std::to_string(c.C) + "," + std::to_string(c.O) + "," +
                           std::to_string(c.KH) + "," + std::to_string(c.sh) + "," + std::to_string(c.G);
    int slot;
    double flops = 2.0 * c.N * c.OH * c.OW * c.O * c.KH * c.KW * (c.C / c.G);
    int threads = pickThreads(shapeKey, slot, flops);
    omp_set_num_threads(threads);
    auto t0 = std::chrono::steady_clock::now();
    float* xp;
    float* wp;
    float* yp;
    if (mode == 0) {
      need(A, xs, "x"), need(B, ws, "w"), need(Out, ys, "y");
      xp = A.p, wp = B.p, yp = Out.p;
    } else if (mode == 1) {
      need(A, ys, "dy"), need(B, ws, "w"), need(Out, xs, "dx");
      yp = A.p, wp = B.p, xp = Out.p;
    } else {
      need(A, xs, "x"), need(B, ys, "dy"), need(Out, ws, "dw");
      xp = A.p, yp = B.p, wp = Out.p;
    }
    static const bool noTapGemm = getenv("PIGGYBACK_NATIVE_NO_TAPGEMM") != nullptr;
    if (onePixelConv(mode, c, xp, wp, yp) || (!noTapGemm && tapGemmConv(mode, c, xp, wp, yp))) {  // before getConv: no oneDNN primitive is built for them
      recordThreads(shapeKey, slot, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      omp_set_num_threads(allThreads());
      return;
    }
    ConvEntry* e = getConv(mode, c, threads);
    if (mode == 2 && c.G == c.C && c.O == c.C && e->impl.find("dw") == std::string::npos) {
      // oneDNN has no depthwise kernel for this shape (e.g. 2x2 maps under a 3x3 window) and its
      // generic grouped path took ~0.4 ms for a 0.2 MFLOP gradient: a direct loop instead.
      depthwiseBwdWeights(c, xp, yp, wp);
      omp_set_num_threads(allThreads());
      return;
    }
    memory usrc(e->userSrc, eng(), xp), udst(e->userDst, eng(), yp);
    memory src = e->src == e->userSrc ? usrc : memory(e->src, eng());
    memory dst = e->dst == e->userDst ? udst : memory(e->dst, eng());
    bool rs = e->src != e->userSrc, rd = e->dst != e->userDst;
    if (rs && mode != 1) reorder(usrc, src).execute(strm(), usrc, src);
    if (rd && mode != 0) reorder(udst, dst).execute(strm(), udst, dst);
    memory userW(e->userWei, eng(), wp);
    memory primW = e->reorderWei ? memory(e->wei, eng()) : userW;
    if (e->reorderWei && mode != 2) e->weiReorder.execute(strm(), userW, primW);
    if (mode == 0) {
      e->prim.execute(strm(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, primW}, {DNNL_ARG_DST, dst}});
    } else if (mode == 1) {
      e->prim.execute(strm(), {{DNNL_ARG_DIFF_SRC, src}, {DNNL_ARG_WEIGHTS, primW}, {DNNL_ARG_DIFF_DST, dst}});
    } else {
      e->prim.execute(strm(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_WEIGHTS, primW}, {DNNL_ARG_DIFF_DST, dst}});
      if (e->reorderWei) e->weiReorder.execute(strm(), primW, userW);
    }
    if (rs && mode == 1) reorder(src, usrc).execute(strm(), src, usrc);
    if (rd && mode == 0) reorder(dst, udst).execute(strm(), dst, udst);
    strm().wait();
    recordThreads(shapeKey, slot, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    omp_set_num_threads(allThreads());
  });
}

// convImpl(mode, dims) -> the oneDNN implementation name (for tests and the bench).
napi_value ConvImpl(napi_env env, napi_callback_info info) {
  napi_value out = nullptr;
  guarded(env, [&] {
    HoldSignals hold;
    auto a = args(env, info, 2);
    ConvEntry* e = getConv(static_cast<int>(num(env, a[0])), convDims(ints(env, a[1])), fixedThreads > 0 ? fixedThreads : allThreads());
    NAPI_OK(napi_create_string_utf8(env, e->impl.c_str(), e->impl.size(), &out));
  });
  return out;
}

// gemm(a, b, c, [batchA, batchB, M, N, K, transA, transB]): C[b] = op(A[b]) * op(B[b]), row-major;
// batchA/batchB are 1 (broadcast) or the batch count.
napi_value Gemm(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    HoldSignals hold;  // dnnl_sgemm's JIT kernels move rsp into the heap
    auto a = args(env, info, 4);
    F32 A = f32(env, a[0]), B = f32(env, a[1]), C = f32(env, a[2]);
    auto d = ints(env, a[3]);
    if (d.size() < 7) throw Err{"gemm: need 7 dims"};
    int64_t ba = d[0], bb = d[1], M = d[2], N = d[3], K = d[4];
    bool ta = d[5] != 0, tb = d[6] != 0;
    int64_t batch = std::max(ba, bb);
    need(A, ba * M * K, "a"), need(B, bb * K * N, "b"), need(C, batch * M * N, "c");
    for (int64_t i = 0; i < batch; i++) {
      const float* ap = A.p + (ba == 1 ? 0 : i) * M * K;
      const float* bp = B.p + (bb == 1 ? 0 : i) * K * N;
      float* cp = C.p + i * M * N;
      if (K == 0) {
        std::memset(cp, 0, sizeof(float) * M * N);
        continue;
      }
      dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, ap, ta ? M : K, bp, tb ? K : N, 0.0f, cp, N);
      if (st != dnnl_success) throw Err{"dnnl_sgemm failed"};
    }
  });
}

// ------------------------------------------------------------------------------------------
// element-wise

// Element-wise loops are memory-bound; from kParMin elements they use the conv threads (with
// OMP_WAIT_POLICY=passive, set by addon.ts, a busy machine no longer stalls them at the barrier).

// Large element-wise kernels split their range over the conv threads (fixed count, see setThreads):
// results do not depend on the split. Only from kParMin elements (4 MB of float output, ~0.5 ms):
// below that the second core's bandwidth saves less than waking it can cost on a busy machine.
constexpr int64_t kParMin = 1 << 20;

int elemThreads(int64_t n) {
  if (n < kParMin) return 1;
  return fixedThreads > 0 ? fixedThreads : allThreads();
}

// f(begin, end) over [0, n) in one contiguous chunk per thread (chunks aligned to 16 elements).
template <typename F>
void parRange(int64_t n, F f) {
  int t = elemThreads(n);
  if (t <= 1) {
    f(int64_t{0}, n);
    return;
  }
  HoldSignals hold;  // OpenMP threads created here inherit the mask (see HoldSignals)
#pragma omp parallel num_threads(t)
  {
    int k = omp_get_num_threads(), i = omp_get_thread_num();
    int64_t chunk = ((n + k - 1) / k + 15) / 16 * 16;
    int64_t b = std::min<int64_t>(n, i * chunk), e = std::min<int64_t>(n, b + chunk);
    if (b < e) f(b, e);
  }
}

// The same over rows of `width` elements: f(rowBegin, rowEnd).
template <typename F>
void parRows(int64_t rows, int64_t width, F f) {
  int t = elemThreads(rows * width);
  if (t <= 1 || rows < 2) {
    f(int64_t{0}, rows);
    return;
  }
  HoldSignals hold;
#pragma omp parallel num_threads(t)
  {
    int k = omp_get_num_threads(), i = omp_get_thread_num();
    int64_t chunk = (rows + k - 1) / k;
    int64_t b = std::min<int64_t>(rows, i * chunk), e = std::min<int64_t>(rows, b + chunk);
    if (b < e) f(b, e);
  }
}

// binary(op, a, b, out): out[i] = a[i % aLen] op b[i % bLen], where each operand either has the
// output's length, or is a suffix-broadcast vector (its length divides the output's and it repeats
// along the leading axes), or a scalar. op: 0 add, 1 sub, 2 mul, 3 div. out may be a (in place).
template <typename F>
void binLoop(const float* ap, const float* bp, float* op, int64_t na, int64_t nb, int64_t n, F f) {
  if (na == n && nb == n) {
    if (op == ap || op == bp) {
      parRange(n, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; i++) op[i] = f(ap[i], bp[i]);
      });
    } else {
      parRange(n, [&](int64_t s, int64_t e) {
        const float* __restrict a = ap;
        const float* __restrict b = bp;
        float* __restrict o = op;
        for (int64_t i = s; i < e; i++) o[i] = f(a[i], b[i]);
      });
    }
  } else if (na == n || nb == n) {
    // One full operand, one short vector (or scalar) repeated: copy the vector first so the
    // compiler needs no alias checks.
    bool aFull = na == n;
    int64_t m = aFull ? nb : na;
    std::vector<float> v(aFull ? bp : ap, (aFull ? bp : ap) + m);
    const float* __restrict vec = v.data();
    const float* full = aFull ? ap : bp;
    int64_t rows = n / m;
    if (m == 1) {
      const float sc = vec[0];
      parRange(n, [&](int64_t s, int64_t e) {
        if (aFull) for (int64_t i = s; i < e; i++) op[i] = f(full[i], sc);
        else for (int64_t i = s; i < e; i++) op[i] = f(sc, full[i]);
      });
    } else if (aFull) {
      parRows(rows, m, [&](int64_t rs, int64_t re) {
        for (int64_t r = rs; r < re; r++) {
          const float* x = full + r * m;
          float* o = op + r * m;
          for (int64_t j = 0; j < m; j++) o[j] = f(x[j], vec[j]);
        }
      });
    } else {
      parRows(rows, m, [&](int64_t rs, int64_t re) {
        for (int64_t r = rs; r < re; r++) {
          const float* x = full + r * m;
          float* o = op + r * m;
          for (int64_t j = 0; j < m; j++) o[j] = f(vec[j], x[j]);
        }
      });
    }
  } else {
    for (int64_t i = 0; i < n; i++) op[i] = f(ap[i % na], bp[i % nb]);
  }
}

napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    int op = static_cast<int>(num(env, a[0]));
    F32 A = f32(env, a[1]), B = f32(env, a[2]), O = f32(env, a[3]);
    int64_t na = A.n, nb = B.n, n = O.n;
    if (na == 0 || nb == 0 || n % na || n % nb) throw Err{"binary: bad broadcast"};
    switch (op) {
      case 0: binLoop(A.p, B.p, O.p, na, nb, n, [](float x, float y) { return x + y; }); break;
      case 1: binLoop(A.p, B.p, O.p, na, nb, n, [](float x, float y) { return x - y; }); break;
      case 2: binLoop(A.p, B.p, O.p, na, nb, n, [](float x, float y) { return x * y; }); break;
      case 3: binLoop(A.p, B.p, O.p, na, nb, n, [](float x, float y) { return x / y; }); break;
      default: throw Err{"binary: bad op"};
    }
  });
}

// unary(op, x, out): 0 relu, 1 step (x > 0 ? 1 : 0; NaN -> NaN), 2 relu6, 3 copy, 4 sqrt, 5 square
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 3);
    int op = static_cast<int>(num(env, a[0]));
    F32 X = f32(env, a[1]), O = f32(env, a[2]);
    need(O, X.n, "out");
    int64_t n = X.n;
    const float* x = X.p;
    float* o = O.p;
    if (op < 0 || op > 5) throw Err{"unary: bad op"};
    parRange(n, [&](int64_t s, int64_t e) {
      switch (op) {
        case 0:
          for (int64_t i = s; i < e; i++) o[i] = std::isnan(x[i]) ? x[i] : (x[i] > 0 ? x[i] : 0.0f);  // Math.max(0, x)
          break;
        case 1:
          for (int64_t i = s; i < e; i++) o[i] = std::isnan(x[i]) ? x[i] : (x[i] > 0 ? 1.0f : 0.0f);
          break;
        case 2:
          for (int64_t i = s; i < e; i++) o[i] = std::isnan(x[i]) ? x[i] : (x[i] > 0 ? (x[i] < 6 ? x[i] : 6.0f) : 0.0f);
          break;
        case 3:
          if (o != x) std::memcpy(o + s, x + s, (e - s) * sizeof(float));
          break;
        case 4:
          for (int64_t i = s; i < e; i++) o[i] = std::sqrt(x[i]);
          break;
        case 5:
          for (int64_t i = s; i < e; i++) o[i] = x[i] * x[i];
          break;
      }
    });
  });
}

// reluGrad(dy, x, out): out = x > 0 ? dy : 0  (NaN in x propagates as tfjs' mul(dy, step(x)))
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 3);
    F32 D = f32(env, a[0]), X = f32(env, a[1]), O = f32(env, a[2]);
    int64_t n = O.n;
    need(D, n, "dy"), need(X, n, "x");
    parRange(n, [&](int64_t s, int64_t e) {
      const float* __restrict d = D.p;
      const float* __restrict x = X.p;
      float* __restrict o = O.p;
      // Literally dy * step(x), step as the Step kernel (1 for x > 0, NaN for NaN, else 0): the
      // form gcc vectorises (a conditional multiply is not if-converted under trapping math).
      for (int64_t i = s; i < e; i++) {
        float xi = x[i];
        float st = std::isnan(xi) ? xi : (xi > 0 ? 1.0f : 0.0f);
        o[i] = d[i] * st;
      }
    });
  });
}

// clipGrad(dy, x, out, min, max): out = x >= min && x <= max ? dy : 0 (bounds as float32), the
// value of tfjs' ClipByValue gradient where(logicalAnd(greaterEqual(x, min), lessEqual(x, max)),
// dy, zerosLike(dy)) in one pass instead of five kernels.
napi_value ClipGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    F32 D = f32(env, a[0]), X = f32(env, a[1]), O = f32(env, a[2]);
    const float lo = static_cast<float>(num(env, a[3])), hi = static_cast<float>(num(env, a[4]));
    int64_t n = O.n;
    need(D, n, "dy"), need(X, n, "x");
    parRange(n, [&](int64_t s, int64_t e) {
      const float* __restrict d = D.p;
      const float* __restrict x = X.p;
      float* __restrict o = O.p;
      const float l = lo, h = hi;
      for (int64_t i = s; i < e; i++) {
        float xi = x[i], di = d[i];
        o[i] = ((xi >= l) & (xi <= h)) ? di : 0.0f;  // & not &&: no control flow, so it vectorises
      }
    });
  });
}

// maskWeight(w, s, out, threshold, ternary): the STE forward W * mask(s) in one pass: binary
// out = s > t ? w : 0; ternary out = s > t ? w : (s < 0 ? -w : 0) (t as float32). tfjs computed
// Greater, a cast and Multiply (three passes over every masked weight: 11 M for ResNet-18).
napi_value MaskWeight(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    F32 Wt = f32(env, a[0]), S = f32(env, a[1]), O = f32(env, a[2]);
    const float thr = static_cast<float>(num(env, a[3]));
    const bool tern = num(env, a[4]) != 0;
    int64_t n = O.n;
    need(Wt, n, "w"), need(S, n, "s");
    parRange(n, [&](int64_t s0, int64_t e0) {
      const float* __restrict w = Wt.p;
      const float* __restrict sc = S.p;
      float* __restrict o = O.p;
      const float t = thr;
      const int64_t b = s0, e = e0;
      if (!tern) {
        for (int64_t i = b; i < e; i++) {
          float wi = w[i], si = sc[i];
          o[i] = si > t ? wi : 0.0f;
        }
      } else {
        for (int64_t i = b; i < e; i++) {
          float wi = w[i], si = sc[i], neg = si < 0.0f ? -wi : 0.0f;
          o[i] = si > t ? wi : neg;
        }
      }
    });
  });
}

// bnClipGrad(dy, z, a, out, max): out = (z > 0 && z <= max ? dy : 0) * a[c], channel-last, C = a's
// length. The gradient of clip(relu(z), 0, max) with z = batchNorm(x) frozen (a = gamma / sqrt(var +
// eps)) w.r.t. x: what ClipGrad, ReluGrad and the BN gradient's Multiply computed in three passes
// (ReLU6 after a frozen BN, 22 times in a MobileNetV2 step), in one.
napi_value BnClipGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    F32 D = f32(env, a[0]), Z = f32(env, a[1]), A = f32(env, a[2]), O = f32(env, a[3]);
    const float hi = static_cast<float>(num(env, a[4]));
    int64_t C = A.n, n = O.n;
    if (C == 0 || n % C) throw Err{"bnClipGrad: channels"};
    need(D, n, "dy"), need(Z, n, "z");
    parRows(n / C, C, [&](int64_t rs, int64_t re) {
      const float* __restrict d = D.p;
      const float* __restrict z = Z.p;
      const float* __restrict sc = A.p;
      float* __restrict o = O.p;
      // Locals, not the captured references: stores through o could alias them otherwise
      // (node-gyp builds with -fno-strict-aliasing) and the loop would not vectorise (10x slower).
      const float h = hi;
      const int64_t w = C;
      for (int64_t r = rs; r < re; r++) {
        const float* __restrict dr = d + r * w;
        const float* __restrict zr = z + r * w;
        float* __restrict orow = o + r * w;
        for (int64_t c = 0; c < w; c++) {
          // Both loads unconditional, a select, then the multiply: a load or multiply under the
          // condition is not if-converted (it could trap) and the loop would not vectorise.
          float zi = zr[c], dv = dr[c];
          float di = ((zi > 0.0f) & (zi <= h)) ? dv : 0.0f;
          orow[c] = di * sc[c];
        }
      }
    });
  });
}

// batchNorm(x, mean, var, offset|null, scale|null, out, eps, relu): channel-last, every parameter
// has length 1 or C (= its own length); C is the largest parameter length. relu 1: the output is
// then relu(batchNorm(x)), exactly what the Relu kernel gives on it, in the same pass.
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 8);
    const bool relu = num(env, a[7]) != 0;
    F32 X = f32(env, a[0]), M = f32(env, a[1]), V = f32(env, a[2]);
    napi_valuetype t3, t4;
    NAPI_OK(napi_typeof(env, a[3], &t3));
    NAPI_OK(napi_typeof(env, a[4], &t4));
    F32 Off = t3 == napi_object ? f32(env, a[3]) : F32{nullptr, 0};
    F32 Sc = t4 == napi_object ? f32(env, a[4]) : F32{nullptr, 0};
    F32 O = f32(env, a[5]);
    double eps = num(env, a[6]);
    int64_t C = std::max<int64_t>({(int64_t)M.n, (int64_t)V.n, (int64_t)Off.n, (int64_t)Sc.n, 1});
    int64_t n = X.n;
    if (n % C) throw Err{"batchNorm: channels"};
    need(O, n, "out");
    // The cpu backend computes off + (x - mean) * scale / sqrt(var + eps) in double precision and
    // rounds once; do the same (with the per-channel factor precomputed) so results agree.
    std::vector<double> mul(C), mean(C), off(C);
    for (int64_t c = 0; c < C; c++) {
      double s = Sc.p ? Sc.p[Sc.n == 1 ? 0 : c] : 1.0;
      mean[c] = M.p[M.n == 1 ? 0 : c];
      off[c] = Off.p ? Off.p[Off.n == 1 ? 0 : c] : 0.0;
      mul[c] = s / std::sqrt(static_cast<double>(V.p[V.n == 1 ? 0 : c]) + eps);
    }
    int64_t rows = n / C;
    const float* x = X.p;
    float* o = O.p;
    const double* mu = mul.data();
    const double* me = mean.data();
    const double* of = off.data();
    parRows(rows, C, [&](int64_t rs, int64_t re) {
      if (relu) {
        for (int64_t r = rs; r < re; r++)
          for (int64_t c = 0; c < C; c++) {
            const float z = static_cast<float>(of[c] + (x[r * C + c] - me[c]) * mu[c]);
            o[r * C + c] = std::isnan(z) ? z : (z > 0 ? z : 0.0f);  // as unary op 0 (Math.max(0, z))
          }
      } else {
        for (int64_t r = rs; r < re; r++)
          for (int64_t c = 0; c < C; c++) o[r * C + c] = static_cast<float>(of[c] + (x[r * C + c] - me[c]) * mu[c]);
      }
    });
  });
}

// f(k, h, w) for every tap k (row-major) of the window at (h0, w0) that falls inside the H x W map.
template <typename F>
inline void forWindow(int64_t h0, int64_t w0, int64_t KH, int64_t KW, int64_t dh, int64_t dw, int64_t H, int64_t W, F f) {
  for (int64_t kh = 0; kh < KH; kh++) {
    const int64_t h = h0 + kh * dh;
    if (h < 0 || h >= H) continue;
    for (int64_t kw = 0; kw < KW; kw++) {
      const int64_t w = w0 + kw * dw;
      if (w >= 0 && w < W) f(kh * KW + kw, h, w);
    }
  }
}

// pool dims: N,H,W,C, KH,KW, OH,OW, sh,sw, dh,dw, pt,pl
// maxPool(x, out, dims): output rows split over the threads when large.
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 3);
    F32 X = f32(env, a[0]), O = f32(env, a[1]);
    auto d = ints(env, a[2]);
    if (d.size() < 14) throw Err{"maxPool: need 14 dims"};
    const int64_t N = d[0], H = d[1], W = d[2], C = d[3], KH = d[4], KW = d[5], OH = d[6], OW = d[7], sh = d[8], sw = d[9],
                  dh = d[10], dw = d[11], pt = d[12], pl = d[13];
    need(X, N * H * W * C, "x"), need(O, N * OH * OW * C, "y");
    const float* x = X.p;
    float* y = O.p;
    parRows(N * OH, OW * C, [&](int64_t rs, int64_t re) {
      for (int64_t r = rs; r < re; r++) {
        const int64_t b = r / OH, i = r % OH;
        for (int64_t j = 0; j < OW; j++) {
          float* __restrict yo = y + (r * OW + j) * C;
          for (int64_t c = 0; c < C; c++) yo[c] = -INFINITY;
          forWindow(i * sh - pt, j * sw - pl, KH, KW, dh, dw, H, W, [&](int64_t, int64_t h, int64_t w) {
            const float* __restrict xi = x + ((b * H + h) * W + w) * C;
            for (int64_t c = 0; c < C; c++) yo[c] = xi[c] > yo[c] ? xi[c] : yo[c];  // NaN never wins, as in tfjs
          });
        }
      }
    });
  });
}

// One window of a max pool's gradient: per channel, the index (row-major window order) of the
// first strictly largest input, -1 if none (NaN never wins). Plain function, the index kept as a
// float and every load unconditional: only then do the loops vectorise.
static void windowArgmax(const float* __restrict x, int64_t H, int64_t W, int64_t C, int64_t h0, int64_t w0, int64_t KH,
                         int64_t KW, int64_t dh, int64_t dw, float* __restrict bm, float* __restrict bk) {
  for (int64_t c = 0; c < C; c++) bk[c] = -1.0f, bm[c] = -INFINITY;
  forWindow(h0, w0, KH, KW, dh, dw, H, W, [&](int64_t tap, int64_t h, int64_t w) {
    const float* __restrict xi = x + (h * W + w) * C;
    const float k = static_cast<float>(tap);
    // Two passes: one select per loop is what gcc if-converts (one loop with both does not).
    for (int64_t c = 0; c < C; c++) {
      const float v = xi[c], m = bm[c];
      bk[c] = v > m ? k : bk[c];
    }
    for (int64_t c = 0; c < C; c++) {
      const float v = xi[c], m = bm[c];
      bm[c] = v > m ? v : m;
    }
  });
}

// maxPoolGrad(dy, x, out, dims): each dy goes to the first strictly largest input of its window
// (row-major window order; NaN never wins), the rule of the cpu backend's maxPoolPositions.
// Images are split over the threads (each writes only its own dx). Windows that do not overlap
// (stride >= window, no dilation: the usual 2x2/2) write each input once, with no scatter.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    F32 DY = f32(env, a[0]), X = f32(env, a[1]), O = f32(env, a[2]);
    auto d = ints(env, a[3]);
    if (d.size() < 14) throw Err{"maxPoolGrad: need 14 dims"};
    const int64_t N = d[0], H = d[1], W = d[2], C = d[3], KH = d[4], KW = d[5], OH = d[6], OW = d[7], sh = d[8], sw = d[9],
                  dh = d[10], dw = d[11], pt = d[12], pl = d[13];
    need(X, N * H * W * C, "x"), need(DY, N * OH * OW * C, "dy"), need(O, N * H * W * C, "dx");
    const float* x = X.p;
    const float* dy = DY.p;
    float* dx = O.p;
    const bool disjoint = sh >= KH && sw >= KW && dh == 1 && dw == 1;
    const int64_t img = H * W * C;
    parRows(N, img, [&](int64_t bs, int64_t be) {
      std::vector<float> best(C), bv(C);
      float* __restrict bk = best.data();
      float* __restrict bm = bv.data();
      for (int64_t b = bs; b < be; b++) {
        const float* xb = x + b * img;
        float* __restrict dxb = dx + b * img;
        std::memset(dxb, 0, sizeof(float) * img);
        for (int64_t i = 0; i < OH; i++)
          for (int64_t j = 0; j < OW; j++) {
            const int64_t h0 = i * sh - pt, w0 = j * sw - pl;
            windowArgmax(xb, H, W, C, h0, w0, KH, KW, dh, dw, bm, bk);
            const float* __restrict g = dy + ((b * OH + i) * OW + j) * C;
            forWindow(h0, w0, KH, KW, dh, dw, H, W, [&](int64_t tap, int64_t h, int64_t w) {
              float* __restrict o = dxb + (h * W + w) * C;
              const float k = static_cast<float>(tap);
              if (disjoint)
                for (int64_t c = 0; c < C; c++) {
                  const float gv = g[c];
                  o[c] = bk[c] == k ? gv : 0.0f;
                }
              else
                for (int64_t c = 0; c < C; c++) {
                  const float gv = g[c];
                  o[c] += bk[c] == k ? gv : 0.0f;  // + 0 leaves o exactly as it was (o starts at +0)
                }
            });
          }
      }
    });
  });
}

// sumAxes(leading, x, out, [rows, cols], divisor): leading 1: out[c] = sum_r x[r, c] (reduction
// over leading axes); leading 0: out[r] = sum_c x[r, c] (over trailing axes). Accumulates in
// double like the cpu backend; divisor > 0 divides each element first (float32), as tfjs' Mean.
napi_value SumAxes(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    int leading = static_cast<int>(num(env, a[0]));
    F32 X = f32(env, a[1]), O = f32(env, a[2]);
    auto d = ints(env, a[3]);
    float div = static_cast<float>(num(env, a[4]));
    if (d.size() < 2) throw Err{"sumAxes: dims"};
    int64_t rows = d[0], cols = d[1];
    need(X, rows * cols, "x");
    const float* x = X.p;
    float* o = O.p;
    if (leading) {
      need(O, cols, "out");
      std::vector<double> acc(cols, 0.0);
      double* p = acc.data();
      if (div > 0) {
        for (int64_t r = 0; r < rows; r++)
          for (int64_t c = 0; c < cols; c++) p[c] += static_cast<float>(x[r * cols + c] / div);
      } else {
        for (int64_t r = 0; r < rows; r++)
          for (int64_t c = 0; c < cols; c++) p[c] += x[r * cols + c];
      }
      for (int64_t c = 0; c < cols; c++) o[c] = static_cast<float>(p[c]);
    } else {
      need(O, rows, "out");
      for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        if (div > 0)
          for (int64_t c = 0; c < cols; c++) s += static_cast<float>(x[r * cols + c] / div);
        else
          for (int64_t c = 0; c < cols; c++) s += x[r * cols + c];
        o[r] = static_cast<float>(s);
      }
    }
  });
}

// tile(x, out, [rank, xShape..., reps...])
void tileRec(const float* x, float* o, const int64_t* xs, const int64_t* reps, const int64_t* xStride,
             const int64_t* oStride, int rank, int d) {
  if (d == rank - 1) {
    int64_t n = xs[d];
    for (int64_t r = 0; r < reps[d]; r++) {
      if (n == 1) o[r] = x[0];
      else std::memcpy(o + r * n, x, n * sizeof(float));
    }
    return;
  }
  for (int64_t j = 0; j < xs[d]; j++) tileRec(x + j * xStride[d], o + j * oStride[d], xs, reps, xStride, oStride, rank, d + 1);
  // Copy the first block (already written) reps[d]-1 more times.
  int64_t block = xs[d] * oStride[d];
  for (int64_t r = 1; r < reps[d]; r++) std::memcpy(o + r * block, o, block * sizeof(float));
}

napi_value Tile(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 3);
    F32 X = f32(env, a[0]), O = f32(env, a[1]);
    auto d = ints(env, a[2]);
    int rank = static_cast<int>(d[0]);
    if (rank < 1 || static_cast<int>(d.size()) < 1 + 2 * rank) throw Err{"tile: dims"};
    std::vector<int64_t> xs(d.begin() + 1, d.begin() + 1 + rank), reps(d.begin() + 1 + rank, d.begin() + 1 + 2 * rank);
    std::vector<int64_t> xStride(rank), oStride(rank);
    int64_t sx = 1, so = 1;
    for (int i = rank - 1; i >= 0; i--) {
      xStride[i] = sx, oStride[i] = so;
      sx *= xs[i], so *= xs[i] * reps[i];
    }
    need(X, sx, "x"), need(O, so, "out");
    if (so == 0) return;
    tileRec(X.p, O.p, xs.data(), reps.data(), xStride.data(), oStride.data(), rank, 0);
  });
}

// toF32(src Uint8Array | Int32Array, out Float32Array): a float32 tensor whose values the cpu
// backend keeps in another array type (a cast from bool shares the bool tensor's Uint8Array).
napi_value ToF32(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 2);
    napi_typedarray_type t;
    size_t len;
    void* data;
    napi_value ab;
    size_t off;
    NAPI_OK(napi_get_typedarray_info(env, a[0], &t, &len, &data, &ab, &off));
    F32 O = f32(env, a[1]);
    need(O, len, "out");
    int64_t n = static_cast<int64_t>(len);
    if (t == napi_uint8_array) {
      const uint8_t* p = static_cast<const uint8_t*>(data);
      parRange(n, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; i++) O.p[i] = p[i]; });
    } else if (t == napi_int32_array) {
      const int32_t* p = static_cast<const int32_t*>(data);
      parRange(n, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; i++) O.p[i] = static_cast<float>(p[i]); });
    } else {
      throw Err{"toF32: unsupported array type"};
    }
  });
}

// compare(op, a, b, out Uint8Array): op 0 greater, 1 less, 2 greaterEqual, 3 lessEqual; a, b as
// in binary (same length, suffix-broadcast vector or scalar).
napi_value Compare(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    int op = static_cast<int>(num(env, a[0]));
    F32 A = f32(env, a[1]), B = f32(env, a[2]);
    napi_typedarray_type t;
    size_t len;
    void* data;
    napi_value ab;
    size_t off;
    NAPI_OK(napi_get_typedarray_info(env, a[3], &t, &len, &data, &ab, &off));
    if (t != napi_uint8_array) throw Err{"compare: expected a Uint8Array"};
    uint8_t* o = static_cast<uint8_t*>(data);
    int64_t na = A.n, nb = B.n, n = len;
    if (na == 0 || nb == 0 || n % na || n % nb) throw Err{"compare: bad broadcast"};
    if (op < 0 || op > 3) throw Err{"compare: bad op"};
    // __restrict everywhere: a uint8_t store may alias anything, which stops vectorisation.
    auto run = [&](auto cmp) {
      const float* ap = A.p;
      const float* bp = B.p;
      if (na == n && nb == n) {
        parRange(n, [&](int64_t s, int64_t e) {
          const float* __restrict pa = ap;
          const float* __restrict pb = bp;
          uint8_t* __restrict po = o;
          for (int64_t i = s; i < e; i++) po[i] = cmp(pa[i], pb[i]);
        });
      } else if (na == n && nb == 1) {
        const float y = bp[0];
        parRange(n, [&](int64_t s, int64_t e) {
          const float* __restrict pa = ap;
          uint8_t* __restrict po = o;
          const float yy = y;  // a local copy: the captured reference is re-read every iteration
          for (int64_t i = s; i < e; i++) po[i] = cmp(pa[i], yy);
        });
      } else if (na == 1 && nb == n) {
        const float x = ap[0];
        parRange(n, [&](int64_t s, int64_t e) {
          const float* __restrict pb = bp;
          uint8_t* __restrict po = o;
          const float xx = x;
          for (int64_t i = s; i < e; i++) po[i] = cmp(xx, pb[i]);
        });
      } else if (na == n || nb == n) {
        // a suffix vector repeated along the rows
        int64_t m = na == n ? nb : na;
        parRows(n / m, m, [&](int64_t rs, int64_t re) {
          for (int64_t r = rs; r < re; r++)
            for (int64_t j = 0; j < m; j++) {
              int64_t i = r * m + j;
              o[i] = na == n ? cmp(ap[i], bp[j]) : cmp(ap[j], bp[i]);
            }
        });
      } else {
        for (int64_t i = 0; i < n; i++) o[i] = cmp(ap[i % na], bp[i % nb]);
      }
    };
    switch (op) {
      case 0: run([](float x, float y) -> uint8_t { return x > y; }); break;
      case 1: run([](float x, float y) -> uint8_t { return x < y; }); break;
      case 2: run([](float x, float y) -> uint8_t { return x >= y; }); break;
      default: run([](float x, float y) -> uint8_t { return x <= y; }); break;
    }
  });
}

// ------------------------------------------------------------------------------------------
// Data movement and the remaining element-wise kernels of depthwise/residual nets (MobileNetV2:
// ZeroPadding2D and its Slice gradient, ReLU6 = ClipByValue and its gradient, GAP).

struct Raw {
  void* p;
  size_t n;
  napi_typedarray_type t;
};

Raw raw(napi_env env, napi_value v) {
  bool is;
  NAPI_OK(napi_is_typedarray(env, v, &is));
  if (!is) throw Err{"expected a typed array"};
  Raw r;
  napi_value ab;
  size_t off;
  NAPI_OK(napi_get_typedarray_info(env, v, &r.t, &r.n, &r.p, &ab, &off));
  return r;
}

const uint8_t* u8(const Raw& r, const char* what) {
  if (r.t != napi_uint8_array) throw Err{std::string("expected a Uint8Array: ") + what};
  return static_cast<const uint8_t*>(r.p);
}

// slice(x, out, [rank, shape..., begin..., size...]): out = x[begin : begin + size], row-major.
// Trailing axes taken whole are merged into one contiguous run per copy.
napi_value Slice(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 3);
    F32 X = f32(env, a[0]), O = f32(env, a[1]);
    auto d = ints(env, a[2]);
    int rank = d.empty() ? 0 : static_cast<int>(d[0]);
    if (rank < 1 || rank > 8 || static_cast<int>(d.size()) < 1 + 3 * rank) throw Err{"slice: dims"};
    const int64_t* shape = d.data() + 1;
    const int64_t* begin = shape + rank;
    const int64_t* sz = begin + rank;
    int64_t xn = 1, on = 1;
    for (int i = 0; i < rank; i++) {
      if (begin[i] < 0 || sz[i] < 0 || begin[i] + sz[i] > shape[i]) throw Err{"slice: out of range"};
      xn *= shape[i], on *= sz[i];
    }
    need(X, xn, "x"), need(O, on, "out");
    if (on == 0) return;
    // k: the last axis not taken whole; the run is sz[k] * prod(shape[k+1..]).
    int k = rank - 1;
    int64_t inner = 1;
    while (k > 0 && sz[k] == shape[k] && begin[k] == 0) inner *= shape[k--];
    int64_t run = sz[k] * inner;
    std::vector<int64_t> xStride(rank);
    int64_t st = 1;
    for (int i = rank - 1; i >= 0; i--) xStride[i] = st, st *= shape[i];
    int64_t base = 0;
    for (int i = 0; i < rank; i++) base += begin[i] * xStride[i];
    int64_t rows = on / run;
    std::vector<int64_t> idx(k, 0);
    const float* x = X.p;
    float* o = O.p;
    for (int64_t r = 0; r < rows; r++) {
      int64_t off = base;
      for (int i = 0; i < k; i++) off += idx[i] * xStride[i];
      std::memcpy(o + r * run, x + off, run * sizeof(float));
      for (int i = k - 1; i >= 0; i--) {
        if (++idx[i] < sz[i]) break;
        idx[i] = 0;
      }
    }
  });
}

// pad(x, out, [rank, shape..., before...], value): out has shape[i] + before[i] + after[i] along
// each axis (out's length fixes the after-padding); value everywhere else.
napi_value Pad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    F32 X = f32(env, a[0]), O = f32(env, a[1]);
    auto d = ints(env, a[2]);
    auto outShape = ints(env, a[3]);
    float value = static_cast<float>(num(env, a[4]));
    int rank = d.empty() ? 0 : static_cast<int>(d[0]);
    if (rank < 1 || rank > 8 || static_cast<int>(d.size()) < 1 + 2 * rank || static_cast<int>(outShape.size()) != rank) throw Err{"pad: dims"};
    const int64_t* shape = d.data() + 1;
    const int64_t* before = shape + rank;
    int64_t xn = 1, on = 1;
    for (int i = 0; i < rank; i++) {
      if (before[i] < 0 || outShape[i] < shape[i] + before[i]) throw Err{"pad: bad padding"};
      xn *= shape[i], on *= outShape[i];
    }
    need(X, xn, "x"), need(O, on, "out");
    float* o = O.p;
    std::fill(o, o + on, value);
    if (xn == 0) return;
    std::vector<int64_t> oStride(rank);
    int64_t st = 1;
    for (int i = rank - 1; i >= 0; i--) oStride[i] = st, st *= outShape[i];
    int64_t run = shape[rank - 1];
    int64_t rows = xn / run;
    std::vector<int64_t> idx(rank - 1, 0);
    const float* x = X.p;
    for (int64_t r = 0; r < rows; r++) {
      int64_t off = before[rank - 1];
      for (int i = 0; i < rank - 1; i++) off += (idx[i] + before[i]) * oStride[i];
      std::memcpy(o + off, x + r * run, run * sizeof(float));
      for (int i = rank - 2; i >= 0; i--) {
        if (++idx[i] < shape[i]) break;
        idx[i] = 0;
      }
    }
  });
}

// clip(x, out, min, max): x > max ? max : x < min ? min : x, compared in double as the cpu
// kernel does (NaN stays NaN).
napi_value Clip(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    F32 X = f32(env, a[0]), O = f32(env, a[1]);
    double lo = num(env, a[2]), hi = num(env, a[3]);
    need(O, X.n, "out");
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    const float* __restrict x = X.p;
    float* __restrict o = O.p;
    int64_t n = X.n;
    const bool exact = static_cast<double>(flo) == lo && static_cast<double>(fhi) == hi;
    parRange(n, [&](int64_t s, int64_t e) {
      const float* __restrict px = x;
      float* __restrict po = o;
      const float l = flo, h = fhi;
      if (exact) {
        // Bounds exact in float32: comparing in float is the same as in double.
        for (int64_t i = s; i < e; i++) po[i] = px[i] > h ? h : (px[i] < l ? l : px[i]);
      } else {
        const double dl = lo, dh = hi;
        for (int64_t i = s; i < e; i++) {
          double v = px[i];
          po[i] = v > dh ? h : (v < dl ? l : px[i]);
        }
      }
    });
  });
}

// binaryNd(kind, op, a, b, out, [rank, outShape..., aStrides..., bStrides...]): general
// broadcasting (a stride is 0 along an axis the operand repeats). kind 0: float op float -> float
// (op as in binary); 1: compare -> Uint8 (op as in compare); 2: Uint8 logical -> Uint8 (0 and, 1 or).
template <typename TA, typename TO, typename F>
void ndLoop(const TA* a, const TA* b, TO* o, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb, F f) {
  int64_t inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
  int64_t rows = 1;
  for (int i = 0; i < rank - 1; i++) rows *= shape[i];
  parRows(rows, inner, [&](int64_t rs, int64_t re) {
    // the odometer at row rs
    std::vector<int64_t> idx(rank, 0);
    int64_t offA = 0, offB = 0, q = rs;
    for (int i = rank - 2; i >= 0; i--) {
      idx[i] = q % shape[i], q /= shape[i];
      offA += idx[i] * sa[i], offB += idx[i] * sb[i];
    }
    for (int64_t r = rs; r < re; r++) {
      const TA* __restrict pa = a + offA;
      const TA* __restrict pb = b + offB;
      TO* __restrict po = o + r * inner;
      if (ia == 1 && ib == 1) for (int64_t j = 0; j < inner; j++) po[j] = f(pa[j], pb[j]);
      else if (ia == 1 && ib == 0) { const TA s = pb[0]; for (int64_t j = 0; j < inner; j++) po[j] = f(pa[j], s); }
      else if (ia == 0 && ib == 1) { const TA s = pa[0]; for (int64_t j = 0; j < inner; j++) po[j] = f(s, pb[j]); }
      else for (int64_t j = 0; j < inner; j++) po[j] = f(pa[j * ia], pb[j * ib]);
      for (int i = rank - 2; i >= 0; i--) {
        offA += sa[i], offB += sb[i];
        if (++idx[i] < shape[i]) break;
        offA -= sa[i] * shape[i], offB -= sb[i] * shape[i];
        idx[i] = 0;
      }
    }
  });
}

napi_value BinaryNd(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 6);
    int kind = static_cast<int>(num(env, a[0])), op = static_cast<int>(num(env, a[1]));
    Raw A = raw(env, a[2]), B = raw(env, a[3]), O = raw(env, a[4]);
    auto d = ints(env, a[5]);
    int rank = d.empty() ? 0 : static_cast<int>(d[0]);
    if (rank < 1 || rank > 8 || static_cast<int>(d.size()) < 1 + 3 * rank) throw Err{"binaryNd: dims"};
    const int64_t* shape = d.data() + 1;
    const int64_t* sa = shape + rank;
    const int64_t* sb = sa + rank;
    int64_t n = 1, lastA = 0, lastB = 0;
    for (int i = 0; i < rank; i++) {
      if (shape[i] <= 0) return;
      n *= shape[i], lastA += (shape[i] - 1) * sa[i], lastB += (shape[i] - 1) * sb[i];
    }
    if (static_cast<int64_t>(A.n) <= lastA || static_cast<int64_t>(B.n) <= lastB || static_cast<int64_t>(O.n) < n) throw Err{"binaryNd: array too small"};
    if (kind == 0) {
      if (A.t != napi_float32_array || B.t != napi_float32_array || O.t != napi_float32_array) throw Err{"binaryNd: expected Float32Arrays"};
      const float* pa = static_cast<const float*>(A.p);
      const float* pb = static_cast<const float*>(B.p);
      float* po = static_cast<float*>(O.p);
      switch (op) {
        case 0: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) { return x + y; }); break;
        case 1: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) { return x - y; }); break;
        case 2: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) { return x * y; }); break;
        case 3: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) { return x / y; }); break;
        default: throw Err{"binaryNd: bad op"};
      }
    } else if (kind == 1) {
      if (A.t != napi_float32_array || B.t != napi_float32_array) throw Err{"binaryNd: expected Float32Arrays"};
      const float* pa = static_cast<const float*>(A.p);
      const float* pb = static_cast<const float*>(B.p);
      uint8_t* po = static_cast<uint8_t*>(const_cast<void*>(static_cast<const void*>(u8(O, "out"))));
      switch (op) {
        case 0: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) -> uint8_t { return x > y; }); break;
        case 1: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) -> uint8_t { return x < y; }); break;
        case 2: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) -> uint8_t { return x >= y; }); break;
        case 3: ndLoop(pa, pb, po, rank, shape, sa, sb, [](float x, float y) -> uint8_t { return x <= y; }); break;
        default: throw Err{"binaryNd: bad op"};
      }
    } else if (kind == 2) {
      const uint8_t* pa = u8(A, "a");
      const uint8_t* pb = u8(B, "b");
      uint8_t* po = const_cast<uint8_t*>(u8(O, "out"));
      // tfjs: a && b / a || b (JS semantics: x ? y : x and x ? x : y), written branch-free so
      // that the byte loops vectorise.
      if (rank == 1 && sa[0] == 1 && sb[0] == 1 && op >= 0 && op <= 1) {
        parRange(n, [&](int64_t s, int64_t e) {
          const uint8_t* __restrict x = pa;
          const uint8_t* __restrict y = pb;
          uint8_t* __restrict z = po;
          if (op == 0) for (int64_t i = s; i < e; i++) z[i] = static_cast<uint8_t>(-(x[i] != 0)) & y[i];
          else for (int64_t i = s; i < e; i++) z[i] = x[i] | (static_cast<uint8_t>(-(x[i] == 0)) & y[i]);
        });
        return;
      }
      switch (op) {
        case 0: ndLoop(pa, pb, po, rank, shape, sa, sb, [](uint8_t x, uint8_t y) -> uint8_t { return static_cast<uint8_t>(-(x != 0)) & y; }); break;
        case 1: ndLoop(pa, pb, po, rank, shape, sa, sb, [](uint8_t x, uint8_t y) -> uint8_t { return x | (static_cast<uint8_t>(-(x == 0)) & y); }); break;
        default: throw Err{"binaryNd: bad op"};
      }
    } else {
      throw Err{"binaryNd: bad kind"};
    }
  });
}

// select(cond Uint8Array, t, e, out): out[i] = cond[i] == 1 ? t[i] : e[i] (all the same length).
napi_value Select(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    Raw C = raw(env, a[0]);
    const uint8_t* c = u8(C, "cond");
    F32 T = f32(env, a[1]), E = f32(env, a[2]), O = f32(env, a[3]);
    int64_t n = C.n;
    need(T, n, "t"), need(E, n, "e"), need(O, n, "out");
    const float* __restrict t = T.p;
    const float* __restrict e = E.p;
    float* __restrict o = O.p;
    parRange(n, [&](int64_t s, int64_t end) {
      const uint8_t* __restrict pc = c;
      const float* __restrict pt = t;
      const float* __restrict pe = e;
      float* __restrict po = o;
      for (int64_t i = s; i < end; i++) {
        float a = pt[i], b = pe[i];  // both loaded: a conditional load is not vectorised
        po[i] = pc[i] == 1 ? a : b;
      }
    });
  });
}

// sumMiddle(x, out, [outer, red, inner], divisor): out[o, i] = sum_r x[o, r, i] (a contiguous
// block of middle axes, e.g. H and W of NHWC: global average pooling), in double like the cpu
// backend, adding in the same order; divisor > 0: each element is divided first (float32), as in
// tfjs' Mean.
napi_value SumMiddle(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    F32 X = f32(env, a[0]), O = f32(env, a[1]);
    auto d = ints(env, a[2]);
    float div = static_cast<float>(num(env, a[3]));
    if (d.size() < 3) throw Err{"sumMiddle: dims"};
    int64_t outer = d[0], red = d[1], inner = d[2];
    need(X, outer * red * inner, "x"), need(O, outer * inner, "out");
    std::vector<double> acc(inner);
    double* p = acc.data();
    for (int64_t q = 0; q < outer; q++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* x = X.p + q * red * inner;
      if (div > 0) {
        for (int64_t r = 0; r < red; r++)
          for (int64_t i = 0; i < inner; i++) p[i] += static_cast<float>(x[r * inner + i] / div);
      } else {
        for (int64_t r = 0; r < red; r++)
          for (int64_t i = 0; i < inner; i++) p[i] += x[r * inner + i];
      }
      for (int64_t i = 0; i < inner; i++) O.p[q * inner + i] = static_cast<float>(p[i]);
    }
  });
}

// adam(x, g, m, v, outX, outM, outV, [beta1, 1-beta1, beta2, 1-beta2, 1-accBeta1, 1-accBeta2,
// epsilon, -lr]): one Adam step of tfjs' AdamOptimizer, fused, with the same float32 operations
// in the same order (each rounded; -ffp-contract=off in binding.gyp: no fused multiply-adds;
// -fno-math-errno only lets sqrt vectorise, its values are IEEE's either way), so the results are those of its ~12 kernels:
//   m' = m*b1 + g*(1-b1);  v' = v*b2 + (g*g)*(1-b2);
//   x' = ((m'/(1-accB1)) / (sqrt(v'/(1-accB2)) + eps)) * (-lr) + x
// The loop of adam(), a plain function: inside the lambdas gcc did not vectorise it.
void adamLoop(const float* __restrict x, const float* __restrict g, const float* __restrict m, const float* __restrict v,
              float* __restrict ox, float* __restrict om, float* __restrict ov, int64_t n, float b1, float omb1, float b2,
              float omb2, float c1, float c2, float eps, float nlr) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float m1 = m[i] * b1;
    float m2 = gi * omb1;
    float mn = m1 + m2;
    float v1 = v[i] * b2;
    float g2 = gi * gi;
    float v2 = g2 * omb2;
    float vn = v1 + v2;
    float mh = mn / c1;
    float vh = vn / c2;
    float den = std::sqrt(vh) + eps;
    float q = mh / den;
    float st = q * nlr;
    ox[i] = st + x[i];
    om[i] = mn;
    ov[i] = vn;
  }
}

napi_value Adam(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 8);
    F32 X = f32(env, a[0]), G = f32(env, a[1]), M = f32(env, a[2]), V = f32(env, a[3]);
    F32 OX = f32(env, a[4]), OM = f32(env, a[5]), OV = f32(env, a[6]), P = f32(env, a[7]);
    need(P, 8, "params");
    int64_t n = X.n;
    need(G, n, "g"), need(M, n, "m"), need(V, n, "v"), need(OX, n, "outX"), need(OM, n, "outM"), need(OV, n, "outV");
    const float b1 = P.p[0], omb1 = P.p[1], b2 = P.p[2], omb2 = P.p[3], c1 = P.p[4], c2 = P.p[5], eps = P.p[6], nlr = P.p[7];
    parRange(n, [&](int64_t s, int64_t e) {
      adamLoop(X.p + s, G.p + s, M.p + s, V.p + s, OX.p + s, OM.p + s, OV.p + s, e - s, b1, omb1, b2, omb2, c1, c2, eps, nlr);
    });
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value o = nullptr;
  guarded(env, [&] {
    NAPI_OK(napi_create_object(env, &o));
    napi_value v;
    NAPI_OK(napi_create_int32(env, fixedThreads > 0 ? fixedThreads : allThreads(), &v));
    NAPI_OK(napi_set_named_property(env, o, "threads", v));
    NAPI_OK(napi_get_boolean(env, fixedThreads == 0 && allThreads() > 1, &v));
    NAPI_OK(napi_set_named_property(env, o, "adaptive", v));
    const dnnl_version_t* ver = dnnl_version();
    std::string s = std::to_string(ver->major) + "." + std::to_string(ver->minor) + "." + std::to_string(ver->patch);
    NAPI_OK(napi_create_string_utf8(env, s.c_str(), s.size(), &v));
    NAPI_OK(napi_set_named_property(env, o, "onednn", v));
    eng();  // fail here, not later, if oneDNN cannot create a CPU engine
  });
  return o;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 1);
    int n = static_cast<int>(num(env, a[0]));
    fixedThreads = n > 0 ? n : 0;
    omp_set_num_threads(n > 0 ? n : allThreads());
  });
}

}  // namespace

NAPI_MODULE_INIT() {
  struct {
    const char* name;
    napi_callback fn;
  } fns[] = {{"info", Info},       {"setThreads", SetThreads},   {"conv", Conv},
             {"convImpl", ConvImpl}, {"gemm", Gemm},               {"binary", Binary},
             {"unary", Unary},       {"reluGrad", ReluGrad},       {"batchNorm", BatchNorm},
             {"maxPool", MaxPool},   {"maxPoolGrad", MaxPoolGrad}, {"sumAxes", SumAxes}, {"tile", Tile}, {"compare", Compare}, {"toF32", ToF32},
             {"slice", Slice}, {"pad", Pad}, {"clip", Clip}, {"binaryNd", BinaryNd}, {"select", Select}, {"sumMiddle", SumMiddle}, {"adam", Adam}, {"clipGrad", ClipGrad}, {"bnClipGrad", BnClipGrad}, {"maskWeight", MaskWeight}};
  for (auto& f : fns) {
    napi_value v;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, f.name, v) != napi_ok) return nullptr;
  }
  return exports;
}
