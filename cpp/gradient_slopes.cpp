// Slope optimisation of a final bound (alpha-CROWN style, without autodiff).
//
// For fixed line choices the back-substituted value is B = max_x (A(theta) x + c(theta)), and A, c are
// affine in each slope theta_j (a slope enters through exactly one node: the node's coefficient lambda
// times the line).  By Danskin, dB/dtheta_j = lambda_j * d(line_j)/d(theta_j) evaluated at the node's input
// value at the maximiser x*, where every node's value is computed forward through the lines the
// back-substitution chose (the substitution is a composition of those affine maps).  The steps are
// projected Adam steps on slopes scaled to [0, 1]; every evaluated slope set gives a certified value
// (the relaxations are valid for any slope in range), so the result is the minimum over the evaluations.
#include <algorithm>
#include <cmath>

#include "gradient_graph.hpp"
#include "rounding.hpp"

namespace lipmiq {

namespace {

using Layers = std::vector<std::vector<double>>;

Layers zeros_like(const Layers& a) {
    Layers z(a.size());
    for (std::size_t k = 0; k < a.size(); ++k) z[k].assign(a[k].size(), 0.0);
    return z;
}

Slopes zeros_like(const Slopes& s) {
    return Slopes{zeros_like(s.relu_lower), zeros_like(s.step_upper), zeros_like(s.step_lower),
                  zeros_like(s.prod_upper), zeros_like(s.prod_lower)};
}

std::vector<Layers*> families(Slopes& s) {
    return {&s.relu_lower, &s.step_upper, &s.step_lower, &s.prod_upper, &s.prod_lower};
}

// Values of every node through the chosen lines at the trace's maximiser, and dB/dslope.
void slope_gradient(const BackwardGraph& G, const Slopes& s, const BackwardTrace& tr, Slopes& grad) {
    const SoundNetwork& S = *G.S;
    const Network& net = *S.net;
    const std::size_t L1 = S.hidden.size();
    grad = zeros_like(s);
    // Forward: z_k at x*, through the relu line each neuron's coefficient chose (layers 1..L1-1).
    Layers z(L1);
    std::vector<double> a = tr.x;
    for (std::size_t k = 1; k <= L1; ++k) {
        const Matrix& W = net.W[k - 1];
        z[k - 1].assign(W.rows, 0.0);
        for (std::size_t i = 0; i < W.rows; ++i) z[k - 1][i] = net.b[k - 1][i] + dot(W.row(i), a.data(), W.cols);
        if (k == L1) break;
        const SoundLayer& H = S.hidden[k - 1];
        const std::vector<double>& coef = tr.relu.coef[k - 1];
        a.assign(W.rows, 0.0);
        for (std::size_t i = 0; i < W.rows; ++i) {
            const double zi = z[k - 1][i];
            if (H.status[i] == kOn) {
                a[i] = zi;
            } else if (H.status[i] == kFree) {
                if (coef[i] >= 0.0) {
                    a[i] = H.su[i] * zi + H.tu[i];
                } else {
                    a[i] = s.relu_lower[k - 1][i] * zi;
                    grad.relu_lower[k - 1][i] = coef[i] * zi;
                }
            }
        }
    }
    // Heaviside values through the chosen lines (intercepts 1 and 0 up to rounding).
    Layers d(L1);
    for (std::size_t k = 1; k <= L1; ++k) {
        const SoundLayer& H = S.hidden[k - 1];
        const std::vector<double>& lam = tr.d[k - 1];
        d[k - 1].assign(H.status.size(), 0.0);
        if (lam.empty()) continue;
        for (std::size_t i = 0; i < H.status.size(); ++i) {
            if (H.status[i] == kOn) {
                d[k - 1][i] = 1.0;
            } else if (H.status[i] == kFree) {
                const double zi = z[k - 1][i], l = H.lo[i], u = H.hi[i];
                if (lam[i] >= 0.0) {
                    d[k - 1][i] = 1.0 + s.step_upper[k - 1][i] / (-l) * zi;
                    grad.step_upper[k - 1][i] = lam[i] * zi / (-l);
                } else {
                    d[k - 1][i] = s.step_lower[k - 1][i] / u * zi;
                    grad.step_lower[k - 1][i] = lam[i] * zi / u;
                }
            }
        }
    }
    // Backward: u_{L1} at the top's maximising corner, then v_k through the chosen planes.
    std::vector<double> u(G.top_lo.size());
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = tr.top[i] >= 0.0 ? G.top_hi[i] : G.top_lo[i];
    for (std::size_t k = L1; k >= 1; --k) {
        const SoundLayer& H = S.hidden[k - 1];
        const std::vector<double>& lam = tr.v[k - 1];
        if (lam.empty()) break;
        const LayerBounds& ub = G.u[k];
        std::vector<double> v(u.size(), 0.0);
        for (std::size_t i = 0; i < u.size(); ++i) {
            if (H.status[i] == kOn) {
                v[i] = u[i];
            } else if (H.status[i] == kFree) {
                const double ul = ub.lo[i], uh = ub.hi[i], di = d[k - 1][i];
                if (lam[i] >= 0.0) {
                    const double b = s.prod_upper[k - 1][i];
                    const double p1 = u[i] + ul * (di - 1.0), p2 = uh * di;
                    v[i] = b * p1 + (1.0 - b) * p2;
                    grad.prod_upper[k - 1][i] = lam[i] * (p1 - p2);
                } else {
                    const double b = s.prod_lower[k - 1][i];
                    const double q1 = ul * di, q2 = u[i] + uh * (di - 1.0);
                    v[i] = b * q1 + (1.0 - b) * q2;
                    grad.prod_lower[k - 1][i] = lam[i] * (q1 - q2);
                }
            }
        }
        if (k == 1) break;
        const Matrix& Wt = (*G.Wt)[k - 1];  // W_k^T: u_{k-1} = W_k^T v_k
        u.assign(Wt.rows, 0.0);
        for (std::size_t t = 0; t < Wt.rows; ++t) u[t] = dot(Wt.row(t), v.data(), Wt.cols);
    }
}

}  // namespace

double optimise_slopes(const BackwardGraph& G, const Forms& F, const Slopes& start, const GradientOptions& opt) {
    constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-30;
    Slopes s = start, m = zeros_like(start), v = zeros_like(start), grad;
    double best = rnd::kInf, lr = opt.step;
    for (int it = 0;; ++it) {
        BackwardTrace tr;
        const double value = backward_values(G, 1, F, s, &tr)[0];
        best = rnd::min_upper(best, value);
        if (it >= opt.iterations) break;
        slope_gradient(G, s, tr, grad);
        const double c1 = 1.0 - std::pow(kBeta1, it + 1), c2 = 1.0 - std::pow(kBeta2, it + 1);
        auto fs = families(s), fm = families(m), fv = families(v), fg = families(grad);
        for (std::size_t f = 0; f < fs.size(); ++f) {
            for (std::size_t k = 0; k < fs[f]->size(); ++k) {
                for (std::int32_t j : G.S->hidden[k].free) {
                    const double g = (*fg[f])[k][j];
                    double& mj = (*fm[f])[k][j];
                    double& vj = (*fv[f])[k][j];
                    mj = kBeta1 * mj + (1.0 - kBeta1) * g;
                    vj = kBeta2 * vj + (1.0 - kBeta2) * g * g;
                    double& x = (*fs[f])[k][j];
                    x = std::clamp(x - lr * (mj / c1) / (std::sqrt(vj / c2) + kEps), 0.0, 1.0);
                }
            }
        }
        lr *= opt.decay;
    }
    return best;
}

}  // namespace lipmiq
