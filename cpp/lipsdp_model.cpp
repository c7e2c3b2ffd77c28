// LipSDP-Neuron's model of a network with per-neuron slope sets, and the float64 certificate of the bound its
// multipliers give (python/lipmiq/sdp/model.py, certify.py and lipsdp_node.cpp drive them; the math is in the
// Python modules' docstrings).
// Both ran in numpy at 0.25 and 0.31 ms a branch-and-bound node on [8, 20, 20, 1], as much as the node's
// barrier solve.  LAPACK is scipy-openblas32's.
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core.hpp"

namespace lipmiq {

namespace {

constexpr double kUnit = 0x1p-53;

// out (r x N) = A (r x c) B (c x N), row-major; zeros when an inner or outer size is 0.
void product(const double* A, const double* B, std::size_t r, std::size_t c, std::size_t N, double* out) {
    if (r == 0 || N == 0) return;
    if (c == 0) {
        std::fill(out, out + r * N, 0.0);
        return;
    }
    scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(r), static_cast<int>(N),
                static_cast<int>(c), 1.0, A, static_cast<int>(c), B, static_cast<int>(N), 0.0, out,
                static_cast<int>(N));
}

// out (N x N) = U^T U for U (r x N).
void gram_of(const std::vector<double>& U, std::size_t r, std::size_t N, std::vector<double>& out) {
    out.assign(N * N, 0.0);
    if (r == 0 || N == 0) return;
    scipy_cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(N), static_cast<int>(N),
                static_cast<int>(r), 1.0, U.data(), static_cast<int>(N), U.data(), static_cast<int>(N), 0.0,
                out.data(), static_cast<int>(N));
}

// ||M||_F, scaled by the largest entry so that neither tiny entries (squares below 2^-1074: a norm, and so an
// allowance, of 0; review finding) nor huge ones (squares overflowing) spoil it; rounded up by a relative 1e-12,
// far above the float64 error of the sum (an allowance need not be tight).
double frobenius(const std::vector<double>& M) {
    double top = 0.0;
    for (double v : M) top = std::max(top, std::fabs(v));
    if (top == 0.0 || !std::isfinite(top)) return top;
    double s = 0.0;
    for (double v : M) s += (v / top) * (v / top);
    return top * std::sqrt(s) * (1.0 + 1e-12);
}

bool finite(const std::vector<double>& M) {
    for (double v : M)
        if (!std::isfinite(v)) return false;
    return true;
}

// The largest eigenvalue of the symmetric k x k matrix A (row-major; destroyed); NaN when LAPACK fails.
double largest_eigenvalue(std::vector<double>& A, std::size_t k, std::vector<double>& w) {
    if (k == 0) return -std::numeric_limits<double>::infinity();
    w.resize(k);
    const int n = static_cast<int>(k);
    // A is symmetric: its row-major storage is also its column-major one (no transposed copy)
    if (scipy_LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', n, A.data(), n, w.data()) != 0)
        return std::numeric_limits<double>::quiet_NaN();
    return w[k - 1];  // ascending
}

// Whether -M (M symmetric N x N, row-major) is proved positive definite beyond `margin`: the float64 Cholesky factor
// of A = -M - c I exists, with c above what its rounding can hide (A is scratch).  Higham, Accuracy and Stability
// of Numerical Algorithms, Thm 10.3: a Cholesky factorisation that runs to completion gives R^T R = A + dA with
// |dA| <= gamma |R^T| |R| (gamma_{N+1}, any order of the inner products, FMA or not), so ||dA||_2 <= gamma ||R||_F^2 =
// gamma tr(A + dA) <= gamma / (1 - gamma) tr(A); subtracting c from the diagonal adds at most u |m_ii + c| per entry.
// Then -M >= (c - gamma / (1 - gamma) tr(A) - u max |m_ii + c| - underflow) I, which c is chosen to keep above `margin`
// (underflow: 2 N (N + 1) (2 + max a_ii) 2^-1074, far above what the factorisation's at most N + 1 operations per entry
// can lose below the normal range, a term of the form of Rump's test, "Verification of positive definiteness", BIT
// 2006).  A Cholesky factor costs a fraction of the eigensolver's tridiagonal reduction (the certificate: 0.53-0.70
// -> 0.26-0.37 ms at N = 89-104), and its bound is proved where the eigensolver's 4 N u ||M||_F was an allowance.
bool negative_definite_beyond(const std::vector<double>& M, std::size_t N, double margin, std::vector<double>& A) {
    if (N == 0) return true;
    double trace = 0.0, top = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        const double a = -M[i * N + i];
        if (!(a > 0.0)) return false;  // a positive definite matrix has a positive diagonal (NaN fails too)
        trace += a;
        top = std::max(top, a);
    }
    const double n = static_cast<double>(N);
    // gamma_{N+1} doubled: OpenBLAS's triangular solves multiply by a reciprocal of the pivot (one rounding more
    // per entry), and the blocked factorisation sums in its own order; the bound's cost is a relative 1e-13
    const double gamma = (2.0 * n + 4.0) * kUnit / (1.0 - (2.0 * n + 4.0) * kUnit);
    // the float sum of the trace is off by at most a relative N u: (1 + 2 N u) covers it; 1.01 covers the rounding of
    // c's own arithmetic and the u c of the diagonal's subtraction
    const double c = 1.01 * (margin + gamma / (1.0 - gamma) * trace * (1.0 + 2.0 * n * kUnit) + kUnit * top +
                             2.0 * n * (n + 1.0) * (2.0 + top) * 0x1p-1074);
    if (!std::isfinite(c)) return false;
    A.resize(N * N);
    for (std::size_t i = 0; i < N * N; ++i) A[i] = -M[i];
    for (std::size_t i = 0; i < N; ++i) A[i * N + i] -= c;
    const int m = static_cast<int>(N);
    // A is symmetric: its row-major storage is also its column-major one
    return scipy_LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', m, A.data(), m) == 0;
}

}  // namespace

