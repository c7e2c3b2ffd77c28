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

// The triangle relaxation of a node as a dense LP (relaxed.py states it), the pre-activations of the layers before
// `last` substituted: z_kj = W_kj a_{k-1} + b_kj enters its neuron's rows instead of being a column with a row of
// its own (a third fewer rows on 64-48-48, and a dual simplex pivot costs the rows squared: the tightening's sign LPs
// 3.7 -> 2.5 ms a call).  Columns: x, then per layer k < last an a for each neuron not inactive (an inactive one's a
// is 0: no column), then the z of layer `last` (its split neurons, and the open ones too when `open_last`), then the
// margin s when `margin`.  Rows per layer k < last: on, a - W a_prev = b (a's column bounds are z's, the split's
// z >= 0 among them), and a - s >= 0 when split with the margin; open, a - W a_prev >= b (a >= z) and the chord
// a <= u (z - l) / (u - l) as c a - W a_prev <= b - l with c <= (u - l) / u (valid as a >= 0; with a >= z it keeps z
// within [l, u] too); inactive, l - b <= W a_prev <= min(u, 0) - b.  Layer `last`: z - W a_prev = b, then the split
// rows z - s >= 0 with the margin (z >= 0 without it, and z <= 0, are z's column bounds, or rows where those would
// cross z's own).  Data enter exactly (W, b, the float c); sides that need arithmetic are rounded outward.
struct RelaxedLP {
    bool built = false;    // false: a bound overflowed, no LP
    bool crossed = false;  // a decided neuron's split contradicts its bounds: the node has no point (no LP)
    DenseLP lp;
    std::vector<std::pair<std::size_t, std::size_t>> crash;  // each z of `last` basic in its own defining row
    std::vector<std::vector<std::size_t>> act;                // per layer < last, the column of each a (kNone: 0)
    std::vector<std::size_t> neurons;                         // the neurons of `last` with a z column...
    std::size_t z = 0;                                        // ... from this column on
    std::size_t s = 0;                                        // the margin's column (when `margin`)
};

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// The LP column of input i of layer k: x's own for layer 0, else the previous layer's a (`act`; kNone: identically 0).
std::size_t input_column(const std::vector<std::vector<std::size_t>>& act, std::size_t k, std::size_t i) {
    return k == 0 ? i : act[k - 1][i];
}

// z_kj = W_kj a_prev + b_kj as a form on the LP's columns (exact data; form_bounds adds the offset rounded outward).
LinearForm preactivation(const Network& net, const std::vector<std::vector<std::size_t>>& act, std::size_t k,
                         std::size_t j) {
    const Matrix& W = net.W[k];
    LinearForm f;
    for (std::size_t i = 0; i < W.cols; ++i) {
        const std::size_t in = input_column(act, k, i);
        if (in != kNone && W.row(j)[i] != 0.0) f.index.push_back(in), f.value.push_back(W.row(j)[i]);
    }
    f.offset = net.b[k][j];
    return f;
}

