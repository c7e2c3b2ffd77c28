// Emptiness of a branch-and-bound node's set on the triangle relaxation (python/lipmiq/certify/relaxed.py
// states the polyhedron and why max s <= 0, or no point at all, proves the node empty).
//
// The LP is small and dense (on [8, 20, 20, 1] about 70 rows and 55 columns) and a search solves tens of
// thousands of them: through HiGHS each cost about 2 ms, mostly building the model in Python and setting up
// the solver, against tens of microseconds of arithmetic.  Here it is built and solved in place by a dense
// bounded dual simplex (every column is boxed, so the slack basis with each column at the bound its cost
// prefers is dual feasible from the start and no phase 1 is needed).  The simplex only proposes multipliers:
// the verdict "empty" rests on weak duality evaluated with a rounding allowance (`dual_bound`), the same
// certificate the HiGHS path checked, so a wrong pivot can cost a proof but never give a false one.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "core.hpp"
#include "rounding.hpp"

namespace lipmiq {

namespace {

constexpr double kInf = rnd::kInf;

// min c.x over {row_lo <= A x <= row_hi, col_lo <= x <= col_hi}, A dense m x n row-major.
struct DenseLP {
    std::size_t m = 0, n = 0;
    std::vector<double> A, row_lo, row_hi, col_lo, col_hi, c;
};

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
        if ((y[i] > 0.0 && std::isinf(lp.row_lo[i])) || (y[i] < 0.0 && std::isinf(lp.row_hi[i]))) y[i] = 0.0;
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

// The dense bounded dual simplex on min c.x, A x - w = 0, w in [row_lo, row_hi], x in [col_lo, col_hi]
// (every column finite).  Variables 0..n-1 are x, n..n+m-1 the row activities w.
struct DualSimplex {
    const DenseLP& lp;
    std::size_t m, n, N;
    std::vector<double> lo, hi, v, d, Binv;  // bounds and values of all variables, reduced costs, inverse basis
    std::vector<std::int64_t> basis, pos;    // basic variable per position; position per variable (-1: nonbasic)
    std::vector<double> rho, alpha, col;     // pivot row of Binv, pivot row over all variables, entering column

