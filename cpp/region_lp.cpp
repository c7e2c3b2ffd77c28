// Does a (partial) activation pattern's region meet the interior of a box, and where?  The closed-box margin LP
// of python/lipmiq/certify/regions.py (`_box_point`), built and solved in the core for the branch-and-bound's
// prefix regions (python/lipmiq/certify/partial.py): tens of thousands per search, each about 1.5 ms through
// HiGHS, mostly model building in Python.
//
// Under the pattern of the layers before K every pre-activation up to layer K is affine, z_j = a_j x + c_j (the
// forms in float64, as the HiGHS path builds them).  The LP is
//     max s  s.t.  sign_j (a_j x + c_j) >= s ||a_j||_2  for each row neuron j with a_j != 0,  x in [lo, hi],  s in [-1, 1]
// (each row scaled by a power of two).  "Empty" needs a proof: weak duality with a rounding allowance on the
// dense dual simplex's multipliers (dense_lp.cpp) showing max s <= 0 or no point; then no x of the closed box
// has every row strictly on its side, so the open region misses the box.  A constant neuron (a_j = 0) of the
// wrong sign is a proof by itself.  "Interior" needs a point re-checked in float64: the optimum pulled toward
// the box's centre (as `_box_point` does) with margin > interior_tol from every row's hyperplane and every face.
// Anything else is left to the HiGHS path and the exact decision (python/lipmiq/certify/regions.py).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core.hpp"
#include "dense_lp.hpp"
#include "rounding.hpp"

