// Interval bounds and DeepPoly/CROWN symbolic (back-substitution) bounds on pre-activations.
//
// Symbolic bounds, layer k (k = 1..L): start from the linear forms A_u = A_l = W_k, d = b_k and
// substitute backwards through layers j = k-1..1: every column i of A is replaced by the ReLU
// relaxation of neuron i of layer j (upper line where the coefficient makes the form larger,
// lower line otherwise), then multiplied by W_j.  The resulting forms over the input are
// concretised over the box (and the ball), and intersected with the interval step from layer
// k-1 and with the prior.
//
// Work avoidance (exact, same arithmetic result up to rounding):
//  * stably inactive neurons (relaxation 0/0) are dropped from the inner index set;
//  * at the first substitution step A_u == A_l == W_k, so the product over the stably active
//    neurons (relaxation = identity for both forms) is computed once and shared; only the
//    unstable neurons are multiplied separately for the upper and the lower form;
//  * zero coefficients (e.g. lower line alpha = 0) are skipped inside the kernel.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core.hpp"
#include "parallel.hpp"

namespace lipmiq {

namespace {


// Interval step: bounds of W x + b for x in [xl, xu].
void interval_affine(const Matrix& W, const std::vector<double>& b, const std::vector<double>& xl,
                     const std::vector<double>& xu, std::vector<double>& lo,
                     std::vector<double>& hi) {
    lo.assign(W.rows, 0.0);
    hi.assign(W.rows, 0.0);
    bool finite = true;
    for (std::size_t i = 0; i < W.cols; ++i) finite &= std::isfinite(xl[i]) && std::isfinite(xu[i]);
    if (finite) {
        // Midpoint-radius form: two vectorisable dot products per row.
        std::vector<double> mid(W.cols), rad(W.cols), aw(W.cols);
        for (std::size_t i = 0; i < W.cols; ++i) {
            mid[i] = 0.5 * (xl[i] + xu[i]);
            rad[i] = 0.5 * (xu[i] - xl[i]);
        }
        for (std::size_t r = 0; r < W.rows; ++r) {
            const double* w = W.row(r);
            for (std::size_t i = 0; i < W.cols; ++i) aw[i] = std::fabs(w[i]);
            const double c = b[r] + dot(w, mid.data(), W.cols);
            const double d = dot(aw.data(), rad.data(), W.cols);
            lo[r] = c - d;
            hi[r] = c + d;
        }
        return;
    }
    for (std::size_t r = 0; r < W.rows; ++r) {
        const double* w = W.row(r);
        double l = b[r], u = b[r];
        for (std::size_t i = 0; i < W.cols; ++i) {
            const double a = w[i];
            if (a > 0) {
                l += a * xl[i];
                u += a * xu[i];
            } else if (a < 0) {  // a == 0 contributes 0, also against infinite bounds
                l += a * xu[i];
                u += a * xl[i];
            }
        }
        lo[r] = l;
        hi[r] = u;
    }
}

void relu_bounds(const LayerBounds& z, std::vector<double>& xl, std::vector<double>& xu) {
    const std::size_t n = z.lo.size();
    xl.resize(n);
    xu.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        xl[i] = std::max(z.lo[i], 0.0);
        xu[i] = std::max(z.hi[i], 0.0);
    }
}

// ReLU relaxation of one layer: upper x <= su z + tu, lower x >= sl z.
struct Relaxation {
    std::vector<double> su, tu, sl;
    std::vector<std::int32_t> active;    // stably active (identity)
    std::vector<std::int32_t> unstable;  // l < 0 < u
    std::vector<std::int32_t> nonzero;   // active + unstable, increasing order
};

Relaxation relax(const LayerBounds& z) {
    const std::size_t n = z.lo.size();
    Relaxation R;
    R.su.assign(n, 0.0);
    R.tu.assign(n, 0.0);
    R.sl.assign(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const double l = z.lo[i], u = z.hi[i];
        if (l >= 0) {
            R.su[i] = R.sl[i] = 1.0;
            R.active.push_back(static_cast<std::int32_t>(i));
            R.nonzero.push_back(static_cast<std::int32_t>(i));
        } else if (u <= 0) {
            // zero
        } else {
            const double s = u / (u - l);
            R.su[i] = s;
            R.tu[i] = -s * l;
            R.sl[i] = (u > -l) ? 1.0 : 0.0;
            R.unstable.push_back(static_cast<std::int32_t>(i));
            R.nonzero.push_back(static_cast<std::int32_t>(i));
        }
    }
    return R;
}

// The row loops below hand out blocks of kRowBlock rows to `threads` workers (parallel.hpp).
// Each row is computed alone, so the thread count changes no result.
constexpr std::size_t kRowBlock = 32;

double dual_norm(const double* a, std::size_t n, double p) {
    // ||a||_{p*} with 1/p + 1/p* = 1
    if (p == 1.0) return amax(a, n);
    if (p == 2.0) return std::sqrt(dot(a, a, n));
    return asum(a, n);
}

// Concretise the rows of A x + d over the input set (box hull [hl, hu], and the ball when
// present; the tighter value is kept).  upper: maxima into hi; lower: minima into lo.
void concretise(const Matrix& A, const std::vector<double>& d, const InputDomain& dom,
                const std::vector<double>& hl, const std::vector<double>& hu, bool upper,
                std::vector<double>& out, unsigned threads) {
    const std::size_t n = A.cols;
    std::vector<double> mid(n), rad(n);
    for (std::size_t i = 0; i < n; ++i) {
        mid[i] = 0.5 * (hl[i] + hu[i]);
        rad[i] = 0.5 * (hu[i] - hl[i]);
    }
    out.resize(A.rows);
    parallel_blocks(A.rows, kRowBlock, n, threads, [&](std::size_t r0, std::size_t r1) {
        std::vector<double> aa(n);
        for (std::size_t r = r0; r < r1; ++r) {
            const double* a = A.row(r);
            for (std::size_t i = 0; i < n; ++i) aa[i] = std::fabs(a[i]);
            const double c = d[r] + dot(a, mid.data(), n), w = dot(aa.data(), rad.data(), n);
            double v = upper ? c + w : c - w;
            if (dom.has_ball) {
                const double ctr = d[r] + dot(a, dom.center.data(), n);
                const double br = dom.radius * dual_norm(a, n, dom.ball_norm);
                v = upper ? std::min(v, ctr + br) : std::max(v, ctr - br);
            }
            out[r] = v;
        }
    });
}

void apply_prior(LayerBounds& B, const std::vector<LayerBounds>& prior, std::size_t k) {
    if (k >= prior.size() || prior[k].lo.empty()) return;
    for (std::size_t i = 0; i < B.lo.size(); ++i) {
        B.lo[i] = std::max(B.lo[i], prior[k].lo[i]);
        B.hi[i] = std::min(B.hi[i], prior[k].hi[i]);
    }
}

// One row of a relaxed form over the `idx` columns: coefficient v of neuron i takes the upper line
// (slope su, intercept tu) where `upper` and v >= 0 or !`upper` and v < 0, else the lower line (slope
// sl); the row's coefficients go to c, and its constant (intercepts and biases) is returned.
double relax_row(const double* a, const Relaxation& R, const std::vector<std::int32_t>& idx,
                 const std::vector<double>& bj, bool upper, double* c) {
    double acc = 0.0;
    for (std::size_t t = 0; t < idx.size(); ++t) {
        const std::size_t i = static_cast<std::size_t>(idx[t]);
        const double v = a[i];
        double coef;
        if ((v >= 0) == upper) {
            coef = v * R.su[i];
            acc += v * R.tu[i];
        } else {
            coef = v * R.sl[i];
        }
        c[t] = coef;
        acc += coef * bj[i];
    }
    return acc;
}

// Relax the coefficient matrix A (rows x n_j) into compact matrices over `idx` columns
// (upper form uses the upper line for positive coefficients; lower form the opposite),
// accumulating the constant terms into du / dl.  Either output may be skipped (nullptr).
void relax_rows(const Matrix& Au, const Matrix& Al, const Relaxation& R,
                const std::vector<std::int32_t>& idx, const std::vector<double>& bj,
                Matrix* Cu, Matrix* Cl, std::vector<double>& du, std::vector<double>& dl,
                unsigned threads) {
    const std::size_t rows = Au.rows, ni = idx.size();
    if (Cu) *Cu = Matrix(rows, ni);
    if (Cl) *Cl = Matrix(rows, ni);
    parallel_blocks(rows, kRowBlock, ni, threads, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            if (Cu) du[r] += relax_row(Au.row(r), R, idx, bj, true, Cu->row(r));
            if (Cl) dl[r] += relax_row(Al.row(r), R, idx, bj, false, Cl->row(r));
        }
    });
}

}  // namespace