void sdp_matrix(const SdpModel& m, double rho, const std::vector<double>& t, bool magnitude, std::vector<double>& M) {
    const std::size_t N = m.size;
    M.assign(m.gram, m.gram + N * N);
    for (std::size_t i = 0; i < m.n0; ++i) M[i * N + i] += magnitude ? std::fabs(rho) : -rho;
    for (std::size_t j = 0; j < t.size(); ++j) {
        const std::size_t r = m.index[j];
        const double tj = magnitude ? std::fabs(t[j]) : t[j];
        const double* w = m.rows + j * N;
        for (std::size_t c = 0; c < N; ++c) {
            M[r * N + c] += tj * w[c];
            M[c * N + r] += tj * w[c];
        }
        M[r * N + r] += magnitude ? 2.0 * tj : -2.0 * tj;
    }
}

SdpSlopeModel sdp_slope_model(const std::vector<const Matrix*>& weights, const std::vector<const std::int8_t*>& slopes) {
    SdpSlopeModel m;
    const std::size_t L = weights.size(), n0 = weights[0]->cols;
    std::size_t N = n0;
    for (std::size_t k = 0; k + 1 < L; ++k)
        for (std::size_t i = 0; i < weights[k]->rows; ++i) N += slopes[k][i] == kSdpFree;
    m.n0 = n0;
    m.size = N;
    // R (rows x N): the current layer's input as a linear map of z; starts at [I 0] on x_0
    std::vector<double> R(n0 * N, 0.0), Ra(n0 * N, 0.0), U, Ua, absW;
    for (std::size_t i = 0; i < n0; ++i) R[i * N + i] = Ra[i * N + i] = 1.0;
    std::size_t offset = n0, in = n0, depth = 0;
    for (std::size_t k = 0; k < L; ++k) {
        const Matrix& W = *weights[k];
        const std::size_t out = W.rows;
        U.assign(out * N, 0.0);
        Ua.assign(out * N, 0.0);
        absW.resize(W.data.size());
        for (std::size_t i = 0; i < absW.size(); ++i) absW[i] = std::fabs(W.data[i]);
        product(W.data.data(), R.data(), out, in, N, U.data());
        product(absW.data(), Ra.data(), out, in, N, Ua.data());
        depth += W.cols;
        if (k + 1 == L) break;
        R.assign(out * N, 0.0);
        Ra.assign(out * N, 0.0);
        for (std::size_t i = 0; i < out; ++i) {
            const std::int8_t s = slopes[k][i];
            if (s == kSdpFree) {
                m.rows.insert(m.rows.end(), U.begin() + i * N, U.begin() + (i + 1) * N);
                m.rows_abs.insert(m.rows_abs.end(), Ua.begin() + i * N, Ua.begin() + (i + 1) * N);
                m.index.push_back(offset);
                m.layer.push_back(static_cast<std::int32_t>(k));
                m.row.push_back(static_cast<std::int32_t>(i));
                R[i * N + offset] = Ra[i * N + offset] = 1.0;
                ++offset;
            } else if (s == 1) {
                std::copy(U.begin() + i * N, U.begin() + (i + 1) * N, R.begin() + i * N);
                std::copy(Ua.begin() + i * N, Ua.begin() + (i + 1) * N, Ra.begin() + i * N);
            }
        }
        in = out;
    }
    gram_of(U, weights[L - 1]->rows, N, m.gram);
    gram_of(Ua, weights[L - 1]->rows, N, m.gram_abs);
    m.depth = depth + weights[L - 1]->rows + 6;
    return m;
}

