// Certified upper bounds on the local Lipschitz constant: linear bound propagation through the forward
// network and its backward (gradient) graph, after Shi, Wang, Zhang, Kolter and Hsieh (NeurIPS 2022).
//
// WHAT IS BOUNDED.  For an output row c, g(x) = J(x)^T c over the first n_dir inputs, with every hidden
// derivative d_kj taken in the Clarke set of relu at z_kj(x) ({0}, {1}, or [0, 1] at 0).  For any
// activation region R with interior meeting the input set X (and agreeing with the forced states), J_R^T c
// is such a g at a point of R and X, so sup ||g||_{p*} over X and the Clarke choices bounds
// max_R ||J_R^T c||_{p*}.  The forward bounds set d = 0 where z <= 0 on X and d = 1 where z >= 0: a
// region with interior on which z_kj reaches 0 at an interior point has z_kj constant there, so the
// neuron's derivative multiplies a zero gradient and does not change J_R (sound_network.hpp).
//
// SOUNDNESS OF THE FLOAT ARITHMETIC (all rounding to nearest, nothing changes the mode):
//  1. Every relaxation (relu secant and a z, Heaviside lines, product planes, the secants of |g| and g^2
//     below) stores float slopes computed any way, and a float intercept that is the extreme of
//     (function - slope * input) over the certified input box, taken at the points where that extreme is
//     attained (endpoints of a convex function, vertices of a bilinear one, the Heaviside jump) and rounded
//     outward with nextafter after each operation (rounding.hpp, fact 1).  So each inequality holds
//     exactly for the floats used.
//  2. Back-substitution keeps "objective <= A y + c on the feasible set" for whatever float A it computed:
//     the difference between fl(A M) and A M (Higham: gamma_n |A||M| for any summation order, with or
//     without FMA, plus underflow) times |y| <= X is added to c with the rounding of A b, and c is only
//     ever increased by upward-rounded additions (sound_linear.hpp).  Concretisation over the box and the
//     ball (Hoelder with the dual norm rounded up) is a float dot product with the same allowance.
//  3. Every intermediate bound a relaxation relies on (forward z bounds, backward u bounds, gradient
//     bounds for the secants) is produced by 1-2 or by interval arithmetic with the same allowance, so by
//     induction over the layers every relaxation used is valid and every returned bound is certified.
//  4. Norms and combinations of nonnegative bounds are sums, products and square roots rounded upward;
//     spectral norms: Jacobi eigenvectors V of the Gram matrix, Gershgorin on V^T G V enclosed with
//     allowances, and Ostrowski with sigma_min(V)^2 >= 1 - ||V^T V - I||_F (interval_norms.cpp).
//  Assumptions: IEEE binary64 without extended precision (checked at compile time), no Strassen-like
//  products in gemm_gather's backend, and that the interval bounds of the input set are exact floats.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "gradient_graph.hpp"
#include "interval_norms.hpp"
#include "rounding.hpp"

