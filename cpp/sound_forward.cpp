// Certified pre-activation bounds (interval arithmetic intersected with CROWN back-substitution) over
// an input set, honouring a partial activation pattern.  Every bound holds despite float64 rounding:
// the steps are those of sound_linear.cpp, and the relu lines are built so that the stored floats
// form valid lines (intercepts rounded outward at the points where relu(z) - s z is extreme).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "core.hpp"

#include "rounding.hpp"
#include "sound_network.hpp"

namespace lipmiq {

using rnd::mul_down;
using rnd::mul_up;
using rnd::sub_up;

namespace {

// Work (multiply-adds) of one block of CROWN rows between two deadline checks: ~0.05-0.2 s.
constexpr double kBlockWork = 1.5e8;

// The forward slope steps stop once they have used this share of a timed call's time, so that the interval
// Jacobian and the backward pass, without which the call certifies nothing, get the rest: on the CIFAR-sized CNN
// (6,244 neurons) the 20 steps took 58 s of a 70 s root call, and any call shorter than that returned no bound.
constexpr double kForwardStepShare = 0.5;

// The call's deadline, or the end of the steps' share of it, whichever comes first. It refers to the call's
// Deadline rather than copying it: a copy would poll an interrupt callback (`Deadline::stop`) on its own and
// could consume the signal the rest of the call needs to see.
struct StepDeadline {
    const Deadline& call;
    std::chrono::steady_clock::time_point end;
    StepDeadline(const Deadline& d, double share) : call(d), end(d.at) {
        const auto now = std::chrono::steady_clock::now();
        if (d.at != std::chrono::steady_clock::time_point::max() && d.at > now)
            end = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(share * (d.at - now));
    }
    bool passed() const { return call.passed() || std::chrono::steady_clock::now() >= end; }
};

// Status, magnitudes and relu lines of a layer whose lo/hi are final; a forced sign (state 0 / 1, its bounds
// already clamped) keeps its derivative even where the bounds collapse to [0, 0] (either value is valid
// there, and keeping the pattern's keeps the derivatives inside those of the interval Jacobian bound).
void finish_layer(SoundLayer& H, const std::int8_t* state) {
    const std::size_t n = H.lo.size();
    H.status.assign(n, kFree);
    H.Xz.assign(n, 0.0);
    H.Xa.assign(n, 0.0);
    H.su.assign(n, 0.0);
    H.tu.assign(n, 0.0);
    H.sl.assign(n, 0.0);
    H.tl.assign(n, 0.0);
    H.live.clear();
    H.free.clear();
    for (std::size_t j = 0; j < n; ++j) {
        const double l = H.lo[j], u = H.hi[j];
        const std::int8_t forced = state ? state[j] : std::int8_t(-1);
        H.Xz[j] = std::max(std::fabs(l), std::fabs(u));
        if (forced == 0 || (forced != 1 && u <= 0.0)) {
            H.status[j] = kOff;
            continue;
        }
        H.live.push_back(static_cast<std::int32_t>(j));
        H.Xa[j] = std::max(u, 0.0);
        if (forced == 1 || l >= 0.0) {
            H.status[j] = kOn;
            H.su[j] = H.sl[j] = 1.0;
            continue;
        }
        H.free.push_back(static_cast<std::int32_t>(j));
        // Upper: any slope s; relu(z) - s z is convex, so its maximum on [l, u] is at l or u.
        const double s = u / (u - l);
        H.su[j] = s;
        H.tu[j] = std::max(mul_up(s, -l), sub_up(u, mul_down(s, u)));
        // Lower: relu(z) >= a z for every z when 0 <= a <= 1 (intercept exactly 0).
        H.sl[j] = (u > -l) ? 1.0 : 0.0;
    }
}

// Affine-step data for layer k (1-based) once its input magnitudes X are known.
void add_affine_data(SoundNetwork& S, std::size_t k, const std::vector<double>& X) {
    const Matrix& W = S.net->W[k - 1];
    S.Wmag.push_back(magnitude(W.data.data(), W.cols, W.rows, W.cols, X.data()));
    S.xmass.push_back(mass(X));
}

// Rows of F0 (over x_{k-1}) each get their own lower relu slopes on layers 1..k-1, started at the adaptive
// ones and moved by projected Adam steps along dB_r/da = coef * z at the row's maximiser (z evaluated
// forward through the lines the row chose; see gradient_slopes.cpp).  Every slope set in [0, 1] gives
// certified values, so each row keeps its smallest.
std::vector<double> optimised_rows(const SoundNetwork& S, std::size_t k, const Forms& F0, const GradientOptions& opt,
                                   const StepDeadline& steps_end, bool& stopped) {
    constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-30;
    const std::size_t R = F0.rows;
    const Network& net = *S.net;
    LowerSlopes a(k - 1), m(k - 1), v(k - 1);
    SplitMultipliers beta(k - 1), mb(k - 1), vb(k - 1);  // the split constraints' multipliers, from 0
    bool splits = false;
    for (std::size_t j = 0; j + 1 < k; ++j) {
        const SoundLayer& H = S.hidden[j];
        const std::size_t nf = H.free.size();
        a[j].resize(R * nf);
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t t = 0; t < nf; ++t) a[j][r * nf + t] = H.sl[H.free[t]];
        m[j].assign(a[j].size(), 0.0);
        v[j].assign(a[j].size(), 0.0);
        beta[j].assign(R * H.split.size(), 0.0);
        mb[j] = vb[j] = beta[j];
        splits |= !H.split.empty();
    }
    std::vector<double> best(R, rnd::kInf), X, Z, A;
    double lr = opt.step;
    for (int it = 0;; ++it) {
        Forms F = F0;
        ReluTrace trace;
        to_input(S, k - 1, F, nullptr, &a, &trace, splits ? &beta : nullptr);
        const std::vector<double> val = concretise_input(F, *S.dom, S.in_lo, S.in_hi, &X);
        for (std::size_t r = 0; r < R; ++r) best[r] = rnd::min_upper(best[r], val[r]);
        if (it >= opt.forward_iterations) break;
        if (steps_end.passed()) {
            stopped = true;
            break;
        }
        const double c1 = 1.0 - std::pow(kBeta1, it + 1), c2 = 1.0 - std::pow(kBeta2, it + 1);
        A = X;
        for (std::size_t j = 1; j < k; ++j) {
            const Matrix& Wt = net.Wt[j - 1];
            const std::size_t nin = Wt.rows, n = Wt.cols;
            Z.assign(R * n, 0.0);
            gemm_gather(A.data(), nin, nullptr, R, nullptr, nullptr, nin, Wt.data.data(), n, n, Z.data(), n, false);
            S.work += static_cast<double>(R) * static_cast<double>(nin) * static_cast<double>(n);
            const SoundLayer& H = S.hidden[j - 1];
            const std::vector<double>& coef = trace.coef[j - 1];
            const std::size_t nf = H.free.size();
            A.assign(R * n, 0.0);
            for (std::size_t r = 0; r < R; ++r) {
                for (std::size_t i = 0; i < n; ++i) {
                    const double z = Z[r * n + i] + net.b[j - 1][i];
                    if (H.status[i] == kOn) A[r * n + i] = z;
                }
                for (std::size_t t = 0; t < nf; ++t) {
                    const std::size_t i = H.free[t], e = r * nf + t;
                    const double z = Z[r * n + i] + net.b[j - 1][i], c = coef[r * n + i];
                    double g = 0.0;
                    if (c >= 0.0) {
                        A[r * n + i] = H.su[i] * z + H.tu[i];
                    } else {
                        A[r * n + i] = a[j - 1][e] * z;
                        g = c * z;
                    }
                    m[j - 1][e] = kBeta1 * m[j - 1][e] + (1.0 - kBeta1) * g;
                    v[j - 1][e] = kBeta2 * v[j - 1][e] + (1.0 - kBeta2) * g * g;
                    const double step = lr * (m[j - 1][e] / c1) / (std::sqrt(v[j - 1][e] / c2) + kEps);
                    a[j - 1][e] = std::clamp(a[j - 1][e] - step, 0.0, 1.0);
                }
                // d bound / d beta = (side ? z : -z) at the maximiser; beta >= 0, its step scaled to the row's
                // coefficients on the layer (the multipliers live on their scale, the slopes on [0, 1])
                const std::size_t ns = H.split.size();
                if (ns == 0) continue;
                double scale = 0.0;
                for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(coef[r * n + i]));
                for (std::size_t t = 0; t < ns; ++t) {
                    const std::size_t i = H.split[t], e = r * ns + t;
                    const double z = Z[r * n + i] + net.b[j - 1][i], g = H.split_side[t] ? z : -z;
                    mb[j - 1][e] = kBeta1 * mb[j - 1][e] + (1.0 - kBeta1) * g;
                    vb[j - 1][e] = kBeta2 * vb[j - 1][e] + (1.0 - kBeta2) * g * g;
                    const double step = lr * scale * (mb[j - 1][e] / c1) / (std::sqrt(vb[j - 1][e] / c2) + kEps);
                    beta[j - 1][e] = std::max(beta[j - 1][e] - step, 0.0);
                }
            }
        }
        lr *= opt.decay;
    }
    return best;
}

}  // namespace

