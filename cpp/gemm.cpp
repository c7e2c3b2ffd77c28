// gemm_gather (core.hpp).  A dense product goes to OpenBLAS's dgemm (the scipy-openblas32 build,
// held to one thread of its own: see bindings.cpp) once the listed rows and inner indices are
// packed into contiguous blocks; a product whose (4-row block, inner index) coefficient blocks are
// mostly zero (units inactive for a whole sample, sparse weights) goes to the register-tiled kernel
// of gemm_tiled.cpp, which skips those blocks.
//
// The output is cut into chunks that depend on the shapes only, never on the thread count, so the
// result is the same for any `threads`; the caller and up to threads - 1 std::threads started for
// the call take chunks in turn (parallel.hpp).
#include <algorithm>
#include <climits>
#include <numeric>
#include <vector>

#include <cblas.h>

#include "core.hpp"
#include "gemm_tiled.hpp"
#include "parallel.hpp"

namespace lipmiq {

namespace {

// The tiled kernel wins once it can skip this share of the multiply-adds (one thread, 640 rows in
// groups of 10 times a 1024 x 1024 M: with 25% of the units active per group, 42 ms either way;
// with 10%, tiled 22 ms and dgemm 40 ms; with 50%, tiled 48 ms and dgemm 40 ms; the CNN's
// 784 x 682 x 784 product at a skip share of 0.81: tiled 21 ms, dgemm 39 ms).  On dense products
// dgemm was as fast or faster from 8 x 8 x 8 up.
constexpr double kTiledSkipShare = 0.75;
// Dropping the inner indices whose coefficients are all zero saves their multiply-adds but costs
// packed copies of R and M (unless both are packed anyway to gather them): worth it from this share.
constexpr double kDropShare = 0.125;
// Multiply-adds a started thread must have to do: starting and joining one costs about 50 us, a
// fifth of the time of that many.
constexpr double kThreadMinWork = 4.0e6;
// dgemm chunks of up to 512 x 512: dgemm packs its blocks of R and M per call, so a chunk grid of
// r x c chunks packs M r times and R c times (M repacked per 128-row chunk took 8% of the time of
// symbolic bounds at 784-1024-1024-10, 3% per 512-row chunk).  Chunks are halved, columns first,
// down to 128, until a product has kMinChunks of them: with fewer, a worker that another process
// holds up (a SCIP solve on the other core) keeps the rest waiting for its chunk.
constexpr std::size_t kChunkRows = 512, kChunkCols = 512, kMinChunkSide = 128, kMinChunks = 8;

std::size_t row_of(const GemmArgs& g, std::size_t r) {
    return g.rows ? static_cast<std::size_t>(g.rows[r]) : r;
}
std::size_t rcol_of(const GemmArgs& g, std::size_t t) {
    return g.ridx ? static_cast<std::size_t>(g.ridx[t]) : t;
}
std::size_t mrow_of(const GemmArgs& g, std::size_t t) {
    return g.midx ? static_cast<std::size_t>(g.midx[t]) : t;
}

// Whether at least kTiledSkipShare of the (4-row block within a group, inner index) pairs have
// all their coefficients zero, the multiply-adds the tiled kernel skips.  Stops as soon as the
// nonzero pairs rule it out (after a quarter of a dense R).
bool mostly_zero_blocks(const GemmArgs& g) {
    const std::size_t grp = g.group ? g.group : g.nrows;
    std::size_t blocks = 0;
    for (std::size_t g0 = 0; g0 < g.nrows; g0 += grp) blocks += (std::min(grp, g.nrows - g0) + 3) / 4;
    const double allowed = (1.0 - kTiledSkipShare) * static_cast<double>(blocks * g.nidx);
    std::size_t nonzero = 0;
    for (std::size_t g0 = 0; g0 < g.nrows; g0 += grp) {
        const std::size_t g1 = std::min(g.nrows, g0 + grp);
        for (std::size_t r0 = g0; r0 < g1; r0 += 4) {
            const double* Rr[4];
            const std::size_t nr = std::min<std::size_t>(4, g1 - r0);
            for (std::size_t r = 0; r < nr; ++r) Rr[r] = g.R + row_of(g, r0 + r) * g.ldr;
            for (std::size_t t = 0; t < g.nidx; ++t) {
                const std::size_t c = rcol_of(g, t);
                bool any = false;
                for (std::size_t r = 0; r < nr; ++r) any |= (Rr[r][c] != 0.0);
                nonzero += any;
            }
            if (static_cast<double>(nonzero) > allowed) return false;
        }
    }
    return true;
}

unsigned workers_for(double work, std::size_t chunks, unsigned threads) {
    const double by_work = std::max(1.0, work / kThreadMinWork);
    return static_cast<unsigned>(std::min<double>({static_cast<double>(std::max(1u, threads)),
                                                   static_cast<double>(chunks), by_work}));
}

double multiply_adds(std::size_t rows, std::size_t inner, std::size_t cols) {
    return static_cast<double>(rows) * static_cast<double>(inner) * static_cast<double>(cols);
}

void gemm_tiled_threads(const GemmArgs& g, unsigned threads) {
    const double work = multiply_adds(g.nrows, g.nidx, g.ncols);
    const std::size_t panels = (g.ncols + kTiledPanel - 1) / kTiledPanel;
    parallel_for(panels, workers_for(work, panels, threads), [&](std::size_t p) {
        gemm_tiled(g, p * kTiledPanel, std::min(g.ncols, (p + 1) * kTiledPanel));
    });
}

// C (=beta C +) A op(B), A (nrows x nk), by chunks fixed by the shapes, on `threads` workers;
// op(B) = B (nk x ncols) or, with b_transposed, the transpose of B (ncols x nk).
void dgemm_chunks(const double* A, std::size_t lda, const double* B, std::size_t ldb, bool b_transposed,
                  double* C, std::size_t ldc, std::size_t nrows, std::size_t nk, std::size_t ncols,
                  double beta, unsigned threads) {
    std::size_t cr = kChunkRows, cc = kChunkCols;
    auto count = [](std::size_t n, std::size_t side) { return (n + side - 1) / side; };
    while (count(nrows, cr) * count(ncols, cc) < kMinChunks) {
        if (cc > kMinChunkSide && ncols > cc / 2)
            cc /= 2;
        else if (cr > kMinChunkSide && nrows > cr / 2)
            cr /= 2;
        else
            break;
    }
    const std::size_t col_chunks = count(ncols, cc), chunks = count(nrows, cr) * col_chunks;
    parallel_for(chunks, workers_for(multiply_adds(nrows, nk, ncols), chunks, threads), [&](std::size_t i) {
        const std::size_t r0 = (i / col_chunks) * cr, c0 = (i % col_chunks) * cc;
        const std::size_t rn = std::min(cr, nrows - r0), cn = std::min(cc, ncols - c0);
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans,
                          static_cast<blasint>(rn), static_cast<blasint>(cn), static_cast<blasint>(nk), 1.0,
                          A + r0 * lda, static_cast<blasint>(lda), b_transposed ? B + c0 * ldb : B + c0,
                          static_cast<blasint>(ldb), beta, C + r0 * ldc + c0, static_cast<blasint>(ldc));
    });
}

// dgemm on contiguous blocks: A (nrows x nk) = R[rows, rc(kept)], B (nk x ncols) = M[mr(kept), :],
// where `kept` are the inner indices (all, or those with a nonzero coefficient in some listed row);
// a block is packed only when it is not already a strided view of R or M.  Listed rows are
// computed into a buffer and scattered.
void gemm_blas(const GemmArgs& g, unsigned threads) {
    std::vector<char> nonzero(g.nidx, 0);
    std::size_t found = 0;
    for (std::size_t r = 0; r < g.nrows && found < g.nidx; ++r) {  // row by row: R is row-major
        const double* Rr = g.R + row_of(g, r) * g.ldr;
        for (std::size_t t = 0; t < g.nidx; ++t) {
            const bool first = !nonzero[t] && Rr[rcol_of(g, t)] != 0.0;
            nonzero[t] |= first;
            found += first;
        }
    }
    std::vector<std::int32_t> kept;
    kept.reserve(g.nidx);
    for (std::size_t t = 0; t < g.nidx; ++t)
        if (nonzero[t]) kept.push_back(static_cast<std::int32_t>(t));
    const std::size_t nrows = g.nrows, ncols = g.ncols;
    if (kept.empty()) {
        if (!g.accumulate)
            for (std::size_t r = 0; r < nrows; ++r) {
                double* o = g.out + row_of(g, r) * g.ldo;
                std::fill(o, o + ncols, 0.0);
            }
        return;
    }
    const bool gather_r = g.rows || g.ridx, gather_m = g.midx != nullptr;
    const bool drop = (gather_r && gather_m) ||
                      static_cast<double>(g.nidx - kept.size()) >= kDropShare * static_cast<double>(g.nidx);
    if (!drop) {
        kept.resize(g.nidx);
        std::iota(kept.begin(), kept.end(), 0);
    }
    const std::size_t nk = kept.size();
    Block Ap, Bp, Cp;
    const double* A = g.R;
    std::size_t lda = g.ldr;
    if (gather_r || nk < g.nidx) {
        Ap.resize(nrows * nk);
        for (std::size_t r = 0; r < nrows; ++r) {
            const double* src = g.R + row_of(g, r) * g.ldr;
            double* dst = Ap.data() + r * nk;
            for (std::size_t q = 0; q < nk; ++q) dst[q] = src[rcol_of(g, kept[q])];
        }
        A = Ap.data();
        lda = nk;
    }
    const double* B = g.M;
    std::size_t ldb = g.ldm;
    if (gather_m || nk < g.nidx) {
        Bp.resize(nk * ncols);
        for (std::size_t q = 0; q < nk; ++q) {
            const double* src = g.M + mrow_of(g, kept[q]) * g.ldm;
            std::copy(src, src + ncols, Bp.data() + q * ncols);
        }
        B = Bp.data();
        ldb = ncols;
    }
    double* C = g.out;
    std::size_t ldc = g.ldo;
    if (g.rows) {
        Cp.resize(nrows * ncols);
        C = Cp.data();
        ldc = ncols;
    }
    // With beta = 0 dgemm does not read C (the BLAS definition; this OpenBLAS writes a NaN-filled C
    // correctly), so neither Cp nor an unset output block (Forms::unset) needs clearing first.
    const double beta = (g.accumulate && !g.rows) ? 1.0 : 0.0;
    dgemm_chunks(A, lda, B, ldb, false, C, ldc, nrows, nk, ncols, beta, threads);
    if (g.rows) {
        for (std::size_t r = 0; r < nrows; ++r) {
            const double* src = Cp.data() + r * ncols;
            double* o = g.out + row_of(g, r) * g.ldo;
            if (g.accumulate)
                for (std::size_t c = 0; c < ncols; ++c) o[c] += src[c];
            else
                std::copy(src, src + ncols, o);
        }
    }
}

// dgemm takes 32-bit sizes and leading dimensions in the scipy-openblas32 build.
bool fits_blas_ints(const GemmArgs& g) {
    const std::size_t big = static_cast<std::size_t>(INT_MAX);
    return std::max({g.nrows, g.nidx, g.ncols, g.ldr, g.ldm, g.ldo}) <= big;
}

}  // namespace

