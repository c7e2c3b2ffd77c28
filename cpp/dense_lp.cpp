// The dense LP machinery of dense_lp.hpp.
//
// The simplex only proposes multipliers: the verdict "empty" rests on weak duality evaluated with a rounding
// allowance (`dual_bound`), so a wrong pivot can cost a proof but never give a false one.  Every column is
// boxed, so the slack basis with each column at the bound its cost prefers is dual feasible from the start
// and no phase 1 is needed.
#include "dense_lp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "rounding.hpp"

namespace lipmiq {

namespace {

constexpr double kInf = rnd::kInf;

// The dense bounded dual simplex on min c.x, A x - w = 0, w in [row_lo, row_hi], x in [col_lo, col_hi]
// (every column finite).  Variables 0..n-1 are x, n..n+m-1 the row activities w.
struct DualSimplex {
    const DenseLP& lp;
    std::size_t m, n, N;
    std::vector<double> lo, hi, v, d, Binv;  // bounds and values of all variables, reduced costs, inverse basis
    std::vector<std::int64_t> basis, pos;    // basic variable per position; position per variable (-1: nonbasic)
    std::vector<double> rho, alpha, col;     // pivot row of Binv, pivot row over all variables, entering column

    // The slack basis, except that each (row i, column j) of `crash` makes x_j basic in row i (its slack w_i
    // nonbasic at its lower bound).  A crash column has coefficient 1 in its row, 0 in the other crash rows and
    // no cost; then, with crash rows first, B = [[I, 0], [C, -I]] is its own inverse, and y = 0 keeps the start
    // dual feasible.  Pairs that break these conditions are left out.
    DualSimplex(const DenseLP& p, const std::vector<std::pair<std::size_t, std::size_t>>& crash)
        : lp(p), m(p.m), n(p.n), N(p.n + p.m) {
        lo.assign(N, 0.0);
        hi.assign(N, 0.0);
        for (std::size_t j = 0; j < n; ++j) lo[j] = lp.col_lo[j], hi[j] = lp.col_hi[j];
        for (std::size_t i = 0; i < m; ++i) lo[n + i] = lp.row_lo[i], hi[n + i] = lp.row_hi[i];
        basis.resize(m);
        pos.assign(N, -1);
        for (std::size_t i = 0; i < m; ++i) {
            basis[i] = static_cast<std::int64_t>(n + i);
            pos[n + i] = static_cast<std::int64_t>(i);
        }
        std::vector<std::int64_t> crashed(m, -1);
        for (const auto& [i, j] : crash)
            if (i < m && j < n && lp.A[i * n + j] == 1.0 && lp.c[j] == 0.0 && std::isfinite(lo[n + i]) &&
                pos[j] < 0 && crashed[i] < 0)
                crashed[i] = static_cast<std::int64_t>(j), pos[j] = 0;  // (pos fixed below)
        for (std::size_t i = 0; i < m; ++i)  // a crash column must vanish in the other crash rows
            for (std::size_t r = 0; r < m && crashed[i] >= 0; ++r)
                if (r != i && crashed[r] >= 0 && lp.A[r * n + crashed[i]] != 0.0) pos[crashed[i]] = -1, crashed[i] = -1;
        Binv.assign(m * m, 0.0);
        v.assign(N, 0.0);
        for (std::size_t i = 0; i < m; ++i) {
            if (crashed[i] < 0) {
                Binv[i * m + i] = -1.0;
                continue;
            }
            const std::int64_t j = crashed[i];
            pos[n + i] = -1;
            v[n + i] = lo[n + i];
            basis[i] = j;
            pos[j] = static_cast<std::int64_t>(i);
            Binv[i * m + i] = 1.0;
            for (std::size_t r = 0; r < m; ++r)  // rows outside the crash: Binv[r][i] = A[r][j]
                if (crashed[r] < 0) Binv[r * m + i] = lp.A[r * n + j];
        }
        for (std::size_t j = 0; j < n; ++j)
            if (pos[j] < 0) v[j] = lp.c[j] < 0.0 ? hi[j] : lo[j];
        refresh();
    }

