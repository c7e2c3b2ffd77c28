// Interval Jacobian bounds: max ||J(g)||_{p->q} over the patterns a partial pattern still allows.
//
// Every completion's Jacobian lies in [Ml, Mu] (interval products, entry by entry), so
// |J| <= A = max(|Ml|, |Mu|) entrywise, and for a nonnegative majorant ||J||_{p->q} <= ||A||_{p->q}
// (|J v| <= A |v| entrywise and every p-norm is monotone).  For A >= 0 every pair is tractable:
//   p = 1: max column q-norm;  q = inf: max row p*-norm;  p = inf: ||A 1||_q (v = 1 is optimal);
//   p = 2, q = 1: ||A^T 1||_2;  p = q = 2: the certified spectral norm (interval_norms: nonnegative_norm_up,
//   rounded upward, safe from overflow and underflow at any scale).
// Rounding: the products are computed in float64 without directed rounding; when the entries of J
// cancel (|J| << |W_L| ... |W_1|) their absolute error can exceed any relative allowance, so the bound
// adds gamma * ||P||, P = |W_L| D ... D |W_1| (review finding: a 3.3e-5 relative shortfall otherwise).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core.hpp"
#include "interval_norms.hpp"
#include "rounding.hpp"

namespace lipmiq {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// (lo, hi) <- exact interval bounds of W [lo, hi], both (W.cols x c) on entry, (W.rows x c) on exit.
void interval_matmul(const MatrixRef& W, std::vector<double>& lo, std::vector<double>& hi, std::size_t c) {
    std::vector<double> nlo(W.rows * c, 0.0), nhi(W.rows * c, 0.0);
    for (std::size_t i = 0; i < W.rows; ++i) {
        double* ol = nlo.data() + i * c;
        double* oh = nhi.data() + i * c;
        for (std::size_t t = 0; t < W.cols; ++t) {
            const double w = W.data[i * W.cols + t];
            if (w == 0.0) continue;
            const double* l = lo.data() + t * c;
            const double* h = hi.data() + t * c;
            if (w > 0.0) {
                for (std::size_t j = 0; j < c; ++j) ol[j] += w * l[j], oh[j] += w * h[j];
            } else {
                for (std::size_t j = 0; j < c; ++j) ol[j] += w * h[j], oh[j] += w * l[j];
            }
        }
    }
    lo.swap(nlo);
    hi.swap(nhi);
}

// P <- |W| P, P (W.cols x c) on entry, (W.rows x c) on exit.
void absolute_matmul(const MatrixRef& W, std::vector<double>& P, std::size_t c) {
    std::vector<double> out(W.rows * c, 0.0);
    for (std::size_t i = 0; i < W.rows; ++i) {
        double* o = out.data() + i * c;
        for (std::size_t t = 0; t < W.cols; ++t) {
            const double w = std::fabs(W.data[i * W.cols + t]);
            if (w == 0.0) continue;
            const double* r = P.data() + t * c;
            for (std::size_t j = 0; j < c; ++j) o[j] += w * r[j];
        }
    }
    P.swap(out);
}

}  // namespace

double pattern_norm_bound(const std::vector<MatrixRef>& W, const std::vector<const std::int8_t*>& state,
                          double p, double q) {
    const rnd::FloatEnvironment environment;  // round to nearest, no flush-to-zero, whatever the caller set
    const MatrixRef& first = W.front();
    const std::size_t n = first.cols, m = W.back().rows;
    if (n == 0 || m == 0) return 0.0;
    std::vector<double> lo(first.data, first.data + first.rows * first.cols), hi = lo;
    // P = |W_L| D ... D |W_1| (D = 0 on inactive neurons, 1 otherwise) bounds the rounding: every entry of
    // the interval products is a sum of products whose absolute values sum to the entry of P, so it
    // carries an error <= gamma * P with gamma = 2u * (the summation lengths), Higham's gamma_n doubled.
    std::vector<double> P(lo.size());
    for (std::size_t i = 0; i < lo.size(); ++i) P[i] = std::fabs(lo[i]);
    std::size_t terms = 0;
    bool decided = true;
    for (std::size_t k = 0; k + 1 < W.size(); ++k) {
        if (k > 0) {
            interval_matmul(W[k], lo, hi, n);
            absolute_matmul(W[k], P, n);
            terms += W[k].cols;
        }
        const std::int8_t* s = state[k];
        for (std::size_t i = 0; i < W[k].rows; ++i) {
            if (s[i] == 1) continue;
            double* l = lo.data() + i * n;
            double* h = hi.data() + i * n;
            if (s[i] == 0) {
                std::fill(l, l + n, 0.0);
                std::fill(h, h + n, 0.0);
                std::fill(P.data() + i * n, P.data() + (i + 1) * n, 0.0);
            } else {
                decided = false;
                for (std::size_t j = 0; j < n; ++j) l[j] = std::min(l[j], 0.0), h[j] = std::max(h[j], 0.0);
            }
        }
    }
    if (W.size() > 1) {
        interval_matmul(W.back(), lo, hi, n);
        absolute_matmul(W.back(), P, n);
        terms += W.back().cols;
    }
    std::vector<double> A(m * n);
    for (std::size_t i = 0; i < m * n; ++i) A[i] = std::max(std::fabs(lo[i]), std::fabs(hi[i]));
    double bound = nonnegative_norm_up(A, m, n, p, q);
    if (decided) {
        double exact_norm = 0.0;
        std::vector<double> v(n);
        std::uint8_t exact = 0;
        operator_norms(lo.data(), 1, m, n, p, q, 20, 8, 0, &exact_norm, v.data(), &exact);
        if (exact) bound = std::min(bound, exact_norm);
    }
    const double gamma = 2.0 * std::ldexp(1.0, -53) * static_cast<double>(terms + n + m);
    return rnd::min_upper(rnd::add_up(bound, rnd::mul_up(gamma, nonnegative_norm_up(P, m, n, p, q))), kInf);
}

}  // namespace lipmiq