void through_layer(const SoundNetwork& S, std::size_t k, Forms& F) {
    const Matrix& W = S.net->W[k - 1];
    AffineMap m;
    m.M = W.data.data();
    m.ldm = W.cols;
    m.nx = W.cols;
    m.b = S.net->b[k - 1].data();
    m.Mmag = S.Wmag[k - 1].data();
    m.xmass = S.xmass[k - 1];
    // Every z entry may carry a coefficient: a split neuron's multiplier (beta) lands on z_j whatever its relu
    // line, and the top layer of a chain may carry any entry.
    m.idx = nullptr;
    m.nidx = W.rows;
    m.work = &S.work;
    substitute_affine(F, m);
}

void to_input(const SoundNetwork& S, std::size_t j, Forms& F, const std::vector<Forms>* phi,
              const LowerSlopes* lower_slopes, ReluTrace* trace, const SplitMultipliers* betas) {
    std::vector<double> sl, tl;
    for (; j >= 1; --j) {
        const SoundLayer& H = S.hidden[j - 1];
        std::vector<double>* coef = nullptr;
        if (trace) {
            trace->coef.resize(S.hidden.size());
            coef = &trace->coef[j - 1];
        }
        Lines lines{H.su.data(), H.tu.data(), H.sl.data(), H.tl.data()};
        if (lower_slopes && !H.free.empty()) {
            const std::vector<double>& a = (*lower_slopes)[j - 1];
            const std::size_t n = H.sl.size(), nf = H.free.size(), rows = a.size() / nf;
            sl.resize(rows * n);
            tl.resize(rows * n);
            for (std::size_t r = 0; r < rows; ++r) {
                std::copy(H.sl.begin(), H.sl.end(), sl.begin() + r * n);
                std::copy(H.tl.begin(), H.tl.end(), tl.begin() + r * n);
                for (std::size_t t = 0; t < nf; ++t) sl[r * n + H.free[t]] = a[r * nf + t];
            }
            lines.sl = sl.data();
            lines.tl = tl.data();
            lines.lower_stride = rows > 1 ? n : 0;
        }
        substitute_lines(F, lines, H.Xz.data(), coef);
        if (betas && !H.split.empty()) {
            const std::vector<double>& beta = (*betas)[j - 1];
            const std::size_t ns = H.split.size();
            for (std::size_t r = 0; r < F.rows; ++r) {
                double* a = F.row(r);
                for (std::size_t t = 0; t < ns; ++t) {
                    const double b = beta[r * ns + t];
                    if (b > 0.0) a[H.split[t]] += H.split_side[t] ? b : -b;
                }
            }
        }
        if (phi && !(*phi)[j - 1].A.empty()) add_forms(F, (*phi)[j - 1], H.Xz.data());
        through_layer(S, j, F);
    }
}