    // Multipliers y = B^-T c_B (the row activities' reduced costs).
    std::vector<double> duals() const {
        std::vector<double> y(m, 0.0);
        for (std::size_t p = 0; p < m; ++p) {
            const std::int64_t b = basis[p];
            const double cb = b < static_cast<std::int64_t>(n) ? lp.c[b] : 0.0;
            if (cb == 0.0) continue;
            for (std::size_t i = 0; i < m; ++i) y[i] += cb * Binv[p * m + i];
        }
        return y;
    }

    // Basic values and reduced costs from scratch: x_B = -Binv (A x_N - w_N); d_j = c_j - a_j.y, d_w = y.
    void refresh() {
        std::vector<double> t(m, 0.0);
        for (std::size_t i = 0; i < m; ++i) {
            const double* a = lp.A.data() + i * n;
            double s = 0.0;
            for (std::size_t j = 0; j < n; ++j)
                if (pos[j] < 0) s += a[j] * v[j];
            if (pos[n + i] < 0) s -= v[n + i];
            t[i] = s;
        }
        for (std::size_t p = 0; p < m; ++p) {
            double s = 0.0;
            for (std::size_t i = 0; i < m; ++i) s += Binv[p * m + i] * t[i];
            v[basis[p]] = -s;
        }
        const std::vector<double> y = duals();
        d.assign(N, 0.0);
        for (std::size_t j = 0; j < n; ++j) d[j] = lp.c[j];
        for (std::size_t i = 0; i < m; ++i) {
            const double* a = lp.A.data() + i * n;
            for (std::size_t j = 0; j < n; ++j) d[j] -= a[j] * y[i];
            d[n + i] = y[i];
        }
        for (std::size_t p = 0; p < m; ++p) d[basis[p]] = 0.0;
    }
};

// Whether row i's multiplier y_i would rest on an infinite side (y_i > 0 needs row_lo, y_i < 0 row_hi): such a
// multiplier is dropped, by dual_bound and from the rows a proof reports alike.
bool on_infinite_side(const DenseLP& lp, std::size_t i, double y) {
    return (y > 0.0 && std::isinf(lp.row_lo[i])) || (y < 0.0 && std::isinf(lp.row_hi[i]));
}

}  // namespace

// A rigorous lower bound on min c.x over the LP's polyhedron from any multipliers y, by weak duality:
//   c.x = y.(A x) + r.x >= sum_i (y_i row_lo_i if y_i > 0 else y_i row_hi_i) + sum_j min(r_j col_lo_j, r_j col_hi_j)
// with r = c - A^T y.  A multiplier on an infinite side is dropped; r_j != 0 on an infinite column bound gives
// -inf.  The float64 evaluation is covered by 4 u (m + n + 4) times the sum of the magnitudes of the terms
// (Higham's gamma for the sums in r and in the total, doubled), and underflow by (m + n + 2)(1 + sum_j |x_j|max)
// smallest subnormals (each product off by at most half of one, an error in r_j weighing up to |x_j|max).
// NaN anywhere gives -inf.  `c`: the objective (n entries).
double dual_bound(const DenseLP& lp, const std::vector<double>& c, std::vector<double> y) {
    const std::size_t m = lp.m, n = lp.n;
    std::vector<double> r(c), reach(n);
    for (std::size_t j = 0; j < n; ++j) reach[j] = std::fabs(c[j]);
    double value = 0.0, scale = 0.0, mass = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
        if (on_infinite_side(lp, i, y[i])) y[i] = 0.0;
        if (y[i] == 0.0) continue;
        const double side = y[i] > 0.0 ? lp.row_lo[i] : lp.row_hi[i];
        value += y[i] * side;
        scale += std::fabs(y[i]) * std::fabs(side);
        const double* a = lp.A.data() + i * n;
        for (std::size_t j = 0; j < n; ++j) {
            const double t = a[j] * y[i];
            r[j] -= t;
            reach[j] += std::fabs(t);
        }
    }
    for (std::size_t j = 0; j < n; ++j) {
        // every column counts in the allowance: a float r_j of 0 may be the rounding of a nonzero sum
        const double size = std::max(std::fabs(lp.col_lo[j]), std::fabs(lp.col_hi[j]));
        scale += reach[j] * size;
        mass += size;
        if (r[j] == 0.0) continue;
        const double edge = r[j] > 0.0 ? lp.col_lo[j] : lp.col_hi[j];
        if (!std::isfinite(edge)) return -kInf;
        value += r[j] * edge;
    }
    const double allowance = 4.0 * rnd::kUnit * static_cast<double>(m + n + 4) * scale + rnd::underflow_allowance(m + n, mass);
    const double bound = value - allowance;
    return std::isnan(bound) ? -kInf : bound;
}

