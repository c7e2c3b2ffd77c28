// The primal barrier method for the LipSDP multipliers (python/lipmiq/sdp/barrier.py and lipsdp_node.cpp drive
// it): minimise rho subject to Z = -M(rho, t) > 0, t > 0, by Newton steps on rho / mu - log det Z - sum log t along the
// central path.  The m + 1 unknowns are few and each A_j has rank two, so a Newton step costs one Cholesky
// factor and inverse of Z and a few products (the Hessian entries tr(Z^-1 A_i Z^-1 A_j) come from 2 x 2
// blocks of B^T Z^-1 B, B = [e_j, w_j]).  The solver only proposes t: sdp_certified_rho (lipsdp_model.cpp) proves
// the bound in float64, so nothing here needs a rounding argument.  LAPACK and BLAS are scipy-openblas32's.
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core.hpp"

namespace lipmiq {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Z = -M(rho, t) (row-major N x N; sdp_matrix, negated: negation is exact, so Z is bit for bit the one built
// with the signs flipped).
void assemble(const SdpModel& m, double rho, const std::vector<double>& t, std::vector<double>& Z) {
    sdp_matrix(m, rho, t, false, Z);
    for (double& v : Z) v = -v;
}

// Cholesky factor of Z in place (LAPACK's column-major lower triangle: Z is symmetric, so the same
// storage); false when Z is not positive definite.
bool factor(std::vector<double>& Z, std::size_t N) {
    if (N == 0) return true;
    const int n = static_cast<int>(N);
    return scipy_LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', n, Z.data(), n) == 0;
}

// phi = -log det Z - sum log t from Z's Cholesky factor L (the barrier is rho / mu + phi).
double log_barrier(const std::vector<double>& L, std::size_t N, const std::vector<double>& t) {
    double logdet = 0.0, logt = 0.0;
    for (std::size_t i = 0; i < N; ++i) logdet += std::log(L[i * N + i]);
    for (double v : t) logt += std::log(v);
    return -2.0 * logdet - logt;
}

// Z^-1 in place from Z's Cholesky factor, both triangles.
bool invert_factored(std::vector<double>& Z, std::size_t N) {
    if (N && scipy_LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'L', static_cast<int>(N), Z.data(), static_cast<int>(N)) != 0)
        return false;
    for (std::size_t c = 0; c < N; ++c)       // column-major lower = row-major upper: mirror it down
        for (std::size_t r = c + 1; r < N; ++r) Z[r * N + c] = Z[c * N + r];
    return true;
}

struct Work {
    std::vector<double> Z, ZW, d, g, H, step, trial_t, lu, sv;
    std::vector<int> piv;
    double value = 0.0;  // the barrier at the point of the last newton_system
    double phi = 0.0;    // ... its mu-free part (log_barrier)
    double trace = 0.0;  // ... and g[0]'s: g[0] = 1 / mu - trace (H does not depend on mu)
};

// The Newton system in w, computed at (rho, t) for another mu, for `mu` instead.
void set_mu(Work& w, double rho, double mu) {
    w.value = rho / mu + w.phi;
    w.g[0] = 1.0 / mu - w.trace;
}

// Every t_j > 0 (NaN is not), the barrier's domain in t.
bool positive(const std::vector<double>& t) {
    return std::all_of(t.begin(), t.end(), [](double v) { return v > 0.0; });
}

// The barrier's value at (rho, t), inf outside the domain.
double barrier_value(const SdpModel& m, double rho, const std::vector<double>& t, double mu, Work& w) {
    if (!positive(t)) return kInf;
    assemble(m, rho, t, w.Z);
    if (!factor(w.Z, m.size)) return kInf;
    return rho / mu + log_barrier(w.Z, m.size, t);
}

// The barrier's value (w.value), gradient g and Hessian H at (rho, t), a point of its domain, and Z^-1 in w.Z;
// false when Z is not positive definite.
bool newton_system(const SdpModel& m, double rho, const std::vector<double>& t, double mu, Work& w) {
    const std::size_t N = m.size, k = t.size(), n0 = m.n0, K = k + 1;
    assemble(m, rho, t, w.Z);
    if (!factor(w.Z, N)) return false;
    w.phi = log_barrier(w.Z, N, t);
    if (!invert_factored(w.Z, N)) return false;
    const double* Zi = w.Z.data();
    // ZW = Z^-1 W^T (N x k), d = W Z^-1 W^T (k x k)
    if (k && N) {
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(N), static_cast<int>(k),
                    static_cast<int>(N), 1.0, Zi, static_cast<int>(N), m.rows, static_cast<int>(N), 0.0,
                    w.ZW.data(), static_cast<int>(k));
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(k), static_cast<int>(k),
                    static_cast<int>(N), 1.0, m.rows, static_cast<int>(N), w.ZW.data(), static_cast<int>(k), 0.0,
                    w.d.data(), static_cast<int>(k));
    }
    const auto a = [&](std::size_t i, std::size_t j) { return Zi[m.index[i] * N + m.index[j]]; };  // e_i Z^-1 e_j
    const auto b = [&](std::size_t i, std::size_t j) { return w.ZW[m.index[i] * k + j]; };         // e_i Z^-1 w_j
    double trace = 0.0, frob = 0.0;
    for (std::size_t r = 0; r < n0; ++r) {
        trace += Zi[r * N + r];
        for (std::size_t c = 0; c < n0; ++c) frob += Zi[r * N + c] * Zi[r * N + c];
    }
    w.trace = trace;
    set_mu(w, rho, mu);
    w.H[0] = frob;
    for (std::size_t j = 0; j < k; ++j) {
        w.g[j + 1] = -2.0 * a(j, j) + 2.0 * b(j, j) - 1.0 / t[j];
        double fee = 0.0, few = 0.0;
        for (std::size_t r = 0; r < n0; ++r) {
            const double fe = Zi[r * N + m.index[j]], fw = w.ZW[r * k + j];
            fee += fe * fe;
            few += fe * fw;
        }
        w.H[j + 1] = w.H[(j + 1) * K] = 2.0 * fee - 2.0 * few;
    }
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < k; ++j) {
            const double aij = a(i, j), bij = b(i, j), cij = b(j, i), dij = w.d[i * k + j];
            w.H[(i + 1) * K + j + 1] = (cij - 2 * aij) * (bij - 2 * aij) + aij * (dij - 2 * bij) +
                                       aij * (dij - 2 * cij) + bij * cij;
        }
    for (std::size_t j = 0; j < k; ++j) w.H[(j + 1) * K + j + 1] += 1.0 / (t[j] * t[j]);
    for (std::size_t i = 0; i < K; ++i)
        for (std::size_t j = i + 1; j < K; ++j) w.H[i * K + j] = w.H[j * K + i] = 0.5 * (w.H[i * K + j] + w.H[j * K + i]);
    return true;
}

