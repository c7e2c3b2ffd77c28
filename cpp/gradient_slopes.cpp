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
    return Slopes{s.rows, zeros_like(s.relu_lower), zeros_like(s.step_upper), zeros_like(s.step_lower),
                  zeros_like(s.prod_upper), zeros_like(s.prod_lower)};
}

std::vector<Layers*> families(Slopes& s) {
    return {&s.relu_lower, &s.step_upper, &s.step_lower, &s.prod_upper, &s.prod_lower};
}

// For every row r of the traced pass (s has one slope row per form): the value of every node through the
// lines the row chose, at the row's maximiser, and dB_r / d(slope) = coefficient * d(line)/d(slope).
void slope_gradient(const BackwardGraph& G, std::size_t level, const Slopes& s, const BackwardTrace& tr,
                    Slopes& grad) {
    const SoundNetwork& S = *G.S;
    const Network& net = *S.net;
    const std::size_t L1 = S.hidden.size(), R = s.rows;
    grad = zeros_like(s);
    // Forward: z_k at x*, through the relu line each entry's coefficient chose (layers 1..L1-1).
    Layers z(L1);
    std::vector<double> A = tr.x;
    for (std::size_t k = 1; k <= L1; ++k) {
        const Matrix& Wt = net.Wt[k - 1];
        const std::size_t nin = Wt.rows, n = Wt.cols;
        std::vector<double>& Z = z[k - 1];
        Z.assign(R * n, 0.0);
        gemm_gather(A.data(), nin, nullptr, R, nullptr, nullptr, nin, Wt.data.data(), n, n, Z.data(), n, false);
        S.work += static_cast<double>(R) * static_cast<double>(nin) * static_cast<double>(n);
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t i = 0; i < n; ++i) Z[r * n + i] += net.b[k - 1][i];
        if (k == L1) break;
        const SoundLayer& H = S.hidden[k - 1];
        const std::vector<double>& coef = tr.relu.coef[k - 1];
        const std::size_t nf = H.free.size();
        A.assign(R * n, 0.0);
        for (std::size_t r = 0; r < R; ++r) {
            for (std::size_t i = 0; i < n; ++i)
                if (H.status[i] == kOn) A[r * n + i] = Z[r * n + i];
            for (std::size_t t = 0; t < nf; ++t) {
                const std::size_t i = H.free[t], e = r * n + i;
                if (coef[e] >= 0.0) {
                    A[e] = H.su[i] * Z[e] + H.tu[i];
                } else {
                    A[e] = s.relu_lower[k - 1][r * nf + t] * Z[e];
                    grad.relu_lower[k - 1][r * nf + t] = coef[e] * Z[e];
                }
            }
        }
    }
    // Heaviside values through the chosen lines (intercepts 1 and 0 up to rounding).
    Layers d(L1);
    for (std::size_t k = level; k <= L1; ++k) {
        const SoundLayer& H = S.hidden[k - 1];
        const std::vector<double>& lam = tr.d[k - 1];
        const std::size_t n = H.status.size(), nf = H.free.size();
        d[k - 1].assign(R * n, 0.0);
        for (std::size_t r = 0; r < R; ++r) {
            for (std::size_t i = 0; i < n; ++i)
                if (H.status[i] == kOn) d[k - 1][r * n + i] = 1.0;
            for (std::size_t t = 0; t < nf; ++t) {
                const std::size_t i = H.free[t], e = r * n + i, p = r * nf + t;
                const double zi = z[k - 1][e], l = H.lo[i], u = H.hi[i];
                if (lam[e] >= 0.0) {
                    d[k - 1][e] = 1.0 + s.step_upper[k - 1][p] / (-l) * zi;
                    grad.step_upper[k - 1][p] = lam[e] * zi / (-l);
                } else {
                    d[k - 1][e] = s.step_lower[k - 1][p] / u * zi;
                    grad.step_lower[k - 1][p] = lam[e] * zi / u;
                }
            }
        }
    }
    // Backward: u_{L1} at the top's maximising corner, then v_k through the chosen planes.
    const std::size_t ntop = G.top_lo.size();
    std::vector<double> U(R * ntop), V;
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t i = 0; i < ntop; ++i) U[r * ntop + i] = tr.top[r * ntop + i] >= 0.0 ? G.top_hi[i] : G.top_lo[i];
    for (std::size_t k = L1; k >= level; --k) {
        const SoundLayer& H = S.hidden[k - 1];
        const std::vector<double>& lam = tr.v[k - 1];
        const LayerBounds& ub = G.u[k];
        const std::size_t n = H.status.size(), nf = H.free.size();
        V.assign(R * n, 0.0);
        for (std::size_t r = 0; r < R; ++r) {
            for (std::size_t i = 0; i < n; ++i)
                if (H.status[i] == kOn) V[r * n + i] = U[r * n + i];
            for (std::size_t t = 0; t < nf; ++t) {
                const std::size_t i = H.free[t], e = r * n + i, p = r * nf + t;
                const double ul = ub.lo[i], uh = ub.hi[i], di = d[k - 1][e], ui = U[e];
                if (lam[e] >= 0.0) {
                    const double b = s.prod_upper[k - 1][p];
                    const double p1 = ui + ul * (di - 1.0), p2 = uh * di;
                    V[e] = b * p1 + (1.0 - b) * p2;
                    grad.prod_upper[k - 1][p] = lam[e] * (p1 - p2);
                } else {
                    const double b = s.prod_lower[k - 1][p];
                    const double q1 = ul * di, q2 = ui + uh * (di - 1.0);
                    V[e] = b * q1 + (1.0 - b) * q2;
                    grad.prod_lower[k - 1][p] = lam[e] * (q1 - q2);
                }
            }
        }
        if (k == level) break;
        const Matrix& W = net.W[k - 1];  // u_{k-1} = W_k^T v_k, row-wise U = V W_k
        U.assign(R * W.cols, 0.0);
        gemm_gather(V.data(), n, nullptr, R, nullptr, nullptr, n, W.data.data(), W.cols, W.cols, U.data(), W.cols,
                    false);
        S.work += static_cast<double>(R) * static_cast<double>(n) * static_cast<double>(W.cols);
    }
}

}  // namespace

