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

namespace {

// The triangle relaxation of a node as a dense LP (relaxed.py states it).  Columns: x, then per layer k <= last its
// z (all neurons below `last`; at it the split ones, and the open ones too when `open_last`) and, below `last`, an
// a for each neuron not inactive (an inactive one's a is 0: no column, which changes no optimum); then the margin s
// when `margin`.  Rows: z - W a_prev = b, then (k < last) a - z = 0 on, a - z >= 0 and a - slope z <= -slope l
// open, then the split rows: z - s >= 0 with the margin (z >= 0 without it, and z <= 0, are z's column bounds, or
// rows where those would cross z's own).  (An active neuron's a stays a column of its own: as its z, it would sit
// in the next layer's defining rows and leave the crash basis.)
struct RelaxedLP {
    bool built = false;  // false: a bound overflowed, no LP
    DenseLP lp;
    std::vector<std::pair<std::size_t, std::size_t>> crash;  // each z basic in its own defining row
    std::vector<std::vector<std::size_t>> neurons;           // per layer, the neurons with a z column...
    std::vector<std::size_t> z;                              // ... from this column on
    std::size_t s = 0;                                       // the margin's column (when `margin`)
};

RelaxedLP relaxed_lp(const Network& net, const double* lo, const double* hi,
                     const std::vector<const std::int8_t*>& status, const std::vector<const std::int8_t*>& states,
                     const std::vector<LayerBounds>& forward, std::size_t last, bool margin, bool open_last) {
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    RelaxedLP out;
    const std::size_t n0 = net.in_dim();
    // act[k][j]: the column of relu(z_kj) for k < last (kNone: identically 0); layer 0 reads x's columns
    std::vector<std::vector<std::size_t>> act;
    std::vector<double> col_lo(lo, lo + n0), col_hi(hi, hi + n0);
    // A split is a row of its own only where it needs the margin (z - s >= 0) or would cross z's bounds (the LP
    // then proves the node empty); elsewhere it is z's column bound (z >= 0, z <= 0): fewer rows, the same LP.
    auto split_row = [margin](std::int8_t side, double l, double u) {
        return side > 0 ? margin || u < 0.0 : side == 0 && l > 0.0;
    };
    std::size_t cols = n0, rows = 0;
    for (std::size_t k = 0; k <= last; ++k) {
        const std::size_t width = net.W[k].rows;
        const LayerBounds& f = forward[k];
        std::vector<std::size_t> neurons;
        for (std::size_t j = 0; j < width; ++j)
            if (k < last || states[k][j] >= 0 || (open_last && status[k][j] < 0)) neurons.push_back(j);
        out.z.push_back(cols);
        for (std::size_t j : neurons) {
            col_lo.push_back(f.lo[j]);
            col_hi.push_back(f.hi[j]);
            if (!split_row(states[k][j], f.lo[j], f.hi[j])) {  // the split as z's own bound
                if (states[k][j] > 0) col_lo.back() = std::max(col_lo.back(), 0.0);
                if (states[k][j] == 0) col_hi.back() = std::min(col_hi.back(), 0.0);
            }
        }
        cols += neurons.size();
        rows += neurons.size();
        if (k < last) {
            const std::int8_t* g = status[k];
            std::vector<std::size_t> a(width, kNone);
            for (std::size_t j = 0; j < width; ++j) {
                if (g[j] == 0) continue;
                a[j] = cols++;
                col_lo.push_back(g[j] == 1 ? std::max(f.lo[j], 0.0) : 0.0);
                col_hi.push_back(std::max(f.hi[j], 0.0));
                rows += g[j] == 1 ? 1 : 1 + (std::max(f.hi[j], 0.0) > std::min(f.lo[j], 0.0));
            }
            act.push_back(std::move(a));
        }
        for (std::size_t j : neurons) rows += split_row(states[k][j], f.lo[j], f.hi[j]);
        out.neurons.push_back(std::move(neurons));
    }
    if (margin) {
        out.s = cols++;
        col_lo.push_back(-1.0);
        col_hi.push_back(1.0);
    }
    for (std::size_t j = 0; j < cols; ++j)
        if (!std::isfinite(col_lo[j]) || !std::isfinite(col_hi[j])) return out;  // overflowed bounds: no LP

    DenseLP& lp = out.lp;
    lp.m = rows;
    lp.n = cols;
    lp.A.assign(rows * cols, 0.0);
    lp.row_lo.assign(rows, 0.0);
    lp.row_hi.assign(rows, 0.0);
    lp.col_lo = std::move(col_lo);
    lp.col_hi = std::move(col_hi);
    lp.c.assign(cols, 0.0);
    if (margin) lp.c[out.s] = -1.0;  // max s as min -s
    std::size_t r = 0;
    auto row = [&](double rlo, double rhi) {
        if (r >= rows) throw std::logic_error("relaxed_lp: more rows than counted");
        lp.row_lo[r] = rlo;
        lp.row_hi[r] = rhi;
        return lp.A.data() + (r++) * cols;
    };
    for (std::size_t k = 0; k <= last; ++k) {
        const std::vector<std::size_t>& neurons = out.neurons[k];
        const std::size_t z = out.z[k];
        const Matrix& W = net.W[k];
        for (std::size_t t = 0; t < neurons.size(); ++t) {  // z - W a_prev = b (exact data)
            const std::size_t j = neurons[t];
            double* a = row(net.b[k][j], net.b[k][j]);
            for (std::size_t i = 0; i < W.cols; ++i) {
                const std::size_t in = k == 0 ? i : act[k - 1][i];
                if (in != kNone) a[in] = -W.row(j)[i];
            }
            a[z + t] = 1.0;
            out.crash.emplace_back(r - 1, z + t);  // z starts basic in its own row
        }
        if (k < last) {
            const std::int8_t* g = status[k];
            const LayerBounds& f = forward[k];
            for (std::size_t j = 0; j < W.rows; ++j) {
                if (g[j] == 0) continue;
                double* a = row(0.0, g[j] == 1 ? 0.0 : kInf);  // a - z = 0 (on), a - z >= 0 (free)
                a[act[k][j]] = 1.0;
                a[z + j] = -1.0;
                if (g[j] == 1) continue;
                // a <= slope (z - l), slope >= u / (u - l): the width rounded down, the quotient up (on [l, u]
                // widened to contain 0, so the chord bounds relu whatever bounds an open neuron comes with)
                const double u = std::max(f.hi[j], 0.0), l = std::min(f.lo[j], 0.0);
                if (u > l) {
                    const double slope = rnd::up(u / rnd::down(u - l));
                    double* b = row(-kInf, rnd::up(-slope * l));
                    b[act[k][j]] = 1.0;
                    b[z + j] = -slope;
                }
            }
        }
        for (std::size_t t = 0; t < neurons.size(); ++t) {
            const std::size_t j = neurons[t];
            const std::int8_t side = states[k][j];
            if (!split_row(side, forward[k].lo[j], forward[k].hi[j])) continue;
            double* a = side > 0 ? row(0.0, kInf) : row(-kInf, 0.0);  // z - s >= 0 (z >= 0), z <= 0
            a[z + t] = 1.0;
            if (side > 0 && margin) a[out.s] = -1.0;
        }
    }
    if (r != rows) throw std::logic_error("relaxed_lp: row count");
    out.built = true;
    return out;
}

// The relaxation through the first hidden layer alone, with its pre-activations substituted: columns x in the box,
// one row w_i.x per split neuron i (sides: its split, z_i >= 0 or z_i <= 0, and its bounds, each minus b_i rounded
// outward).  The same polyhedron's projection on x as relaxed_lp's with last = 0 up to that rounding, with rows
// for the split neurons only: a tenth of the rows, and each simplex pivot costs rows squared.
struct FirstLayerLP {
    bool built = false;    // false: a NaN bound, no LP
    bool crossed = false;  // a row's sides cross: the node has no point
    DenseLP lp;
};

FirstLayerLP first_layer_lp(const Network& net, const double* lo, const double* hi, const std::int8_t* states,
                            const LayerBounds& f) {
    FirstLayerLP out;
    DenseLP& lp = out.lp;
    const Matrix& W = net.W[0];
    lp.n = W.cols;
    lp.col_lo.assign(lo, lo + lp.n);
    lp.col_hi.assign(hi, hi + lp.n);
    lp.c.assign(lp.n, 0.0);
    for (std::size_t j = 0; j < W.rows; ++j) {
        if (states[j] < 0) continue;
        const double b = net.b[0][j];
        double row_lo = rnd::sub_down(f.lo[j], b), row_hi = rnd::sub_up(f.hi[j], b);
        if (states[j] > 0) {
            row_lo = std::max(row_lo, -b);  // z >= 0
        } else {
            row_hi = std::min(row_hi, -b);  // z <= 0
        }
        lp.A.insert(lp.A.end(), W.row(j), W.row(j) + W.cols);
        lp.row_lo.push_back(row_lo);
        lp.row_hi.push_back(row_hi);
        ++lp.m;
        if (std::isnan(row_lo) || std::isnan(row_hi)) return out;
        out.crossed |= row_lo > row_hi;
    }
    out.built = true;
    return out;
}

}  // namespace