// The Newton step -H^-1 g (least squares when H is singular), in w.step.
void direction(std::size_t K, Work& w) {
    const int n = static_cast<int>(K);
    w.lu = w.H;
    for (std::size_t i = 0; i < K; ++i) w.step[i] = -w.g[i];
    if (scipy_LAPACKE_dgesv_work(LAPACK_COL_MAJOR, n, 1, w.lu.data(), n, w.piv.data(), w.step.data(), n) == 0) return;
    w.lu = w.H;
    for (std::size_t i = 0; i < K; ++i) w.step[i] = -w.g[i];
    int rank = 0;
    scipy_LAPACKE_dgelsd(LAPACK_COL_MAJOR, n, n, 1, w.lu.data(), n, w.step.data(), n, w.sv.data(),
                         std::numeric_limits<double>::epsilon() * n, &rank);
}

enum class Centering { centred, far, stalled };

// Newton's method on the barrier for this mu (at most opt.max_centering steps, within the budget); `ready`: w
// already holds the Newton system at x for x.mu (`recentre`'s).
Centering center(const SdpModel& m, SdpPoint& x, const SdpBarrierOptions& opt, const Deadline& deadline,
                 int& budget, std::vector<double>& dual, bool& have_dual, Work& w, bool ready = false) {
    const std::size_t k = x.t.size(), K = k + 1;
    for (int it = 0; it < opt.max_centering; ++it) {
        if (budget <= 0 || deadline.passed()) break;
        --budget;
        if (!(it == 0 && ready) && !newton_system(m, x.rho, x.t, x.mu, w)) return Centering::stalled;
        for (std::size_t i = 0; i < m.size * m.size; ++i) dual[i] = x.mu * w.Z[i];
        have_dual = true;
        direction(K, w);
        double decrement = 0.0;
        for (std::size_t i = 0; i < K; ++i) decrement -= w.g[i] * w.step[i];
        if (decrement / 2.0 <= opt.centered || !std::isfinite(decrement)) return Centering::centred;
        double s = 1.0;
        for (std::size_t j = 0; j < k; ++j)
            if (w.step[j + 1] < 0.0) s = std::min(s, 0.99 * (-x.t[j] / w.step[j + 1]));
        const double f0 = w.value;
        double r1 = x.rho;
        bool accepted = false;
        while (s > 1e-12) {
            r1 = x.rho + s * w.step[0];
            for (std::size_t j = 0; j < k; ++j) w.trial_t[j] = x.t[j] + s * w.step[j + 1];
            if (barrier_value(m, r1, w.trial_t, x.mu, w) <= f0 - opt.armijo * s * decrement) {
                accepted = true;
                break;
            }
            s *= 0.5;
        }
        if (!accepted) return Centering::stalled;
        x.rho = r1;
        x.t = w.trial_t;
    }
    return Centering::far;
}