std::vector<double> optimise_slopes(const BackwardGraph& G, std::size_t level, const Forms& F, const Slopes& start,
                                    int iterations, const GradientOptions& opt, double target) {
    constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-30;
    Slopes s = repeat_rows(start, F.rows), m = zeros_like(s), v = zeros_like(s), grad;
    std::vector<double> best(F.rows, rnd::kInf);
    double lr = opt.step;
    for (int it = 0;; ++it) {
        BackwardTrace tr;
        const std::vector<double> value = backward_values(G, level, F, s, &tr);
        bool reached = true;
        for (std::size_t r = 0; r < F.rows; ++r) {
            best[r] = rnd::min_upper(best[r], value[r]);
            reached = reached && best[r] <= target;
        }
        if (it >= iterations || reached || opt.deadline.passed()) break;  // every evaluated slope set is certified
        slope_gradient(G, level, s, tr, grad);
        const double c1 = 1.0 - std::pow(kBeta1, it + 1), c2 = 1.0 - std::pow(kBeta2, it + 1);
        auto fs = families(s), fm = families(m), fv = families(v), fg = families(grad);
        for (std::size_t f = 0; f < fs.size(); ++f) {
            for (std::size_t k = 0; k < fs[f]->size(); ++k) {
                std::vector<double>& x = (*fs[f])[k];
                std::vector<double>& mk = (*fm[f])[k];
                std::vector<double>& vk = (*fv[f])[k];
                const std::vector<double>& gk = (*fg[f])[k];
                for (std::size_t e = 0; e < x.size(); ++e) {
                    mk[e] = kBeta1 * mk[e] + (1.0 - kBeta1) * gk[e];
                    vk[e] = kBeta2 * vk[e] + (1.0 - kBeta2) * gk[e] * gk[e];
                    x[e] = std::clamp(x[e] - lr * (mk[e] / c1) / (std::sqrt(vk[e] / c2) + kEps), 0.0, 1.0);
                }
            }
        }
        lr *= opt.decay;
    }
    return best;
}

}  // namespace lipmiq