RelaxedVerdict relaxed_lp_empty(const Network& net, const double* lo, const double* hi,
                                const std::vector<const std::int8_t*>& status,
                                const std::vector<const std::int8_t*>& states,
                                const std::vector<LayerBounds>& forward, std::size_t last, double interior_tol,
                                const Deadline& deadline) {
    RelaxedVerdict out;
    const rnd::FloatEnvironment environment;
    const RelaxedLP R = relaxed_lp(net, lo, hi, status, states, forward, last, true, false);
    if (!R.built) return out;
    const MarginSolve solved = max_margin(R.lp, R.s, interior_tol, deadline, R.crash);
    out.empty = solved.empty;
    out.reason = solved.reason;
    out.iterations = solved.iterations;
    out.s = solved.s;
    return out;
}

RelaxedBounds relaxed_lp_bounds(const Network& net, const double* lo, const double* hi,
                                const std::vector<const std::int8_t*>& status,
                                const std::vector<const std::int8_t*>& states,
                                const std::vector<LayerBounds>& forward, std::size_t first, bool signs,
                                const Deadline& deadline) {
    RelaxedBounds out;
    out.bounds = forward;
    const std::size_t last = forward.size() - 1;
    const rnd::FloatEnvironment environment;
    std::vector<LinearForm> forms;
    std::vector<std::pair<std::size_t, std::size_t>> owner;  // (layer, neuron) of each form
    FormBounds b;
    if (last == 0) {
        const FirstLayerLP F = first_layer_lp(net, lo, hi, states[0], forward[0]);
        out.empty = F.built && F.crossed;
        if (!F.built || F.crossed || F.lp.m == 0) return out;  // (no split: the box's own bounds, `forward`'s)
        const Matrix& W = net.W[0];
        for (std::size_t j = 0; j < W.rows; ++j) {
            if (status[0][j] >= 0) continue;
            LinearForm f;
            for (std::size_t i = 0; i < W.cols; ++i)
                if (W.row(j)[i] != 0.0) f.index.push_back(i), f.value.push_back(W.row(j)[i]);
            f.offset = net.b[0][j];
            forms.push_back(std::move(f));
            owner.emplace_back(0, j);
        }
        b = form_bounds(F.lp, forms, signs, deadline);
    } else {
        const RelaxedLP R = relaxed_lp(net, lo, hi, status, states, forward, last, false, true);
        if (!R.built) return out;
        for (std::size_t k = first; k <= last; ++k)
            for (std::size_t t = 0; t < R.neurons[k].size(); ++t)
                if (status[k][R.neurons[k][t]] < 0) {
                    forms.push_back(LinearForm{{R.z[k] + t}, {1.0}, 0.0});
                    owner.emplace_back(k, R.neurons[k][t]);
                }
        b = form_bounds(R.lp, forms, signs, deadline, R.crash);
    }
    out.empty = b.empty;
    out.solves = b.solves;
    out.iterations = b.iterations;
    for (std::size_t t = 0; t < b.lo.size() && !out.empty; ++t) {
        const auto [k, j] = owner[t];
        out.bounds[k].lo[j] = std::max(out.bounds[k].lo[j], b.lo[t]);
        out.bounds[k].hi[j] = std::min(out.bounds[k].hi[j], b.hi[t]);
        out.empty = out.bounds[k].lo[j] > out.bounds[k].hi[j];  // both hold on every point: there is none
    }
    return out;
}

}  // namespace lipmiq