RelaxedLP relaxed_lp(const Network& net, const double* lo, const double* hi,
                     const std::vector<const std::int8_t*>& status, const std::vector<const std::int8_t*>& states,
                     const std::vector<LayerBounds>& forward, std::size_t last, bool margin, bool open_last) {
    RelaxedLP out;
    const std::size_t n0 = net.in_dim();
    std::vector<double> col_lo(lo, lo + n0), col_hi(hi, hi + n0);
    // A split of `last` is a row of its own only where it needs the margin (z - s >= 0) or would cross z's bounds
    // (the LP then proves the node empty); elsewhere it is z's column bound (z >= 0, z <= 0).
    auto split_row = [margin](std::int8_t side, double l, double u) {
        return side > 0 ? margin || u < 0.0 : side == 0 && l > 0.0;
    };
    // An open neuron's chord row c a - W a_prev <= b - l, c <= (u - l) / u: only where c stays below kChordMax
    // (u < (u - l) / kChordMax leaves a within [0, u], the chord's own maximum, as a's column bounds say, and gives
    // up z >= l, which the chord implied; capping c at kChordMax instead made solves fail on degenerate nodes).
    constexpr double kChordMax = 1e6;
    auto chord = [](double l, double u) {
        u = std::max(u, 0.0);
        return u > 0.0 && rnd::sub_up(u, std::min(l, 0.0)) <= kChordMax * u;
    };
    std::size_t cols = n0, rows = 0;
    for (std::size_t k = 0; k < last; ++k) {
        const std::size_t width = net.W[k].rows;
        const LayerBounds& f = forward[k];
        const std::int8_t* g = status[k];
        std::vector<std::size_t> a(width, kNone);
        for (std::size_t j = 0; j < width; ++j) {
            if (!std::isfinite(f.lo[j]) || !std::isfinite(f.hi[j])) return out;  // overflowed bounds: no LP
            if (f.lo[j] > f.hi[j]) out.crossed = true;  // certified bounds that cross: no point
            // (a split of a layer before `last` enters through its status, which the engine sets to the split's side)
            if (g[j] == 0) {  // no column; l <= z <= min(u, 0) as a row on a_prev
                if (f.lo[j] > 0.0) out.crossed = true;  // (inactive on the node: z <= 0)
                ++rows;
                continue;
            }
            a[j] = cols++;
            if (g[j] == 1) {
                col_lo.push_back(std::max(f.lo[j], 0.0));
                col_hi.push_back(f.hi[j]);
                if (f.hi[j] < col_lo.back()) out.crossed = true;
                rows += 1 + (margin && states[k][j] > 0);
            } else {
                col_lo.push_back(0.0);
                col_hi.push_back(std::max(f.hi[j], 0.0));
                rows += 1 + chord(f.lo[j], f.hi[j]);
            }
        }
        out.act.push_back(std::move(a));
    }
    {
        const LayerBounds& f = forward[last];
        for (std::size_t j = 0; j < net.W[last].rows; ++j) {
            if (f.lo[j] > f.hi[j]) out.crossed = true;
            if (states[last][j] >= 0 || (open_last && status[last][j] < 0)) out.neurons.push_back(j);
        }
        if (out.crossed) return out;
        out.z = cols;
        for (std::size_t j : out.neurons) {
            col_lo.push_back(f.lo[j]);
            col_hi.push_back(f.hi[j]);
            if (!split_row(states[last][j], f.lo[j], f.hi[j])) {  // the split as z's own bound
                if (states[last][j] > 0) col_lo.back() = std::max(col_lo.back(), 0.0);
                if (states[last][j] == 0) col_hi.back() = std::min(col_hi.back(), 0.0);
            }
            rows += 1 + split_row(states[last][j], f.lo[j], f.hi[j]);
        }
        cols += out.neurons.size();
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
    // a row's sign W_kj a_prev (exact data): layer 0 reads x's columns, the others the previous layer's a
    auto put_w = [&](double* a, std::size_t k, std::size_t j, double sign) {
        const Matrix& W = net.W[k];
        for (std::size_t i = 0; i < W.cols; ++i) {
            const std::size_t in = input_column(out.act, k, i);
            if (in != kNone) a[in] = sign * W.row(j)[i];
        }
    };
    for (std::size_t k = 0; k < last; ++k) {
        const std::int8_t* g = status[k];
        const LayerBounds& f = forward[k];
        for (std::size_t j = 0; j < net.W[k].rows; ++j) {
            const double b = net.b[k][j];
            const std::size_t col = out.act[k][j];
            if (g[j] == 0) {  // l - b <= W a_prev <= u - b (u <= 0), sides rounded outward
                put_w(row(rnd::sub_down(f.lo[j], b), rnd::sub_up(std::min(f.hi[j], 0.0), b)), k, j, 1.0);
                continue;
            }
            double* a = row(b, g[j] == 1 ? b : kInf);  // a - W a_prev = b (on), >= b (open: a >= z)
            put_w(a, k, j, -1.0);
            a[col] = 1.0;
            if (g[j] == 1) {
                if (margin && states[k][j] > 0) {  // a - s >= 0
                    double* m = row(0.0, kInf);
                    m[col] = 1.0;
                    m[out.s] = -1.0;
                }
                continue;
            }
            // c a - W a_prev <= b - l with c <= (u - l) / u (on [l, u] widened to contain 0, so the chord bounds
            // relu whatever bounds an open neuron comes with)
            const double u = std::max(f.hi[j], 0.0), l = std::min(f.lo[j], 0.0);
            if (chord(l, u)) {
                double* c = row(-kInf, rnd::sub_up(b, l));
                put_w(c, k, j, -1.0);
                c[col] = rnd::down(rnd::sub_down(u, l) / u);
            }
        }
    }
    {
        const std::size_t k = last;
        for (std::size_t t = 0; t < out.neurons.size(); ++t) {  // z - W a_prev = b (exact data)
            const std::size_t j = out.neurons[t];
            double* a = row(net.b[k][j], net.b[k][j]);
            put_w(a, k, j, -1.0);
            a[out.z + t] = 1.0;
            out.crash.emplace_back(r - 1, out.z + t);  // z starts basic in its own row
        }
        for (std::size_t t = 0; t < out.neurons.size(); ++t) {
            const std::size_t j = out.neurons[t];
            const std::int8_t side = states[k][j];
            if (!split_row(side, forward[k].lo[j], forward[k].hi[j])) continue;
            double* a = side > 0 ? row(0.0, kInf) : row(-kInf, 0.0);  // z - s >= 0 (z >= 0), z <= 0
            a[out.z + t] = 1.0;
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
    if (R.crossed) {
        out.empty = true;
        out.reason = 2;
        return out;
    }
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
    // the open neurons of the layers [first, end) as forms over the LP's columns
    auto open_preactivations = [&](const std::vector<std::vector<std::size_t>>& act, std::size_t end) {
        for (std::size_t k = first; k < end; ++k)
            for (std::size_t j = 0; j < net.W[k].rows; ++j)
                if (status[k][j] < 0) {
                    forms.push_back(preactivation(net, act, k, j));
                    owner.emplace_back(k, j);
                }
    };
    if (last == 0) {
        const FirstLayerLP F = first_layer_lp(net, lo, hi, states[0], forward[0]);
        out.empty = F.built && F.crossed;
        if (!F.built || F.crossed || F.lp.m == 0) return out;  // (no split: the box's own bounds, `forward`'s)
        open_preactivations({}, 1);
        b = form_bounds(F.lp, forms, signs, deadline);
    } else {
        const RelaxedLP R = relaxed_lp(net, lo, hi, status, states, forward, last, false, true);
        out.empty = R.crossed;
        if (!R.built) return out;
        open_preactivations(R.act, last);  // the layers before `last` are substituted: no z columns
        for (std::size_t t = 0; t < R.neurons.size(); ++t)
            if (status[last][R.neurons[t]] < 0) {
                forms.push_back(LinearForm{{R.z + t}, {1.0}, 0.0});
                owner.emplace_back(last, R.neurons[t]);
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