namespace lipmiq {

RegionVerdict region_lp_box(const Network& net, const double* lo, const double* hi,
                            const std::vector<const std::int8_t*>& pattern,
                            const std::vector<const std::uint8_t*>& skip, double interior_tol,
                            const Deadline& deadline) {
    RegionVerdict out;
    if (pattern.empty() || deadline.passed()) return out;
    const rnd::FloatEnvironment environment;
    const std::size_t n = net.in_dim(), K = pattern.size() - 1;
    // The forms layer by layer: A (rows x n) and c of layer k's neurons (all below K, the rows at K).
    std::vector<double> A(net.W[0].data.begin(), net.W[0].data.end()), c(net.b[0]);
    std::vector<double> rows_A, rows_c, norms, tops;  // the LP's rows: sign a (unscaled), sign c, ||a||_2, max |a_i|
    std::vector<std::pair<std::size_t, std::size_t>> keys;
    for (std::size_t k = 0; k <= K; ++k) {
        const std::size_t width = net.W[k].rows;
        const std::int8_t* g = pattern[k];
        const std::uint8_t* off = k < skip.size() ? skip[k] : nullptr;
        for (std::size_t j = 0; j < width; ++j) {
            if (g[j] < 0 || (off != nullptr && off[j])) continue;
            const double* a = A.data() + j * n;
            const double sign = g[j] > 0 ? 1.0 : -1.0;
            // NaN or inf in a form (products overflowing, then cancelling): no verdict (std::max would drop a
            // NaN and read the row as a constant neuron: review finding)
            double top = 0.0;
            bool finite = std::isfinite(c[j]);
            for (std::size_t i = 0; i < n; ++i) {
                finite = finite && std::isfinite(a[i]);
                top = std::max(top, std::fabs(a[i]));
            }
            if (!finite) return out;
            if (top == 0.0) {  // a constant neuron: its sign decides
                if (sign * c[j] < 0.0) {
                    out.verdict = 2;
                    out.reason = 3;
                    out.proof.emplace_back(k, j);
                    return out;
                }
                continue;
            }
            double sum = 0.0;  // ||a||_2 computed on a / top: no underflow or overflow in the squares
            for (std::size_t i = 0; i < n; ++i) sum += (a[i] / top) * (a[i] / top);
            for (std::size_t i = 0; i < n; ++i) rows_A.push_back(sign * a[i]);
            rows_c.push_back(sign * c[j]);
            norms.push_back(top * std::sqrt(sum));
            tops.push_back(top);
            keys.emplace_back(k, j);
        }
        if (k == K) break;
        // The next layer's forms: W_{k+1} diag(g_k) (A, c) + (0, b_{k+1}), only the rows layer K keeps.
        const Matrix& W = net.W[k + 1];
        const std::int8_t* next = pattern[k + 1];
        std::vector<double> A2(W.rows * n, 0.0), c2(net.b[k + 1]);
        for (std::size_t r = 0; r < W.rows; ++r) {
            if (k + 1 == K && next[r] < 0) continue;
            const double* w = W.row(r);
            double* out_row = A2.data() + r * n;
            for (std::size_t j = 0; j < width; ++j) {
                if (g[j] <= 0 || w[j] == 0.0) continue;
                const double* a = A.data() + j * n;
                for (std::size_t i = 0; i < n; ++i) out_row[i] += w[j] * a[i];
                c2[r] += w[j] * c[j];
            }
        }
        A.swap(A2);
        c.swap(c2);
    }

    // sign (a x + c) >= s ||a||  as  -sign a . x + ||a|| s <= sign c, scaled by 2^-e (e: the exponent of the row's
    // largest entry over x) where that is exact for every entry.
    const std::size_t m = keys.size(), s = n;
    DenseLP lp;
    lp.m = m;
    lp.n = n + 1;
    lp.A.assign(m * lp.n, 0.0);
    lp.row_lo.assign(m, -rnd::kInf);
    lp.row_hi.assign(m, 0.0);
    lp.col_lo.assign(lo, lo + n);
    lp.col_hi.assign(hi, hi + n);
    lp.col_lo.push_back(-1.0);
    lp.col_hi.push_back(1.0);
    lp.c.assign(lp.n, 0.0);
    lp.c[s] = -1.0;
    for (std::size_t i = 0; i < m; ++i) {
        const double* a = rows_A.data() + i * n;
        double f = std::ldexp(1.0, -std::ilogb(tops[i]));
        for (std::size_t t = 0; t < n && f != 1.0; ++t)
            if ((a[t] * f) / f != a[t]) f = 1.0;
        if ((rows_c[i] * f) / f != rows_c[i] || (norms[i] * f) / f != norms[i]) f = 1.0;
        double* row = lp.A.data() + i * lp.n;
        for (std::size_t t = 0; t < n; ++t) row[t] = -a[t] * f;
        row[s] = norms[i] * f;
        lp.row_hi[i] = rows_c[i] * f;
    }
    for (std::size_t j = 0; j < lp.n; ++j)
        if (!std::isfinite(lp.col_lo[j]) || !std::isfinite(lp.col_hi[j])) return out;

    const MarginSolve solved = max_margin(lp, s, interior_tol, deadline);
    out.iterations = solved.iterations;
    if (solved.empty) {
        out.verdict = 2;
        out.reason = solved.reason;
        for (std::size_t i = 0; i < m; ++i)
            if (solved.proof[i] != 0.0) out.proof.push_back(keys[i]);
        return out;
    }
    if (solved.x.empty() || !(solved.s > interior_tol)) return out;
    // The point: clipped to the box, pulled toward its centre by at most s / 2, its margin recomputed.
    std::vector<double> y(n), toward(n);
    double dist2 = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double x = std::min(std::max(solved.x[i], lo[i]), hi[i]);
        y[i] = x;
        toward[i] = (lo[i] + hi[i]) / 2.0 - x;
        dist2 += toward[i] * toward[i];
    }
    const double dist = std::sqrt(dist2);
    const double step = dist == 0.0 ? 0.5 : std::min(0.5, solved.s / (2.0 * dist));
    double margin = rnd::kInf;
    for (std::size_t i = 0; i < n; ++i) {
        y[i] += step * toward[i];
        margin = std::min({margin, y[i] - lo[i], hi[i] - y[i]});
    }
    for (std::size_t i = 0; i < m; ++i) {
        const double* a = rows_A.data() + i * n;
        double z = rows_c[i];
        for (std::size_t t = 0; t < n; ++t) z += a[t] * y[t];
        const double distance = z / norms[i];
        if (!(distance >= margin)) margin = distance;  // NaN (an overflowed z) carries to the test below
    }
    if (!(margin > interior_tol)) return out;
    out.verdict = 1;
    out.margin = margin;
    out.x = std::move(y);
    return out;
}

}  // namespace lipmiq