Work workspace(std::size_t N, std::size_t k) {
    Work w;
    w.Z.resize(N * N);
    w.ZW.resize(N * k);
    w.d.resize(k * k);
    w.g.resize(k + 1);
    w.H.resize((k + 1) * (k + 1));
    w.step.resize(k + 1);
    w.trial_t.resize(k);
    w.piv.resize(k + 1);
    w.sv.resize(k + 1);
    return w;
}

// The mu for which the strictly feasible x is best centred: the barrier's gradient is s e_0 + grad phi (s = 1 / mu,
// phi = -log det Z - sum log t) and the Newton decrement's square (s e_0 + grad phi)^T H^-1 (s e_0 + grad phi) is
// least at s = -e_0^T H^-1 grad phi / e_0^T H^-1 e_0.  A warm start taken from a parent (another model) is feasible
// but far from the parent's centre here; centring it for the parent's mu took dozens of damped Newton steps.
// True when w then holds the Newton system at x for its (new) mu, the first centring step's.
bool recentre(const SdpModel& m, SdpPoint& x, Work& w) {
    const std::size_t K = x.t.size() + 1;
    if (!newton_system(m, x.rho, x.t, 1.0, w)) return false;
    std::vector<double> grad = w.g;
    grad[0] -= 1.0;  // g at mu = 1 is e_0 + grad phi
    w.lu = w.H;
    std::vector<double> y(K, 0.0);
    y[0] = 1.0;
    if (scipy_LAPACKE_dgesv_work(LAPACK_COL_MAJOR, static_cast<int>(K), 1, w.lu.data(), static_cast<int>(K),
                                 w.piv.data(), y.data(), static_cast<int>(K)) == 0) {
        double b = 0.0;
        for (std::size_t i = 0; i < K; ++i) b += y[i] * grad[i];
        const double s = -b / y[0], mu = 1.0 / s;
        if (y[0] > 0.0 && s > 0.0 && std::isfinite(s) && std::isfinite(mu)) x.mu = mu;
    }
    set_mu(w, x.rho, x.mu);
    return true;
}

}  // namespace

SdpDerivatives sdp_barrier_derivatives(const SdpModel& m, double rho, const std::vector<double>& t, double mu) {
    Work w = workspace(m.size, t.size());
    SdpDerivatives out;
    out.value = barrier_value(m, rho, t, mu, w);
    if (std::isfinite(out.value) && newton_system(m, rho, t, mu, w)) {
        out.gradient = w.g;
        out.hessian = w.H;
    }
    return out;
}