MarginSolve max_margin(const DenseLP& lp, std::size_t s, double interior_tol, const Deadline& deadline,
                       const std::vector<std::pair<std::size_t, std::size_t>>& crash) {
    MarginSolve out;
    const rnd::FloatEnvironment environment;
    DualSimplex S(lp, crash);
    const std::size_t m = lp.m, n = lp.n, N = S.N;
    constexpr double kPrimalTol = 1e-9, kPivotTol = 1e-9, kDualTol = 1e-12;
    const std::size_t max_iterations = 20 * (m + n) + 100;
    // A proof from multipliers y or -y (a bound >= 0 on min -s, or > 0 on min 0: Farkas), y and the objective
    // first scaled by the same power of two (exact: -e_s and 0 scale without rounding) so that y's largest entry
    // is about 1, away from underflow.  (Scaling y alone bounds another objective: it lost most proofs.)
    const std::vector<double> zero(n, 0.0);
    auto proves = [&](const std::vector<double>& y0, std::vector<double> c, bool strict) {
        double top = 0.0;
        for (double v : y0) top = std::max(top, std::fabs(v));
        if (!(top > 0.0) || !std::isfinite(top)) return false;
        const double f = std::ldexp(1.0, -std::ilogb(top));
        for (double& v : c) v *= f;
        for (const double sign : {f, -f}) {
            std::vector<double> y(m);
            for (std::size_t i = 0; i < m; ++i) {  // without the entries dual_bound drops: the proof's rows exactly
                y[i] = on_infinite_side(lp, i, sign * y0[i]) ? 0.0 : sign * y0[i];
            }
            const double b = dual_bound(lp, c, y);
            if (strict ? b > 0.0 : b >= 0.0) {
                out.proof = std::move(y);
                return true;
            }
        }
        return false;
    };
    auto certify_bound = [&](const std::vector<double>& y) { return proves(y, lp.c, false); };
    for (std::size_t it = 0; it < max_iterations; ++it) {
        out.iterations = static_cast<int>(it);
        if (it > 0 && it % 25 == 0) S.refresh();
        // The dual objective bounds max s from above at every iterate: below 0, try the proof at once.
        if (S.v[s] < 0.0 && certify_bound(S.duals())) {
            out.empty = true;
            out.reason = 1;
            return out;
        }
        if (deadline.passed()) return out;
        // Leaving: the basic variable farthest outside its bounds.
        std::size_t leave = m;
        double worst = 0.0;
        int sigma = 0;
        for (std::size_t p = 0; p < m; ++p) {
            const std::int64_t b = S.basis[p];
            const double x = S.v[b];
            const double below = S.lo[b] - x, above = x - S.hi[b];
            const double tol = kPrimalTol * (1.0 + std::fabs(x));
            if (below > tol && below > worst) worst = below, leave = p, sigma = 1;
            if (above > tol && above > worst) worst = above, leave = p, sigma = -1;
        }
        if (leave == m) {  // optimal
            out.s = S.v[s];
            out.x.assign(S.v.begin(), S.v.begin() + static_cast<std::ptrdiff_t>(n));
            if (S.v[s] > interior_tol) return out;
            if (certify_bound(S.duals())) out.empty = true, out.reason = 1;
            return out;
        }
        // Pivot row over every variable: alpha_j = rho . M_j with rho = row `leave` of Binv, M = [A, -I].
        S.rho.assign(S.Binv.begin() + leave * m, S.Binv.begin() + (leave + 1) * m);
        S.alpha.assign(N, 0.0);
        for (std::size_t i = 0; i < m; ++i) {
            const double ri = S.rho[i];
            if (ri == 0.0) continue;
            const double* a = lp.A.data() + i * n;
            for (std::size_t j = 0; j < n; ++j) S.alpha[j] += ri * a[j];
            S.alpha[n + i] = -ri;
        }
        // Dual ratio test: d_j + sigma t alpha_j keeps its sign for every nonbasic j.
        std::size_t enter = N;
        double best = kInf, size = 0.0;
        for (std::size_t j = 0; j < N; ++j) {
            if (S.pos[j] >= 0 || S.lo[j] == S.hi[j]) continue;
            const double a = sigma * S.alpha[j];
            if (std::fabs(a) <= kPivotTol) continue;
            const bool at_lower = S.v[j] == S.lo[j];
            double ratio;
            if (at_lower && a < 0.0) {
                ratio = std::max(S.d[j], 0.0) / -a;
            } else if (!at_lower && a > 0.0) {
                ratio = std::max(-S.d[j], 0.0) / a;
            } else {
                continue;
            }
            if (ratio < best - kDualTol || (ratio <= best + kDualTol && std::fabs(a) > size)) {
                best = ratio;
                size = std::fabs(a);
                enter = j;
            }
        }
        if (enter == N) {  // dual unbounded: Farkas multipliers along -sigma rho
            std::vector<double> ray(m);
            for (std::size_t i = 0; i < m; ++i) ray[i] = -sigma * S.rho[i];
            if (proves(ray, zero, true)) {
                out.empty = true;
                out.reason = 2;
            }
            return out;
        }
        // Entering column in the basis' coordinates: col = Binv M_enter.
        S.col.assign(m, 0.0);
        if (enter < n) {
            for (std::size_t p = 0; p < m; ++p) {
                double t = 0.0;
                const double* bi = S.Binv.data() + p * m;
                for (std::size_t i = 0; i < m; ++i) t += bi[i] * lp.A[i * n + enter];
                S.col[p] = t;
            }
        } else {
            for (std::size_t p = 0; p < m; ++p) S.col[p] = -S.Binv[p * m + (enter - n)];
        }
        const double pivot = S.col[leave];
        if (std::fabs(pivot) <= kPivotTol * 1e-3) return out;  // the row and the column disagree: no proof
        // Dual update, then the primal step that puts the leaving variable on its violated bound.
        const double t = best;
        for (std::size_t j = 0; j < N; ++j)
            if (S.pos[j] < 0) S.d[j] += sigma * t * S.alpha[j];
        const std::int64_t out_var = S.basis[leave];
        const double target = sigma > 0 ? S.lo[out_var] : S.hi[out_var];
        const double delta = (S.v[out_var] - target) / pivot;  // x_B = -... so x_r moves by -pivot * delta
        for (std::size_t p = 0; p < m; ++p) S.v[S.basis[p]] -= S.col[p] * delta;
        S.v[out_var] = target;
        S.v[enter] += delta;
        S.d[enter] = 0.0;
        S.d[out_var] = sigma * t;
        // Binv update: row `leave` divided by the pivot, the others eliminated against it.
        double* pr = S.Binv.data() + leave * m;
        for (std::size_t i = 0; i < m; ++i) pr[i] /= pivot;
        for (std::size_t p = 0; p < m; ++p) {
            if (p == leave || S.col[p] == 0.0) continue;
            const double f = S.col[p];
            double* bp = S.Binv.data() + p * m;
            for (std::size_t i = 0; i < m; ++i) bp[i] -= f * pr[i];
        }
        S.pos[out_var] = -1;
        S.pos[enter] = static_cast<std::int64_t>(leave);
        S.basis[leave] = static_cast<std::int64_t>(enter);
    }
    return out;
}

}  // namespace lipmiq