SoundNetwork sound_forward(const Network& net, const InputDomain& dom, const std::vector<const std::int8_t*>& state,
                           const GradientOptions& opt, const std::vector<LayerBounds>& prior) {
    SoundNetwork S;
    S.net = &net;
    S.dom = &dom;
    const std::size_t n0 = net.in_dim(), L = net.depth();
    S.in_lo = dom.lo;
    S.in_hi = dom.hi;
    if (dom.has_ball) {
        // Box hull of the ball, rounded outward.
        for (std::size_t i = 0; i < n0; ++i) {
            S.in_lo[i] = std::max(S.in_lo[i], rnd::sub_down(dom.center[i], dom.radius));
            S.in_hi[i] = std::min(S.in_hi[i], rnd::add_up(dom.center[i], dom.radius));
        }
    }
    S.Xin.resize(n0);
    for (std::size_t i = 0; i < n0; ++i) S.Xin[i] = std::max(std::fabs(S.in_lo[i]), std::fabs(S.in_hi[i]));
    if (L == 1) return S;
    add_affine_data(S, 1, S.Xin);

    bool forced = false;
    for (std::size_t k = 0; k < state.size(); ++k)
        for (std::size_t j = 0; j < net.W[k].rows; ++j) forced |= state[k][j] != -1;
    std::vector<double> xl = S.in_lo, xh = S.in_hi;  // bounds of the previous layer's output
    const StepDeadline steps_end(opt.deadline, kForwardStepShare);
    for (std::size_t k = 1; k < L; ++k) {
        const Matrix& W = net.W[k - 1];
        const std::size_t n = W.rows;
        SoundLayer H;
        interval_affine_sound(W.data.data(), W.cols, n, W.cols, net.b[k - 1].data(), xl.data(), xh.data(), H.lo,
                              H.hi);
        // forced neurons that intervals leave unstable: their constraints may help the later layers (a prior
        // from a parent node is already clamped to the parent's splits, so the test is on the intervals)
        std::vector<char> crosses(n);
        for (std::size_t j = 0; j < n; ++j) crosses[j] = H.lo[j] < 0.0 && H.hi[j] > 0.0;
        if (k - 1 < prior.size() && prior[k - 1].lo.size() == n && prior[k - 1].hi.size() == n) {
            for (std::size_t j = 0; j < n; ++j) {
                H.lo[j] = rnd::max_lower(H.lo[j], prior[k - 1].lo[j]);
                H.hi[j] = rnd::min_upper(H.hi[j], prior[k - 1].hi[j]);
            }
        }
        // CROWN for the neurons still unstable (all of layer 1 without a prior: exact there, and tighter on
        // balls), then per-bound slope optimisation for those still unstable.
        std::vector<std::int32_t> rows;
        const bool all_first = k == 1 && prior.empty();
        for (std::size_t j = 0; j < n; ++j)
            if (all_first || (H.lo[j] < 0.0 && H.hi[j] > 0.0)) rows.push_back(static_cast<std::int32_t>(j));
        // Rows in blocks of about kBlockWork multiply-adds (per step), the deadline (for the steps, their share
        // of it) checked between blocks: rows not reached keep the bounds they have.
        double chain = 0.0;
        for (std::size_t j = 0; j < k; ++j) chain += static_cast<double>(net.W[j].data.size());
        for (int pass = 0; pass < (k == 1 ? 1 : 2) && !rows.empty(); ++pass) {
            const double steps = pass == 0 ? 1.0 : 2.0 * (opt.forward_iterations + 1);
            const std::size_t block = static_cast<std::size_t>(std::max(16.0, kBlockWork / (2.0 * chain * steps)));
            std::vector<std::int32_t> still;
            for (std::size_t first = 0; first < rows.size(); first += block) {
                if (pass == 0 ? opt.deadline.passed() : steps_end.passed()) {
                    S.stopped = true;
                    break;
                }
                const std::size_t R = std::min(block, rows.size() - first);
                Forms F(2 * R, W.cols);
                for (std::size_t r = 0; r < R; ++r) {
                    const double* w = W.row(rows[first + r]);
                    double* up = F.row(r);
                    double* dn = F.row(R + r);
                    for (std::size_t i = 0; i < W.cols; ++i) up[i] = w[i], dn[i] = -w[i];
                    F.c[r] = net.b[k - 1][rows[first + r]];
                    F.c[R + r] = -F.c[r];
                }
                std::vector<double> v;
                if (pass == 0) {
                    to_input(S, k - 1, F, nullptr, nullptr, nullptr);
                    v = concretise_input(F, dom, S.in_lo, S.in_hi);
                } else {
                    v = optimised_rows(S, k, F, opt, steps_end, S.stopped);
                }
                for (std::size_t r = 0; r < R; ++r) {
                    const std::size_t j = rows[first + r];
                    H.hi[j] = rnd::min_upper(H.hi[j], v[r]);
                    H.lo[j] = rnd::max_lower(H.lo[j], -v[R + r]);
                    if (H.lo[j] < 0.0 && H.hi[j] > 0.0) still.push_back(static_cast<std::int32_t>(j));
                }
            }
            if (opt.forward_iterations <= 0 || S.stopped) break;
            rows = std::move(still);
        }
        if (!state.empty()) {
            const std::int8_t* s = state[k - 1];
            for (std::size_t j = 0; j < n; ++j) {
                if ((s[j] == 0 || s[j] == 1) && crosses[j]) {
                    H.split.push_back(static_cast<std::int32_t>(j));
                    H.split_side.push_back(s[j]);
                }
                if (s[j] == 0) H.hi[j] = std::min(H.hi[j], 0.0);
                if (s[j] == 1) H.lo[j] = std::max(H.lo[j], 0.0);
            }
        }
        for (std::size_t j = 0; j < n; ++j) {
            if (!(H.lo[j] <= H.hi[j])) {  // also NaN: nothing certified, treat as empty only when proved
                if (H.lo[j] > H.hi[j]) {
                    // Certified bounds cross only on an empty set; without a forced sign the set is the
                    // (non-empty) input set, so crossing there is a defect, never a result.
                    if (!forced) throw std::logic_error("gradient_bounds: certified pre-activation bounds cross");
                    S.empty = true;
                    return S;
                }
                H.lo[j] = -rnd::kInf;
                H.hi[j] = rnd::kInf;
            }
        }
        finish_layer(H, state.empty() ? nullptr : state[k - 1]);
        xl.assign(n, 0.0);
        xh = H.Xa;
        for (std::size_t j = 0; j < n; ++j) xl[j] = std::max(H.lo[j], 0.0) * (H.status[j] != kOff);
        S.hidden.push_back(std::move(H));
        if (k + 1 < L) add_affine_data(S, k + 1, S.hidden.back().Xa);
    }
    return S;
}

}  // namespace lipmiq