double sdp_certified_rho(const SdpModel& m, const SdpModel& majorant, std::size_t depth, std::vector<double> t) {
    constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    constexpr int kSteps = 80;  // bumps of rho, each 4x the last from a relative 1e-9
    for (double& v : t) v = std::max(v, 0.0);  // (NaN stays NaN: M is then not finite)
    const std::size_t N = m.size, n0 = m.n0, nf = N - n0;
    std::vector<double> M0, M, D(nf * nf), C(n0 * nf), Y, S(n0 * n0), w;
    sdp_matrix(m, 0.0, t, false, M0);
    if (!finite(M0)) return kNone;
    for (std::size_t i = 0; i < nf; ++i)
        for (std::size_t j = 0; j < nf; ++j) D[i * nf + j] = M0[(n0 + i) * N + n0 + j];
    for (std::size_t i = 0; i < n0; ++i)
        for (std::size_t j = 0; j < nf; ++j) C[i * nf + j] = M0[i * N + n0 + j];
    for (std::size_t i = 0; i < n0; ++i)
        for (std::size_t j = 0; j < n0; ++j) S[i * n0 + j] = M0[i * N + j];
    if (nf) {
        std::vector<double> E = D;
        const double top = largest_eigenvalue(E, nf, w);
        if (!(top < 0.0)) return kNone;
        // S = M0_xx - C D^-1 C^T (a guess for rho only: the proof is the last test below).  Column-major, D is its
        // own storage (symmetric) and C^T is C's row-major storage; the solution Y = D^-1 C^T comes back as Y^T
        // row-major.
        Y = C;
        std::vector<lapack_int> piv(nf);
        if (scipy_LAPACKE_dgesv(LAPACK_COL_MAJOR, static_cast<lapack_int>(nf), static_cast<lapack_int>(n0), D.data(),
                                static_cast<lapack_int>(nf), piv.data(), Y.data(), static_cast<lapack_int>(nf)) != 0)
            return kNone;
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n0), static_cast<int>(n0),
                          static_cast<int>(nf), -1.0, C.data(), static_cast<int>(nf), Y.data(), static_cast<int>(nf), 1.0,
                          S.data(), static_cast<int>(n0));
    }
    for (std::size_t i = 0; i < n0; ++i)
        for (std::size_t j = 0; j < i; ++j) S[i * n0 + j] = S[j * n0 + i] = 0.5 * (S[i * n0 + j] + S[j * n0 + i]);
    const double top = largest_eigenvalue(S, n0, w);
    if (std::isnan(top)) return kNone;
    const double rho = std::max(top, 0.0);
    double step = std::max(rho * 1e-9, 1e-14 * (frobenius(M0) + 1e-300));
    // The allowance bounds ||M_exact - M_computed||_2: every entry of M is a sum of products along chains of at most
    // `depth` float operations from the weights, so its error is at most gamma_depth times the same sum in
    // magnitudes, doubled for second-order terms (+ 2^-1073 per operation of a chain and entry for products that
    // underflowed).  -M_computed is then proved positive definite beyond it (`negative_definite_beyond`).
    const double d = static_cast<double>(depth);
    const double gamma = 2.0 * d * kUnit / (1.0 - d * kUnit);
    std::vector<double> Mag, A;
    for (int s = 0; s < kSteps; ++s) {
        const double trial = rho + step;
        sdp_matrix(m, trial, t, false, M);
        if (!finite(M)) return kNone;
        sdp_matrix(majorant, trial, t, true, Mag);
        const double allowance = gamma * frobenius(Mag) + d * static_cast<double>(N * N) * 0x1p-1074 * 2.0;
        if (negative_definite_beyond(M, N, allowance, A)) return trial;
        step *= 4.0;
    }
    return kNone;
}

}  // namespace lipmiq