// In 32 x 32 tiles, which stay in L1 (element by element, the strided writes made a 1024 x 1024
// transpose take 13 ms, as long as a B = 256 product with it; in tiles 6 ms); rows of tiles go to
// `threads` workers.
Block transpose(const double* A, std::size_t lda, std::size_t rows, std::size_t cols, unsigned threads) {
    constexpr std::size_t kTile = 32;
    Block T(rows * cols);
    parallel_blocks(rows, kTile, cols, threads, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t j0 = 0; j0 < cols; j0 += kTile) {
            const std::size_t j1 = std::min(cols, j0 + kTile);
            for (std::size_t i = i0; i < i1; ++i)
                for (std::size_t j = j0; j < j1; ++j) T[j * rows + i] = A[i * lda + j];
        }
    });
    return T;
}

void gemm_nt(const double* R, std::size_t ldr, std::size_t nrows, const double* W, std::size_t ldw,
             std::size_t ncols, std::size_t inner, double* out, std::size_t ldo, bool accumulate,
             unsigned threads) {
    if (nrows == 0 || ncols == 0) return;
    const GemmArgs g{R, ldr, nullptr, nrows, nullptr, nullptr, inner, W, ldw, ncols, out, ldo, accumulate, 0};
    if (inner > 0 && fits_blas_ints(g) && !mostly_zero_blocks(g))
        return dgemm_chunks(R, ldr, W, ldw, true, out, ldo, nrows, inner, ncols, accumulate ? 1.0 : 0.0, threads);
    const Block WT = transpose(W, ldw, ncols, inner, threads);  // (inner x ncols): the tiled kernel's M
    gemm_tiled_threads({R, ldr, nullptr, nrows, nullptr, nullptr, inner, WT.data(), ncols, ncols, out, ldo,
                        accumulate, 0},
                       threads);
}

void gemm_gather(const double* R, std::size_t ldr, const std::int32_t* rows, std::size_t nrows,
                 const std::int32_t* ridx, const std::int32_t* midx, std::size_t nidx,
                 const double* M, std::size_t ldm, std::size_t ncols, double* out,
                 std::size_t ldo, bool accumulate, std::size_t group, unsigned threads) {
    if (nrows == 0 || ncols == 0) return;
    const GemmArgs g{R, ldr, rows, nrows, ridx, midx, nidx, M, ldm, ncols, out, ldo, accumulate, group};
    if (nidx == 0 || !fits_blas_ints(g) || mostly_zero_blocks(g)) return gemm_tiled_threads(g, threads);
    gemm_blas(g, threads);
}

}  // namespace lipmiq
