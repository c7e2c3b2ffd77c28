// Emptiness of a branch-and-bound node's set on the triangle relaxation (python/lipmiq/certify/relaxed.py
// states the polyhedron and why max s <= 0, or no point at all, proves the node empty).
//
// The LP is small and dense (on [8, 20, 20, 1] about 70 rows and 55 columns) and a search solves tens of
// thousands of them: through HiGHS each cost about 2 ms, mostly building the model in Python and setting up
// the solver, against tens of microseconds of arithmetic.  Here it is built and solved in place by a dense
// bounded dual simplex (every column is boxed, so the slack basis with each column at the bound its cost
// prefers is dual feasible from the start and no phase 1 is needed: dense_lp.cpp).  The simplex only proposes
// multipliers: the verdict "empty" rests on weak duality evaluated with a rounding allowance (`dual_bound`), the
// same certificate the HiGHS path checked, so a wrong pivot can cost a proof but never give a false one.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "core.hpp"
#include "dense_lp.hpp"
#include "rounding.hpp"

namespace lipmiq {

namespace {
constexpr double kInf = rnd::kInf;
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
    std::vector<std::pair<std::size_t, std::size_t>> crash;
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
            crash.emplace_back(r - 1, L.z + t);  // z starts basic in its own row
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

    const MarginSolve solved = max_margin(lp, s, interior_tol, deadline, crash);
    out.empty = solved.empty;
    out.reason = solved.reason;
    out.iterations = solved.iterations;
    out.s = solved.s;
    return out;
}

}  // namespace lipmiq