    explicit DualSimplex(const DenseLP& p) : lp(p), m(p.m), n(p.n), N(p.n + p.m) {
        lo.assign(N, 0.0);
        hi.assign(N, 0.0);
        for (std::size_t j = 0; j < n; ++j) lo[j] = lp.col_lo[j], hi[j] = lp.col_hi[j];
        for (std::size_t i = 0; i < m; ++i) lo[n + i] = lp.row_lo[i], hi[n + i] = lp.row_hi[i];
        basis.resize(m);
        pos.assign(N, -1);
        Binv.assign(m * m, 0.0);
        for (std::size_t i = 0; i < m; ++i) {  // the slack basis: B = -I
            basis[i] = static_cast<std::int64_t>(n + i);
            pos[n + i] = static_cast<std::int64_t>(i);
            Binv[i * m + i] = -1.0;
        }
        v.assign(N, 0.0);
        for (std::size_t j = 0; j < n; ++j) v[j] = lp.c[j] < 0.0 ? hi[j] : lo[j];
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

}  // namespace

RelaxedVerdict relaxed_lp_empty(const Network& net, const double* lo, const double* hi,
                                const std::vector<const std::int8_t*>& status,
                                const std::vector<const std::int8_t*>& states,
                                const std::vector<LayerBounds>& forward, std::size_t last, double interior_tol,
                                const Deadline& deadline) {
    RelaxedVerdict out;
    const rnd::FloatEnvironment environment;
    const std::size_t n0 = net.in_dim();
    // Columns: x, then per layer k <= last its z (all neurons below `last`, the split ones at it) and, below
    // `last`, its a; then s.  Rows: z - W a_prev = b, then (k < last) a - z = 0 on, a - z >= 0 and
    // a - slope z <= -slope l free, then the split rows z - s >= 0 (active) and z <= 0 (inactive).
    struct Layout {
        std::size_t input, z, a, width;
        std::vector<std::size_t> neurons;
    };
    std::vector<Layout> layout;
    std::vector<double> col_lo(lo, lo + n0), col_hi(hi, hi + n0);
    std::size_t cols = n0, input = 0, rows = 0;
    for (std::size_t k = 0; k <= last; ++k) {
        Layout L;
        L.width = net.W[k].rows;
        const LayerBounds& f = forward[k];
        for (std::size_t j = 0; j < L.width; ++j)
            if (k < last || states[k][j] >= 0) L.neurons.push_back(j);
        L.input = input;
        L.z = cols;
        for (std::size_t j : L.neurons) col_lo.push_back(f.lo[j]), col_hi.push_back(f.hi[j]);
        cols += L.neurons.size();
        rows += L.neurons.size();
        L.a = cols;
        if (k < last) {
            const std::int8_t* g = status[k];
            for (std::size_t j = 0; j < L.width; ++j) {
                col_lo.push_back(g[j] == 1 ? std::max(f.lo[j], 0.0) : 0.0);
                col_hi.push_back(g[j] == 0 ? 0.0 : std::max(f.hi[j], 0.0));
                rows += g[j] == 1 ? 1 : g[j] < 0 ? 1 + (std::max(f.hi[j], 0.0) > std::min(f.lo[j], 0.0)) : 0;
            }
            cols += L.width;
            input = L.a;
        }
        for (std::size_t j : L.neurons) rows += states[k][j] >= 0;
        layout.push_back(std::move(L));
    }
    const std::size_t s = cols++;
    col_lo.push_back(-1.0);
    col_hi.push_back(1.0);
    for (std::size_t j = 0; j < cols; ++j)
        if (!std::isfinite(col_lo[j]) || !std::isfinite(col_hi[j])) return out;  // overflowed bounds: no LP

    DenseLP lp;
    lp.m = rows;
    lp.n = cols;
    lp.A.assign(rows * cols, 0.0);
    lp.row_lo.assign(rows, 0.0);
    lp.row_hi.assign(rows, 0.0);
    lp.col_lo = std::move(col_lo);
    lp.col_hi = std::move(col_hi);
    lp.c.assign(cols, 0.0);
    lp.c[s] = -1.0;  // max s as min -s
    std::size_t r = 0;
    auto row = [&](double rlo, double rhi) {
        if (r >= rows) throw std::logic_error("relaxed_lp_empty: more rows than counted");
        lp.row_lo[r] = rlo;
        lp.row_hi[r] = rhi;
        return lp.A.data() + (r++) * cols;
    };
    for (std::size_t k = 0; k <= last; ++k) {
        const Layout& L = layout[k];
        const Matrix& W = net.W[k];
        for (std::size_t t = 0; t < L.neurons.size(); ++t) {  // z - W v = b (exact data)
            const std::size_t j = L.neurons[t];
            double* a = row(net.b[k][j], net.b[k][j]);
            for (std::size_t i = 0; i < W.cols; ++i) a[L.input + i] = -W.row(j)[i];
            a[L.z + t] = 1.0;
        }
        if (k < last) {
            const std::int8_t* g = status[k];
            const LayerBounds& f = forward[k];
            for (std::size_t j = 0; j < L.width; ++j) {
                if (g[j] == 1 || g[j] < 0) {  // a - z = 0 (on), a - z >= 0 (free)
                    double* a = row(0.0, g[j] == 1 ? 0.0 : kInf);
                    a[L.a + j] = 1.0;
                    a[L.z + j] = -1.0;
                }
                // a <= slope (z - l), slope >= u / (u - l): the width rounded down, the quotient up (on [l, u]
                // widened to contain 0, so the chord bounds relu whatever bounds an open neuron comes with)
                const double u = std::max(f.hi[j], 0.0), l = std::min(f.lo[j], 0.0);
                if (g[j] < 0 && u > l) {
                    const double slope = rnd::up(u / rnd::down(u - l));
                    double* a = row(-kInf, rnd::up(-slope * l));
                    a[L.a + j] = 1.0;
                    a[L.z + j] = -slope;
                }
            }
        }
        for (std::size_t t = 0; t < L.neurons.size(); ++t) {
            const std::int8_t side = states[k][L.neurons[t]];
            if (side < 0) continue;
            double* a = side > 0 ? row(0.0, kInf) : row(-kInf, 0.0);  // z - s >= 0, z <= 0
            a[L.z + t] = 1.0;
            if (side > 0) a[s] = -1.0;
        }
    }
    if (r != rows) throw std::logic_error("relaxed_lp_empty: row count");

    DualSimplex S(lp);
    const std::size_t m = lp.m, n = lp.n, N = S.N;
    constexpr double kPrimalTol = 1e-9, kPivotTol = 1e-9, kDualTol = 1e-12;
    const std::size_t max_iterations = 20 * (m + n) + 100;
    // A proof from multipliers y or -y (a bound >= 0 on min -s, or > 0 on min 0: Farkas), y first scaled by
    // a power of two (exact) so its largest entry is about 1, away from underflow.
    const std::vector<double> zero(n, 0.0);
    auto proves = [&](std::vector<double> y, const std::vector<double>& c, bool strict) {
        double top = 0.0;
        for (double v : y) top = std::max(top, std::fabs(v));
        if (!(top > 0.0) || !std::isfinite(top)) return false;
        const double f = std::ldexp(1.0, -std::ilogb(top));
        for (double& v : y) v *= f;
        for (int sign = 0; sign < 2; ++sign) {
            const double b = dual_bound(lp, c, y);
            if (strict ? b > 0.0 : b >= 0.0) return true;
            for (double& v : y) v = -v;
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