std::vector<LayerBounds> interval_bounds(const Network& net, const std::vector<double>& lo,
                                         const std::vector<double>& hi) {
    std::vector<LayerBounds> out(net.depth());
    std::vector<double> xl = lo, xu = hi;
    for (std::size_t k = 0; k < net.depth(); ++k) {
        interval_affine(net.W[k], net.b[k], xl, xu, out[k].lo, out[k].hi);
        if (k + 1 < net.depth()) relu_bounds(out[k], xl, xu);
    }
    return out;
}

std::vector<LayerBounds> symbolic_bounds(const Network& net, const InputDomain& dom,
                                         const std::vector<LayerBounds>& prior, unsigned threads) {
    const std::size_t L = net.depth();
    const std::size_t n0 = net.in_dim();
    // Box hull of the input set.
    std::vector<double> hl = dom.lo, hu = dom.hi;
    if (dom.has_ball) {
        for (std::size_t i = 0; i < n0; ++i) {
            hl[i] = std::max(hl[i], dom.center[i] - dom.radius);
            hu[i] = std::min(hu[i], dom.center[i] + dom.radius);
        }
    }

    std::vector<LayerBounds> out(L);
    std::vector<Relaxation> relaxations;
    relaxations.reserve(L);
    std::vector<double> xl = hl, xu = hu;  // bounds of x_{k-1}

    for (std::size_t k = 0; k < L; ++k) {
        const Matrix& Wk = net.W[k];
        const std::size_t rows = Wk.rows;
        // Interval step from the previous layer's final bounds.
        LayerBounds ibp;
        interval_affine(Wk, net.b[k], xl, xu, ibp.lo, ibp.hi);

        std::vector<double> du = net.b[k], dl = net.b[k];
        Matrix Au, Al;  // forms over x_{j-1} after substituting layer j
        if (k == 0) {
            Au = Wk;
            concretise(Au, du, dom, hl, hu, true, out[k].hi, threads);
            concretise(Au, dl, dom, hl, hu, false, out[k].lo, threads);
        } else {
            // First step: through layer k-1 (index k-1 of relaxations), A_u == A_l == W_k.
            {
                const std::size_t j = k - 1;
                const Relaxation& R = relaxations[j];
                const Matrix& Wj = net.W[j];
                const std::size_t nprev = Wj.cols;
                Au = Matrix(rows, nprev);
                // Shared stably-active part: W_k[:, A] (W_j[A, :]) -- identity relaxation.
                const auto& act = R.active;
                gemm_gather(Wk.data.data(), Wk.cols, nullptr, rows, act.data(), act.data(),
                            act.size(), Wj.data.data(), nprev, nprev, Au.data.data(), nprev,
                            false, 0, threads);
                for (std::size_t r = 0; r < rows; ++r) {
                    const double* w = Wk.row(r);
                    double acc = 0.0;
                    for (std::int32_t i : act) acc += w[i] * net.b[j][i];
                    du[r] += acc;
                    dl[r] += acc;
                }
                Al = Au;
                // Unstable part, separately for the upper and the lower form.
                const auto& uns = R.unstable;
                if (!uns.empty()) {
                    Matrix Cu, Cl;
                    relax_rows(Wk, Wk, R, uns, net.b[j], &Cu, &Cl, du, dl, threads);
                    gemm_gather(Cu.data.data(), Cu.cols, nullptr, rows, nullptr, uns.data(),
                                uns.size(), Wj.data.data(), nprev, nprev, Au.data.data(), nprev,
                                true, 0, threads);
                    gemm_gather(Cl.data.data(), Cl.cols, nullptr, rows, nullptr, uns.data(),
                                uns.size(), Wj.data.data(), nprev, nprev, Al.data.data(), nprev,
                                true, 0, threads);
                }
            }
            // Remaining steps: through layers k-2 .. 1 (0-based indices k-2 .. 0).
            for (std::size_t jj = k - 1; jj-- > 0;) {
                const Relaxation& R = relaxations[jj];
                const Matrix& Wj = net.W[jj];
                const std::size_t nprev = Wj.cols;
                const auto& nz = R.nonzero;
                Matrix Cu, Cl;
                relax_rows(Au, Al, R, nz, net.b[jj], &Cu, &Cl, du, dl, threads);
                Matrix Nu(rows, nprev), Nl(rows, nprev);
                gemm_gather(Cu.data.data(), Cu.cols, nullptr, rows, nullptr, nz.data(), nz.size(),
                            Wj.data.data(), nprev, nprev, Nu.data.data(), nprev, false, 0, threads);
                gemm_gather(Cl.data.data(), Cl.cols, nullptr, rows, nullptr, nz.data(), nz.size(),
                            Wj.data.data(), nprev, nprev, Nl.data.data(), nprev, false, 0, threads);
                Au = std::move(Nu);
                Al = std::move(Nl);
            }
            concretise(Au, du, dom, hl, hu, true, out[k].hi, threads);
            concretise(Al, dl, dom, hl, hu, false, out[k].lo, threads);
        }
        for (std::size_t i = 0; i < rows; ++i) {
            out[k].lo[i] = std::max(out[k].lo[i], ibp.lo[i]);
            out[k].hi[i] = std::min(out[k].hi[i], ibp.hi[i]);
        }
        apply_prior(out[k], prior, k);
        if (k + 1 < L) {
            relaxations.push_back(relax(out[k]));
            relu_bounds(out[k], xl, xu);
        }
    }
    return out;
}

}  // namespace lipmiq