namespace lipmiq {

using rnd::add_up;
using rnd::allowance_factor;
using rnd::mul_down;
using rnd::mul_up;
using rnd::sqrt_up;
using rnd::sub_up;

namespace {

constexpr double kInf = rnd::kInf;
// Largest dimension over which sign vectors are enumerated for the exact inf->q and 2->1 norms (2^15 vectors).
constexpr std::size_t kMaxEnumeration = 16;

// ||g||_{p*} <= the same norm of max(|gl|, |gu|), rounded upward.
double interval_norm(const LayerBounds& g, double p) {
    std::vector<double> a(g.lo.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = (std::isnan(g.lo[i]) || std::isnan(g.hi[i])) ? kInf : std::max(std::fabs(g.lo[i]), std::fabs(g.hi[i]));
    return norm_up(a, p == 1.0 ? kInf : p == 2.0 ? 2.0 : 1.0);
}

// max over g in [lo, hi] of sum_i (s_i g_i where the sign is fixed, |g_i| elsewhere), rounded upward: the
// interval bound of the p = inf objective under GradientOptions::signs (may be negative).
double signed_interval_sum(const LayerBounds& g, const std::vector<std::int8_t>& signs) {
    double t = 0.0;
    for (std::size_t i = 0; i < g.lo.size(); ++i) {
        if (std::isnan(g.lo[i]) || std::isnan(g.hi[i])) return kInf;
        const std::int8_t s = signs[i];
        t = add_up(t, s > 0 ? g.hi[i] : s < 0 ? -g.lo[i] : std::max(std::fabs(g.lo[i]), std::fabs(g.hi[i])));
    }
    return t;
}

// The interval bound of the objective: ||g||_{p*}, or its signed form for p = inf with signs.
double interval_objective(const LayerBounds& g, double p, const std::vector<std::int8_t>& signs) {
    return signs.empty() ? interval_norm(g, p) : signed_interval_sum(g, signs);
}

// || max(|Pl_i|, |Ph_i|) ||_r of every row i (n_dir entries each), rounded to nearest (a heuristic score).
std::vector<double> row_norms(const Block& Pl, const Block& Ph, std::size_t n_dir, double r) {
    const std::size_t rows = n_dir ? Pl.size() / n_dir : 0;
    std::vector<double> out(rows, 0.0);
    for (std::size_t i = 0; i < rows; ++i) {
        double acc = 0.0;
        for (std::size_t j = 0; j < n_dir; ++j) {
            const double a = std::max(std::fabs(Pl[i * n_dir + j]), std::fabs(Ph[i * n_dir + j]));
            acc = r == kInf ? std::max(acc, a) : r == 2.0 ? acc + a * a : acc + a;
        }
        out[i] = r == 2.0 ? std::sqrt(acc) : acc;
    }
    return out;
}

// Certified enclosure [Pl, Ph] (n_{L-1} x n_dir, row-major) of D_{L-1} W_{L-1} ... D_1 W_1[:, :n_dir] over
// the Clarke choices (midpoint-radius products: W P lies in [W mid - |W| rad, W mid + |W| rad], each
// product off by gamma_n |W| (|mid| + rad)).  Multiplying it by the top row from the left is the interval
// Jacobian in the association order of pattern_norm_bound.  `sensitivity` (optional) gets, per hidden layer,
// the dual-norm (dual_p) size of each pre-activation's gradient enclosure, before that layer's D.
void forward_interval_jacobian(const SoundNetwork& S, std::size_t n_dir, std::size_t block_entries, Block& Pl,
                               Block& Ph, double dual_p, std::vector<std::vector<double>>* sensitivity) {
    const Network& net = *S.net;
    const std::size_t L1 = S.hidden.size();
    const Matrix& W1 = net.W[0];
    Pl.assign(W1.rows * n_dir, 0.0);
    for (std::size_t i = 0; i < W1.rows; ++i)
        for (std::size_t j = 0; j < n_dir; ++j) Pl[i * n_dir + j] = W1.row(i)[j];
    Ph = Pl;
    if (sensitivity) sensitivity->push_back(row_norms(Pl, Ph, n_dir, dual_p));
    auto apply_d = [&](const SoundLayer& H) {
        for (std::size_t i = 0; i < H.status.size(); ++i) {
            double* l = Pl.data() + i * n_dir;
            double* h = Ph.data() + i * n_dir;
            if (H.status[i] == kOff) {
                std::fill(l, l + n_dir, 0.0);
                std::fill(h, h + n_dir, 0.0);
            } else if (H.status[i] == kFree) {
                for (std::size_t j = 0; j < n_dir; ++j) l[j] = std::min(l[j], 0.0), h[j] = std::max(h[j], 0.0);
            }
        }
    };
    apply_d(S.hidden[0]);
    for (std::size_t k = 2; k <= L1; ++k) {
        const Matrix& W = net.W[k - 1];
        const SoundLayer& Hp = S.hidden[k - 2];
        const SoundLayer& H = S.hidden[k - 1];
        const std::size_t np = W.cols, nk = W.rows;
        const auto& rows = H.live;
        const auto& inner = Hp.live;
        // An entry whose products all have a zero factor (a zero row of W or a zero column of P over the
        // inner neurons) is exact.
        std::vector<std::uint8_t> colnz(n_dir, 0), rownz(nk, 0);
        for (std::int32_t t : inner)
            for (std::size_t j = 0; j < n_dir; ++j) colnz[j] |= (Pl[t * n_dir + j] != 0.0 || Ph[t * n_dir + j] != 0.0);
        for (std::int32_t i : rows)
            for (std::int32_t t : inner) rownz[i] |= (W.row(i)[t] != 0.0);
        const double fac = allowance_factor(inner.size() + 1), tiny = rnd::underflow_allowance(inner.size(), 0.0);
        Block Ql(nk * n_dir, 0.0), Qh(nk * n_dir, 0.0);  // without live rows or inner neurons the layer stays 0
        // Columns (direction inputs) in blocks of about block_entries, so that the centre, radius and product
        // blocks stay small: whole, they were half of a root call's peak on the CIFAR-sized CNN.
        const std::size_t nb = std::min(n_dir, std::max<std::size_t>(1, block_entries / (3 * np)));
        const bool products = !rows.empty() && !inner.empty();
        Block mid(np * nb), radabs(np * 2 * nb), C(nk * nb), RT(nk * 2 * nb);  // unset until written
        if (products)
            S.work += 3.0 * static_cast<double>(rows.size()) * static_cast<double>(inner.size()) * static_cast<double>(n_dir);
        for (std::size_t j0 = 0; products && j0 < n_dir; j0 += nb) {
            const std::size_t w = std::min(nb, n_dir - j0);
            for (std::size_t i = 0; i < np; ++i)
                for (std::size_t j = 0; j < w; ++j) {
                    const double a = Pl[i * n_dir + j0 + j], b = Ph[i * n_dir + j0 + j];
                    const double md = 0.5 * (a + b);
                    mid[i * w + j] = md;
                    radabs[i * 2 * w + j] = std::max(sub_up(b, md), sub_up(md, a));
                    radabs[i * 2 * w + w + j] = std::fabs(md);
                }
            gemm_gather(W.data.data(), np, rows.data(), rows.size(), inner.data(), inner.data(), inner.size(),
                        mid.data(), w, w, C.data(), w, false);
            gemm_gather(net.absW[k - 1].data.data(), np, rows.data(), rows.size(), inner.data(), inner.data(), inner.size(),
                        radabs.data(), 2 * w, 2 * w, RT.data(), 2 * w, false);
            for (std::int32_t i : rows)
                for (std::size_t j = 0; j < w; ++j) {
                    const double c = C[i * w + j], r = RT[i * 2 * w + j], t = RT[i * 2 * w + w + j];
                    const double allow = (rownz[i] && colnz[j0 + j]) ? add_up(mul_up(fac, add_up(t, r)), tiny) : 0.0;
                    Qh[i * n_dir + j0 + j] = add_up(add_up(c, r), allow);
                    Ql[i * n_dir + j0 + j] = rnd::sub_down(rnd::sub_down(c, r), allow);
                }
        }
        Pl.swap(Ql);
        Ph.swap(Qh);
        if (sensitivity) sensitivity->push_back(row_norms(Pl, Ph, n_dir, dual_p));
        apply_d(H);
    }
}

// [lo, hi] of w^T P over w in [wl, wh] (n_{L-1}) and P in [Pl, Ph] (n_{L-1} x n_dir), rounded outward.
LayerBounds row_times_interval(const std::vector<double>& wl, const std::vector<double>& wh, const Block& Pl,
                               const Block& Ph, std::size_t n_dir) {
    const std::size_t nt = wl.size();
    LayerBounds out;
    out.lo.assign(n_dir, 0.0);
    out.hi.assign(n_dir, 0.0);
    const double fac = allowance_factor(nt + 1), tiny = rnd::underflow_allowance(nt, 0.0);
    for (std::size_t j = 0; j < n_dir; ++j) {
        double sl = 0.0, sh = 0.0, abs = 0.0;
        bool any = false;
        for (std::size_t t = 0; t < nt; ++t) {
            const double a = Pl[t * n_dir + j], b = Ph[t * n_dir + j];
            if ((a == 0.0 && b == 0.0) || (wl[t] == 0.0 && wh[t] == 0.0)) continue;
            any = true;
            const double p1 = wl[t] * a, p2 = wl[t] * b, p3 = wh[t] * a, p4 = wh[t] * b;
            sl += std::min({p1, p2, p3, p4});
            sh += std::max({p1, p2, p3, p4});
            abs += std::max({std::fabs(p1), std::fabs(p2), std::fabs(p3), std::fabs(p4)});
        }
        const double allow = any ? add_up(mul_up(fac, abs), tiny) : 0.0;
        out.hi[j] = add_up(sh, allow);
        out.lo[j] = rnd::sub_down(sl, allow);
    }
    return out;
}

// The one-row form over g bounding the norm objective: sum_i |g_i| (p = inf) or sum_i g_i^2 (p = 2) by
// secants on [gl_i, gu_i].  |g| - a g and g^2 - a g are convex, so the intercept is their maximum at an
// endpoint, rounded upward.
// A fixed sign s_i (p = inf, GradientOptions::signs) makes the term s_i g_i itself: slope s_i, intercept 0.
Forms secant_objective(const LayerBounds& g, double p, const std::vector<std::int8_t>& signs) {
    const std::size_t n = g.lo.size();
    Forms F(1, n);
    double c = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double l = g.lo[i], u = g.hi[i];
        double a, t;
        if (p == kInf && !signs.empty() && signs[i] != 0) {
            a = signs[i], t = 0.0;
        } else if (p == kInf) {
            if (l >= 0.0) {
                a = 1.0, t = 0.0;
            } else if (u <= 0.0) {
                a = -1.0, t = 0.0;
            } else {
                a = (u + l) / (u - l);
                t = std::max(sub_up(-l, mul_down(a, l)), sub_up(u, mul_down(a, u)));
            }
        } else {
            a = l + u;
            t = std::max(sub_up(mul_up(l, l), mul_down(a, l)), sub_up(mul_up(u, u), mul_down(a, u)));
        }
        F.A[i] = a;
        c = add_up(c, t);
    }
    F.c[0] = std::isnan(c) ? kInf : c;
    return F;
}

// The secant of |g| on [l, u] exceeds |g| by at most 2 u (-l) / (u - l), 0 unless l < 0 < u; written
// 2 / (1/u + 1/(-l)): 2 (-l) at u = inf and inf at both, where the quotient was inf / inf (a NaN); a subnormal
// side overflows its reciprocal and gives 0 (the excess is subnormal too).
double abs_secant_excess(double l, double u) {
    return l < 0.0 && u > 0.0 ? 2.0 / (1.0 / u - 1.0 / l) : 0.0;
}

// The secants of |g_i| (p = inf) or g_i^2 (p = 2) exceed the function by at most abs_secant_excess or
// (u - l)^2 / 4 on [l, u], and for p = 1 the bound is max_i max(u_i, -l_i): optimise both bounds of the
// coordinates where that is largest, each bound with its own slopes (one batch of forms).
void tighten_coordinates(BackwardGraph& G, const Slopes& slopes, const GradientOptions& opt, double p) {
    LayerBounds& g = G.u[0];
    const std::size_t n = g.lo.size();
    std::vector<std::pair<double, std::size_t>> excess;
    for (std::size_t i = 0; i < n; ++i) {
        const double l = g.lo[i], u = g.hi[i];
        if (!(u > l)) continue;
        if (!opt.signs.empty() && opt.signs[i] != 0) continue;  // its term is linear: nothing to tighten
        if (p == kInf && l < 0.0 && u > 0.0) excess.push_back({abs_secant_excess(l, u), i});  // never NaN
        if (p == 2.0) excess.push_back({(u - l) * (u - l) / 4.0, i});
        if (p == 1.0) excess.push_back({std::max(u, -l), i});
    }
    // One row and step costs about 4 passes over the hidden weights (substitution up and down, evaluation
    // forward and backward).
    double weights = 0.0;
    for (const Matrix& W : G.S->net->Wt) weights += static_cast<double>(W.data.size());
    const double per_coordinate = 8.0 * weights * std::max(opt.coordinate_iterations, 1);
    const std::size_t affordable = static_cast<std::size_t>(std::max(opt.coordinate_work, 0.0) / per_coordinate);
    const std::size_t K = std::min({excess.size(), static_cast<std::size_t>(std::max(opt.max_coordinates, 0)), affordable});
    if (K == 0 || opt.coordinate_iterations <= 0 || opt.deadline.passed()) return;
    std::partial_sort(excess.begin(), excess.begin() + K, excess.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    Forms F(2 * K, n);
    for (std::size_t r = 0; r < K; ++r) {
        F.row(r)[excess[r].second] = 1.0;
        F.row(K + r)[excess[r].second] = -1.0;
    }
    gradient_to_v1(G, F);
    const std::vector<double> v = optimise_slopes(G, 1, F, slopes, opt.coordinate_iterations, opt);
    for (std::size_t r = 0; r < K; ++r) {
        const std::size_t i = excess[r].second;
        g.hi[i] = rnd::min_upper(g.hi[i], v[r]);
        g.lo[i] = rnd::max_lower(g.lo[i], -v[K + r]);
    }
}

struct Shared {
    const SoundNetwork* S;
    bool forced;  // some neuron has a forced sign (only then may the (sub)domain be empty)
    Block Pl, Ph;                    // forward interval Jacobian of the hidden part
    std::size_t n_dir;
    double p;
    GradientOptions opt;
    double row_target;  // opt.target where every row's bound at most it puts the result at most it, else -inf
};

// Certified bounds hold at every feasible point, so bounds that cross (lo > hi) prove that no point of the
// (sub)domain satisfies the forced signs; without a forced sign the set is the non-empty input set, and
// crossing there is a defect (raised, never reported as a bound).
bool crossing(const std::vector<LayerBounds>& layers, bool forced) {
    for (const LayerBounds& b : layers)
        for (std::size_t i = 0; i < b.lo.size(); ++i)
            if (b.lo[i] > b.hi[i]) {
                if (!forced) throw std::logic_error("gradient_bounds: certified backward bounds cross");
                return true;
            }
    return false;
}

struct Combination {
    RowGradientBounds bounds;
    bool empty = false;
};

// Bound on sup ||g||_{p*} for the output combination whose u_{L-1} = W_L^T c lies in [top_lo, top_hi].
Combination combination_bound(const Shared& sh, const std::vector<double>& top_lo,
                              const std::vector<double>& top_hi) {
    const SoundNetwork& S = *sh.S;
    const std::size_t L1 = S.hidden.size(), n_dir = sh.n_dir;
    const double p = sh.p;
    Combination res;
    RowGradientBounds& out = res.bounds;
    if (L1 == 0) {  // g = W_1^T c itself
        out.gradient.lo.assign(top_lo.begin(), top_lo.begin() + n_dir);
        out.gradient.hi.assign(top_hi.begin(), top_hi.begin() + n_dir);
        out.upper = interval_objective(out.gradient, p, sh.opt.signs);
        return res;
    }
    BackwardGraph G;
    G.S = &S;
    G.Wt = &S.net->Wt;
    G.n_dir = n_dir;
    G.top_lo = top_lo;
    G.top_hi = top_hi;
    G.deadline = sh.opt.deadline;
    G.block_entries = sh.opt.block_entries;
    Slopes slopes;
    bound_backward(G, sh.opt.step_init, slopes);
    LayerBounds& g = G.u[0];
    if (!sh.Pl.empty()) {  // skipped past the deadline
        const LayerBounds fwd = row_times_interval(top_lo, top_hi, sh.Pl, sh.Ph, n_dir);
        for (std::size_t i = 0; i < n_dir; ++i) {
            g.lo[i] = rnd::max_lower(g.lo[i], fwd.lo[i]);
            g.hi[i] = rnd::min_upper(g.hi[i], fwd.hi[i]);
        }
    }
    if (crossing(G.u, sh.forced)) {
        res.empty = true;
        return res;
    }
    tighten_coordinates(G, slopes, sh.opt, p);
    double best = interval_objective(g, p, sh.opt.signs);  // p = 1: max_i |g_i| is exactly this
    if (p != 1.0 && !(best <= sh.row_target)) {
        Forms F = secant_objective(g, p, sh.opt.signs);
        gradient_to_v1(G, F);
        // p = 2 bounds the square (only where to stop: an ulp either way costs a step, never soundness)
        const double target = p == kInf ? sh.row_target : sh.row_target >= 0.0 ? sh.row_target * sh.row_target : -kInf;
        const double v = optimise_slopes(G, 1, F, slopes, sh.opt.iterations, sh.opt, target)[0];
        best = rnd::min_upper(best, p == kInf ? v : sqrt_up(std::max(v, 0.0)));
    }
    out.upper = std::isnan(best) ? kInf : best;
    out.gradient = g;
    out.backward.assign(G.u.begin() + 1, G.u.end());
    res.empty = crossing({g}, sh.forced);
    return res;
}

// A row reached after the deadline: the forward interval Jacobian's enclosure of its gradient (one product,
// where a backward pass through every layer per row took minutes on networks with a thousand rows), and no
// backward bounds (unbounded).  Without that Jacobian (the deadline came before it) the row is unbounded.
RowGradientBounds interval_row(const Shared& sh, const std::vector<double>& top) {
    const SoundNetwork& S = *sh.S;
    RowGradientBounds out;
    if (!sh.Pl.empty()) {
        out.gradient = row_times_interval(top, top, sh.Pl, sh.Ph, sh.n_dir);
    } else {
        out.gradient.lo.assign(sh.n_dir, -kInf);
        out.gradient.hi.assign(sh.n_dir, kInf);
    }
    const double upper = interval_objective(out.gradient, sh.p, sh.opt.signs);
    out.upper = std::isnan(upper) ? kInf : upper;
    for (std::size_t k = 0; k < S.hidden.size(); ++k) {
        const std::size_t n = S.hidden[k].status.size();
        out.backward.push_back({std::vector<double>(n, -kInf), std::vector<double>(n, kInf)});
    }
    return out;
}

// Enclosure of W_L^T s (exact sum of float products, off by gamma_m sum |s_i W_L[i, j]|).
void combination_top(const Matrix& WL, const std::vector<double>& s, std::vector<double>& lo, std::vector<double>& hi) {
    const std::size_t m = WL.rows, n = WL.cols;
    lo.assign(n, 0.0);
    hi.assign(n, 0.0);
    const double fac = allowance_factor(m), tiny = rnd::underflow_allowance(m, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        double t = 0.0, abs = 0.0;
        for (std::size_t i = 0; i < m; ++i) {
            t += s[i] * WL.row(i)[j];
            abs += std::fabs(WL.row(i)[j]);
        }
        const double allow = abs == 0.0 ? 0.0 : add_up(mul_up(fac, abs), tiny);
        hi[j] = add_up(t, allow);
        lo[j] = rnd::sub_down(t, allow);
    }
}

}  // namespace

void derive_weights(Network& net) {
    net.Wt.clear();
    net.absW.clear();
    for (std::size_t k = 0; k + 1 < net.depth(); ++k) {
        const Matrix& W = net.W[k];
        Matrix T, A;
        T.rows = W.cols;
        T.cols = W.rows;
        T.data = transpose(W.data.data(), W.cols, W.rows, W.cols);
        if (k > 0) {
            A = Matrix(W.rows, W.cols);
            for (std::size_t i = 0; i < W.data.size(); ++i) A.data[i] = std::fabs(W.data[i]);
        }
        net.Wt.push_back(std::move(T));
        net.absW.push_back(std::move(A));
    }
}

GradientResult gradient_bounds(const Network& net, const InputDomain& dom,
                               const std::vector<const std::int8_t*>& state, double p, double q,
                               std::size_t n_dir, const GradientOptions& opt,
                               const std::vector<LayerBounds>& prior) {
    if (net.Wt.size() + 1 != net.depth() || net.absW.size() != net.Wt.size())
        throw std::logic_error("gradient_bounds: the network's derived weights are missing (derive_weights)");
    // Signs turn a row's bound into one on max g^T v over some vertices v: a valid piece of ||J||_{inf->q}
    // only where that norm is a maximum of such row terms (q = inf, or one output).
    if (!opt.signs.empty() && (p != kInf || (q != kInf && net.out_dim() != 1) || opt.signs.size() != n_dir))
        throw std::invalid_argument("gradient_bounds: signs need p = inf, q = inf or one output, and one per direction input");
    const rnd::FloatEnvironment environment;
    GradientResult res;
    const SoundNetwork S = sound_forward(net, dom, state, opt, prior);
    res.stopped = S.stopped;
    if (S.empty) {
        res.empty = true;
        res.work = S.work;
        return res;
    }
    for (const SoundLayer& H : S.hidden) res.forward.push_back({H.lo, H.hi});
    Shared sh;
    sh.S = &S;
    sh.forced = false;
    for (std::size_t k = 0; k < state.size(); ++k)
        for (std::size_t j = 0; j < net.W[k].rows; ++j) sh.forced |= state[k][j] != -1;
    sh.n_dir = n_dir;
    sh.p = p;
    sh.opt = opt;
    const std::size_t L1 = S.hidden.size(), m = net.out_dim();
    sh.row_target = (q == kInf || m == 1 || !opt.signs.empty()) ? opt.target : -kInf;
    if (L1 > 0 && n_dir > 0 && !opt.deadline.passed())
        forward_interval_jacobian(S, n_dir, opt.block_entries, sh.Pl, sh.Ph, p == 1.0 ? kInf : p == 2.0 ? 2.0 : 1.0, &res.sensitivity);
    const Matrix& WL = net.W.back();
    std::vector<double> U(m);
    std::vector<double> A(m * n_dir);  // nonnegative majorant of |J|
    for (std::size_t i = 0; i < m; ++i) {
        std::vector<double> row(WL.row(i), WL.row(i) + WL.cols);
        Combination c;
        if (L1 > 0 && opt.deadline.passed())
            c.bounds = interval_row(sh, row);
        else
            c = combination_bound(sh, row, row);
        if (c.empty) {
            res.empty = true;
            res.rows.clear();
            res.work = S.work;
            return res;
        }
        res.rows.push_back(std::move(c.bounds));
        U[i] = res.rows.back().upper;
        const LayerBounds& g = res.rows.back().gradient;
        for (std::size_t j = 0; j < n_dir; ++j) A[i * n_dir + j] = std::max(std::fabs(g.lo[j]), std::fabs(g.hi[j]));
    }
    // Combinations over the rows (each also bounded by the majorant norm):
    //  q = inf: ||J||_{p->inf} = max_i ||J_i||_{p*} <= max_i U_i (exact identity).
    //  q = 1:   ||J v||_1 <= sum_i |J_i v| <= sum_i U_i ||v||_p; and ||J v||_1 = max_s s^T J v <= max_s
    //           ||J^T s||_{p*} ||v||_p over s in {+-1}^m (s and -s alike), each a combination bound.
    //  q = 2:   ||J v||_2^2 = sum_i (J_i v)^2 <= sum_i U_i^2 ||v||_p^2; and ||y||_2 <= ||y||_1 (the q = 1 bounds).
    //  Any q:   the enclosure [gl_i, gu_i] of the rows: ||J|| <= ||mid|| + ||rad|| (exact for a point Jacobian).
    double upper = nonnegative_norm_up(A, m, n_dir, p, q);
    if (m >= 2 && q != kInf && p != 1.0) {
        std::vector<double> Jl(m * n_dir), Jh(m * n_dir);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n_dir; ++j) {
                Jl[i * n_dir + j] = res.rows[i].gradient.lo[j];
                Jh[i * n_dir + j] = res.rows[i].gradient.hi[j];
            }
        upper = rnd::min_upper(upper, interval_matrix_norm_up(Jl, Jh, m, n_dir, p, q, kMaxEnumeration));
    }
    if (!opt.signs.empty()) {  // each U_i bounds max g_i^T v over the vertices left (may be negative)
        double top = -kInf;
        for (double u : U) top = std::isnan(u) ? kInf : std::max(top, u);
        upper = rnd::min_upper(upper, top);
    } else if (q == kInf || m == 1) {
        upper = rnd::min_upper(upper, norm_up(U, kInf));
    } else {
        double q1 = norm_up(U, 1.0);
        if (m >= 2 && static_cast<int>(m) <= opt.max_sign_outputs) {
            double signs = 0.0;
            std::vector<double> s(m), lo, hi;
            for (std::size_t mask = 0; mask < (std::size_t(1) << (m - 1)); ++mask) {
                if (opt.deadline.passed()) {  // the sum bound q1 stands
                    signs = kInf;
                    break;
                }
                for (std::size_t i = 0; i < m; ++i) s[i] = (i > 0 && (mask >> (i - 1)) & 1) ? -1.0 : 1.0;
                combination_top(WL, s, lo, hi);
                const Combination c = combination_bound(sh, lo, hi);
                const double v = c.empty ? 0.0 : c.bounds.upper;
                signs = std::isnan(v) ? kInf : std::max(signs, v);
            }
            q1 = rnd::min_upper(q1, signs);
        }
        upper = rnd::min_upper(upper, q1);
        if (q == 2.0) upper = rnd::min_upper(upper, norm_up(U, 2.0));
    }
    res.upper = std::isnan(upper) ? kInf : upper;
    res.stopped = res.stopped || opt.deadline.passed();
    res.work = S.work;
    return res;
}

// The branching score's weight against balanced neurons, gap (1 - gap)^power (largest at gap = 1 / (power + 1)):
// splitting a neuron that is nearly stable fixes its derivative at little cost (its small side is soon empty or
// dominated). The power is 8 on networks with at most two hidden layers, 4 on deeper ones. Default pipeline at 60 s,
// one run after the other (2026-12-05/06): 64-48-48-1 pt0 l-inf exact in 4.4 s with 8, 15.2 s with 4 (228.7 s with
// the power 0, the rule before); 64-48-48-10 pt1 l2 exact in 37.2 s with 8, open with 4. On 64-32-32-32-32-1 pt1
// l-inf the power 8 leaves [106.80, 111.43] at 60 s, 4 is exact in 41.1 s (2 / 1: 30.2 / 33.9 s); the random
// [8, 16 x 3 / 4, 1] networks and digits28's CNN end lower with 4 too (bench/README.md). Depth is a rough proxy:
// some two-layer queries close sooner with 4 (8-16-16-1, digits28's MLP at r = 0.01, 64-48-48-1 pt1 l2), the
// other 64-48-48 ones with 8.
constexpr double kBalancePowerShallow = 8.0;
constexpr double kBalancePowerDeep = 4.0;

NodeScores node_scores(const GradientResult& res, const std::vector<const std::int8_t*>& state,
                       const std::vector<std::int8_t>& signs) {
    NodeScores out;
    for (const RowGradientBounds& row : res.rows) {
        const std::size_t n = row.gradient.lo.size();
        out.sign_excess.resize(n, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            const double e = abs_secant_excess(row.gradient.lo[i], row.gradient.hi[i]);
            if (signs.empty() || signs[i] == 0) out.sign_excess[i] = std::max(out.sign_excess[i], e);
        }
    }
    const double largest = std::numeric_limits<double>::max();
    const double power = res.forward.size() <= 2 ? kBalancePowerShallow : kBalancePowerDeep;
    for (std::size_t k = 0; k < res.forward.size(); ++k) {
        const LayerBounds& f = res.forward[k];
        const std::size_t n = f.lo.size();
        std::vector<std::int8_t> status(n, -1);
        std::vector<double> score(n, -1.0);
        const bool moves = k < res.sensitivity.size() && res.sensitivity[k].size() == n;
        for (std::size_t j = 0; j < n; ++j) {
            const double l = f.lo[j], u = f.hi[j];
            if (u <= 0.0) status[j] = 0;
            if (l >= 0.0) status[j] = 1;
            if (k < state.size() && state[k] != nullptr && state[k][j] >= 0) status[j] = state[k][j];
            if (status[j] >= 0) continue;
            double U = 0.0;
            for (const RowGradientBounds& row : res.rows) {
                if (k >= row.backward.size() || row.backward[k].lo.size() != n) {
                    U = rnd::kInf;
                    break;
                }
                U = std::max({U, std::fabs(row.backward[k].lo[j]), std::fabs(row.backward[k].hi[j])});
            }
            // gap: the smaller side's share of [l, u] (at most 1/2), weighted by (1 - gap)^power
            const double gap = std::min(-l, u) / std::max(u - l, 1e-300);
            const double v = U * (moves ? res.sensitivity[k][j] : 1.0) * gap * std::pow(1.0 - gap, power);
            score[j] = std::isfinite(v) ? v : largest;  // inf * 0 and inf: split those first
        }
        out.status.push_back(std::move(status));
        out.score.push_back(std::move(score));
    }
    return out;
}

}  // namespace lipmiq