bool sdp_start(const std::vector<double>& norms, const SdpModel& m, const std::vector<std::int32_t>& layer,
               SdpPoint& out) {
    // Layer multipliers s_k I make the block-tridiagonal M negative definite when each pair of neighbouring blocks
    // is (halves of their diagonals against the coupling s_k W_k); fixing neurons keeps a point strictly feasible
    // (a compression P^T Z P of Z), so the same t works for every slope set.  Rounding is repaired by growing.
    const std::size_t L = norms.size();
    if (L < 2) return false;
    std::vector<double> s(L, 0.0), margin(L, 0.0);
    s[L - 1] = norms[L - 1] * norms[L - 1];
    margin[L - 1] = s[L - 1];  // 2 s - ||W_L||^2
    for (std::size_t k = L - 1; k > 1; --k) {  // pair (k - 1, k), coupling s_k W_k
        s[k - 1] = 4.0 * s[k] * s[k] * norms[k - 1] * norms[k - 1] / margin[k];
        margin[k - 1] = 2.0 * s[k - 1];
    }
    double rho = 8.0 * s[1] * s[1] * norms[0] * norms[0] / margin[1];
    std::vector<double> t(layer.size());
    for (std::size_t j = 0; j < t.size(); ++j) t[j] = s[static_cast<std::size_t>(layer[j]) + 1];
    Work w = workspace(m.size, t.size());
    for (int attempt = 0; attempt < 60; ++attempt) {
        if (std::isfinite(barrier_value(m, rho, t, 1.0, w))) {
            out.rho = rho;
            out.t = t;
            out.mu = rho / static_cast<double>(m.size + t.size());
            return true;
        }
        rho *= 4.0;
        for (double& v : t) v *= 2.0;
    }
    return false;
}

SdpSolution sdp_barrier_solve(const SdpModel& m, SdpPoint x, const SdpBarrierOptions& opt, const Deadline& deadline) {
    const std::size_t N = m.size, k = x.t.size();
    Work w = workspace(N, k);
    SdpSolution out;
    out.dual.assign(N * N, 0.0);
    // The re-centring's Cholesky factor of Z is the feasibility check: a start that is not strictly feasible (a
    // t_j <= 0, Z not positive definite, or a barrier that is not finite: rho or t infinite or NaN, which dpotrf
    // lets through) is the caller's to replace, unchanged
    const SdpPoint given = x;
    if (!positive(x.t) || !recentre(m, x, w) || !std::isfinite(w.value)) {
        out.started = false;
        out.point = out.warm = given;
        return out;
    }
    bool have_dual = false, have_warm = false, far = false;
    const double nu = static_cast<double>(N + k);
    int budget = opt.max_newton;
    bool ready = true;
    while (true) {
        const Centering state = center(m, x, opt, deadline, budget, out.dual, have_dual, w, ready);
        ready = false;
        if (!have_warm && nu * x.mu <= opt.warm_gap * x.rho) {
            out.warm = x;
            have_warm = true;
        }
        if (state == Centering::stalled || nu * x.mu <= opt.rtol * x.rho || budget <= 0 || deadline.passed()) break;
        // rho - nu mu bounds the optimum from below only at a centred point: the coarse stop waits for one
        if (std::isfinite(opt.target) &&
            (x.rho <= opt.target || (state == Centering::centred && nu * x.mu <= opt.coarse_rtol * x.rho &&
                                     x.rho - nu * x.mu > opt.target)))
            break;
        if (state == Centering::far && (nu * x.mu <= opt.rounding_gap * x.rho || far)) break;
        far = state == Centering::far;
        if (!far) x.mu *= opt.shrink;
    }
    if (!have_dual) {  // no Newton step ran: mu Z^-1 at the start
        assemble(m, x.rho, x.t, w.Z);
        if (factor(w.Z, N) && invert_factored(w.Z, N))
            for (std::size_t i = 0; i < N * N; ++i) out.dual[i] = x.mu * w.Z[i];
    }
    out.point = x;
    if (!have_warm) out.warm = x;
    out.newton = opt.max_newton - budget;
    return out;
}

}  // namespace lipmiq
