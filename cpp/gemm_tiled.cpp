// gemm_tiled: out[r, :] (=|+=) sum_t R[r, rc(t)] M[mr(t), :] over listed rows and inner
// indices only; groups of rows whose coefficients at some t are all zero skip that t.
// Register-tiled (MR rows x NV vectors of accumulators kept in registers across the whole inner
// loop), blocked over column panels of M that stay in L2.  GCC/Clang vector extensions; on x86-64
// an AVX2+FMA instantiation is chosen at run time when the CPU supports it.
#include "gemm_tiled.hpp"

#include <algorithm>
#include <vector>

namespace lipmiq {

namespace {

#if defined(__GNUC__)
#if !defined(__clang__)
// The vector helpers below are always inlined into functions of one ISA; the ABI note about
// passing 256-bit vectors between differently compiled functions does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#define LIPMIQ_INLINE inline __attribute__((always_inline))

typedef double v4d __attribute__((vector_size(32)));
typedef double v2d __attribute__((vector_size(16)));

// Unaligned vector load / store (compile to vmovupd / movupd).
template <class V>
LIPMIQ_INLINE V vload(const double* p) {
    V x;
    __builtin_memcpy(&x, p, sizeof(V));
    return x;
}
template <class V>
LIPMIQ_INLINE void vstore(double* p, V x) {
    __builtin_memcpy(p, &x, sizeof(V));
}

// One MR x NR tile (NR = NV * lanes): acc = sum_k Rp[k, :] (x) Mt[tk[k], :], where Rp is the
// packed (compact over non-zero k) coefficient block and Mt the packed panel tile (nidx x NR).
template <class V, int MR, int NV>
LIPMIQ_INLINE void tile(const double* __restrict Rp, const std::int32_t* __restrict tk,
                        std::size_t nk, const double* __restrict Mt, double* __restrict acc_out) {
    constexpr int lanes = sizeof(V) / sizeof(double);
    constexpr int NR = NV * lanes;
    V acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = V{};
    for (std::size_t k = 0; k < nk; ++k) {
        const double* w = Mt + static_cast<std::size_t>(tk[k]) * NR;
        const double* a = Rp + k * MR;
        V wv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) wv[v] = vload<V>(w + v * lanes);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const double ar = a[r];
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[r][v] += ar * wv[v];
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) vstore<V>(acc_out + r * NR + v * lanes, acc[r][v]);
}

struct Work {
    std::vector<double> Mp;       // packed panel: [tile][t][NR]
    std::vector<double> Rp;       // packed row block: [k][MR]
    std::vector<std::int32_t> tk; // t of each packed k
};

template <class V, int MR, int NV>
LIPMIQ_INLINE void row_block(const GemmArgs& g, Work& w, std::size_t r0, std::size_t pc0,
                             std::size_t pc1) {
    constexpr std::size_t NR = NV * (sizeof(V) / sizeof(double));
    const double* Rr[MR];
    double* Or[MR];
    for (int r = 0; r < MR; ++r) {
        const std::size_t i = g.rows ? static_cast<std::size_t>(g.rows[r0 + r]) : r0 + r;
        Rr[r] = g.R + i * g.ldr;
        Or[r] = g.out + i * g.ldo;
    }
    // Pack the coefficients of this row block, keeping only inner indices with a non-zero.
    std::size_t nk = 0;
    for (std::size_t t = 0; t < g.nidx; ++t) {
        const std::size_t rc = g.ridx ? static_cast<std::size_t>(g.ridx[t]) : t;
        bool any = false;
        for (int r = 0; r < MR; ++r) {
            const double a = Rr[r][rc];
            w.Rp[nk * MR + r] = a;
            any |= (a != 0.0);
        }
        if (any) w.tk[nk++] = static_cast<std::int32_t>(t);
    }
    double acc[MR * NR];
    const std::size_t ntiles = (pc1 - pc0 + NR - 1) / NR;
    for (std::size_t j = 0; j < ntiles; ++j) {
        tile<V, MR, NV>(w.Rp.data(), w.tk.data(), nk, w.Mp.data() + j * g.nidx * NR, acc);
        const std::size_t c0 = pc0 + j * NR, cn = std::min(NR, pc1 - c0);
        for (int r = 0; r < MR; ++r) {
            double* o = Or[r] + c0;
            const double* s = acc + r * NR;
            if (g.accumulate)
                for (std::size_t c = 0; c < cn; ++c) o[c] += s[c];
            else
                for (std::size_t c = 0; c < cn; ++c) o[c] = s[c];
        }
    }
}

template <class V, int NV>
LIPMIQ_INLINE void gemm_body(const GemmArgs& g, std::size_t c0, std::size_t c1) {
    constexpr std::size_t NR = NV * (sizeof(V) / sizeof(double));
    static_assert(kTiledPanel % NR == 0, "panels are whole tiles");
    const std::size_t nrows = g.nrows;
    Work w;
    w.Rp.assign(g.nidx * 4 + 4, 0.0);
    w.tk.assign(g.nidx + 1, 0);
    for (std::size_t pc0 = c0; pc0 < c1; pc0 += kTiledPanel) {
        const std::size_t pc1 = std::min(c1, pc0 + kTiledPanel);
        const std::size_t ntiles = (pc1 - pc0 + NR - 1) / NR;
        // Pack M[mr(t), pc0:pc1] tile by tile (zero padded): contiguous, read sequentially.
        w.Mp.assign(ntiles * g.nidx * NR, 0.0);
        const std::size_t full = (pc1 - pc0) / NR;
        for (std::size_t t = 0; t < g.nidx; ++t) {
            const std::size_t mr = g.midx ? static_cast<std::size_t>(g.midx[t]) : t;
            const double* src = g.M + mr * g.ldm + pc0;
            double* dst = w.Mp.data() + t * NR;
            for (std::size_t j = 0; j < full; ++j) {
                const double* s = src + j * NR;
                double* d = dst + j * g.nidx * NR;
                for (std::size_t c = 0; c < NR; ++c) d[c] = s[c];
            }
            if (full < ntiles) {
                const double* s = src + full * NR;
                double* d = dst + full * g.nidx * NR;
                for (std::size_t c = 0; c < pc1 - pc0 - full * NR; ++c) d[c] = s[c];
            }
        }
        const std::size_t grp = g.group ? g.group : nrows;
        for (std::size_t g0 = 0; g0 < nrows; g0 += grp) {
            const std::size_t g1 = std::min(nrows, g0 + grp);
            std::size_t r = g0;
            // blocks of 4 rows; a remainder of 1 or 2 after some 4-blocks becomes 3 + 2 / 3 + 3
            const std::size_t len = g1 - g0, rem = len % 4;
            const std::size_t n4 = (len >= 4 && (rem == 1 || rem == 2)) ? len / 4 - 1 : len / 4;
            for (std::size_t q = 0; q < n4; ++q, r += 4) row_block<V, 4, NV>(g, w, r, pc0, pc1);
            while (r < g1) {
                const std::size_t left = g1 - r;
                if (left >= 3) {
                    row_block<V, 3, NV>(g, w, r, pc0, pc1);
                    r += 3;
                } else if (left == 2) {
                    row_block<V, 2, NV>(g, w, r, pc0, pc1);
                    r += 2;
                } else {
                    row_block<V, 1, NV>(g, w, r, pc0, pc1);
                    r += 1;
                }
            }
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void gemm_avx2(const GemmArgs& g, std::size_t c0,
                                                   std::size_t c1) {
    gemm_body<v4d, 3>(g, c0, c1);  // 4 x 12 tile: 12 ymm accumulators
}
bool have_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void gemm_generic(const GemmArgs& g, std::size_t c0, std::size_t c1) {
    gemm_body<v2d, 2>(g, c0, c1);  // 4 x 4 tile of 128-bit vectors
}
#endif  // __GNUC__

}  // namespace

void gemm_tiled(const GemmArgs& g, std::size_t c0, std::size_t c1) {
#if defined(__GNUC__)
#if defined(__x86_64__)
    if (have_avx2()) return gemm_avx2(g, c0, c1);  // cheap: reads libgcc's cpu model
#endif
    return gemm_generic(g, c0, c1);
#else
    // Portable fallback: row axpy with zero skipping.
    for (std::size_t r = 0; r < g.nrows; ++r) {
        const std::size_t i = g.rows ? static_cast<std::size_t>(g.rows[r]) : r;
        const double* Ri = g.R + i * g.ldr;
        double* Oi = g.out + i * g.ldo;
        if (!g.accumulate) std::fill(Oi + c0, Oi + c1, 0.0);
        for (std::size_t t = 0; t < g.nidx; ++t) {
            const double a = Ri[g.ridx ? g.ridx[t] : t];
            if (a == 0.0) continue;
            const double* w = g.M + static_cast<std::size_t>(g.midx ? g.midx[t] : t) * g.ldm;
            for (std::size_t j = c0; j < c1; ++j) Oi[j] += a * w[j];
        }
    }
#endif
}

}  // namespace lipmiq
