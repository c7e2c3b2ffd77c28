// Certified norms: every value is an upper bound on the exact norm despite float64 rounding
// (sums of nonnegative terms are inflated by their gamma_n allowance, single operations rounded with
// nextafter; see rounding.hpp).
#include "interval_norms.hpp"

#include <algorithm>
#include <cmath>

#include "core.hpp"
#include "rounding.hpp"

namespace lipmiq {

using rnd::add_up;
using rnd::allowance_factor;
using rnd::kInf;
using rnd::mul_up;
using rnd::sqrt_up;

namespace {

// Sum of nonnegative floats rounded upward (no products, so no underflow).
double sum_up(const double* a, std::size_t n, std::size_t stride = 1) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += a[i * stride];
    return add_up(s, mul_up(allowance_factor(n), s));
}

// Sum of squares rounded upward (a square may underflow: the allowance applies when some entry is nonzero).
double sumsq_up(const double* a, std::size_t n) {
    double s = 0.0;
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) s += a[i] * a[i], any |= (a[i] != 0.0);
    if (!any) return 0.0;
    return add_up(add_up(s, mul_up(allowance_factor(n + 1), s)), rnd::underflow_allowance(n, 0.0));
}

double dual_of(double p) { return p == 1.0 ? kInf : p == 2.0 ? 2.0 : 1.0; }

// |y| rounded upward for y = M s, s in {+-1}^n (M: m x n; rowabs[i] = sum_j |M_ij| as float64): the float
// dot product is off by at most gamma_n rowabs (plus underflow when the row is nonzero).
void signed_product_up(const std::vector<double>& M, std::size_t m, std::size_t n, const std::vector<double>& s,
                       const std::vector<double>& rowabs, std::vector<double>& y) {
    const double fac = allowance_factor(n + 1), tiny = rnd::underflow_allowance(n, 0.0);
    y.resize(m);
    for (std::size_t i = 0; i < m; ++i) {
        const double v = std::fabs(dot(M.data() + i * n, s.data(), n));
        y[i] = rowabs[i] == 0.0 ? 0.0 : add_up(add_up(v, mul_up(fac, rowabs[i])), tiny);
    }
}

// max over s in {+-1}^n of ||M s||_r (s and -s alike): ||M||_{inf->r} for r in {1, 2}; M is m x n.
double max_over_signs_up(const std::vector<double>& M, std::size_t m, std::size_t n, double r) {
    std::vector<double> rowabs(m), s(n, 1.0), y;
    for (std::size_t i = 0; i < m; ++i) {
        double a = 0.0;
        for (std::size_t j = 0; j < n; ++j) a += std::fabs(M[i * n + j]);
        rowabs[i] = rnd::up(a * (1.0 + allowance_factor(n)));
    }
    double best = 0.0;
    const std::size_t total = n == 0 ? 1 : std::size_t(1) << (n - 1);
    for (std::size_t mask = 0; mask < total; ++mask) {
        for (std::size_t j = 1; j < n; ++j) s[j] = ((mask >> (j - 1)) & 1) ? -1.0 : 1.0;
        signed_product_up(M, m, n, s, rowabs, y);
        best = std::max(best, norm_up(y, r));
    }
    return best;
}

std::vector<double> transpose(const std::vector<double>& M, std::size_t m, std::size_t n) {
    std::vector<double> T(n * m);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) T[j * m + i] = M[i * n + j];
    return T;
}

// C = fl(A B) and, when `mag` is given, the entrywise float value of |A| |B| (A: r x k, B: k x c).
std::vector<double> product(const std::vector<double>& A, const std::vector<double>& B, std::size_t r, std::size_t k,
                            std::size_t c, std::vector<double>* mag = nullptr) {
    std::vector<double> C(r * c, 0.0);
    if (mag) mag->assign(r * c, 0.0);
    for (std::size_t i = 0; i < r; ++i)
        for (std::size_t t = 0; t < k; ++t) {
            const double a = A[i * k + t];
            for (std::size_t j = 0; j < c; ++j) {
                C[i * c + j] += a * B[t * c + j];
                if (mag) (*mag)[i * c + j] += std::fabs(a) * std::fabs(B[t * c + j]);
            }
        }
    return C;
}

// ||M||_2 rounded upward, M m x n.  G = M M^T or M^T M (k x k, the smaller side), |fl(G) - G| <= E =
// gamma |M||M|^T.  With V the Jacobi eigenvectors of fl(G), B = V^T G V is enclosed entrywise by
// fl(V^T fl(fl(G) V)) +- Err (each product off by gamma |.||.|, and V^T (G - fl(G)) V by |V|^T E |V|);
// lambda_max(B) <= max Gershgorin row bound; by Ostrowski, lambda_max(B) = theta lambda_max(G) with
// theta >= sigma_min(V)^2 >= 1 - ||V^T V - I||_F, so lambda_max(G) <= lambda_max(B) / (1 - delta).
// Also ||M||_2 <= ||M||_F; the smaller is returned.
double spectral_norm_up(const std::vector<double>& M, std::size_t m, std::size_t n) {
    const double frobenius = sqrt_up(sumsq_up(M.data(), m * n));
    if (m == 0 || n == 0 || frobenius == 0.0) return 0.0;
    if (!std::isfinite(frobenius)) return frobenius;  // overflow: the Gram steps below would give NaN
    const bool rows_side = m <= n;
    const std::size_t k = rows_side ? m : n, inner = rows_side ? n : m;
    const std::vector<double> Mt = transpose(M, m, n);
    std::vector<double> E;
    const std::vector<double> G = rows_side ? product(M, Mt, m, n, m, &E) : product(Mt, M, n, m, n, &E);
    const double tiny = rnd::underflow_allowance(inner, 0.0);
    for (double& e : E) e = add_up(mul_up(allowance_factor(inner + 1), e), tiny);
    std::vector<double> Gc = G, evals, V;
    jacobi_eigen(Gc, k, evals, V);
    std::vector<double> absV(V.size()), absG(G.size());
    for (std::size_t i = 0; i < V.size(); ++i) absV[i] = std::fabs(V[i]);
    for (std::size_t i = 0; i < G.size(); ++i) absG[i] = std::fabs(G[i]);
    const std::vector<double> Vt = transpose(V, k, k), absVt = transpose(absV, k, k);
    std::vector<double> Bmag;
    const std::vector<double> T = product(G, V, k, k, k);                                  // fl(G V)
    const std::vector<double> B = product(Vt, T, k, k, k, &Bmag);                          // fl(V^T T), |V^T| |T|
    const std::vector<double> VEV = product(absVt, product(absG, absV, k, k, k), k, k, k);  // |V|^T |G| |V|
    const std::vector<double> VtEV = product(absVt, product(E, absV, k, k, k), k, k, k);    // |V|^T E |V|
    const double fac = allowance_factor(2 * k + 2);
    double lambda = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
        double row = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
            // |B_exact - B| <= gamma_k (|V|^T |T| + |V|^T |G| |V|) + |V|^T E |V|; Bmag = |V|^T |T| in float.
            const double err = add_up(add_up(mul_up(fac, add_up(Bmag[i * k + j], VEV[i * k + j])),
                                             mul_up(1.0 + fac, VtEV[i * k + j])),
                                      tiny);
            const double b = i == j ? B[i * k + j] : std::fabs(B[i * k + j]);
            row = add_up(row, add_up(b, err));
        }
        lambda = std::max(lambda, row);
    }
    // delta >= ||V^T V - I||_F.
    std::vector<double> VVmag;
    const std::vector<double> VV = product(Vt, V, k, k, k, &VVmag);
    double dsq = 0.0;
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < k; ++j) {
            const double e = std::fabs(VV[i * k + j] - (i == j ? 1.0 : 0.0));
            const double bound = add_up(add_up(e, mul_up(allowance_factor(k + 1), VVmag[i * k + j])),
                                        mul_up(rnd::kUnit * 2.0, e));
            dsq = add_up(dsq, mul_up(bound, bound));
        }
    const double delta = sqrt_up(add_up(dsq, mul_up(allowance_factor(k * k), dsq)));
    if (!(delta < 0.5)) return frobenius;
    const double spectral = sqrt_up(rnd::up(lambda / rnd::sub_down(1.0, delta)));
    return std::min(frobenius, spectral);
}

}  // namespace

double norm_up(const std::vector<double>& y, double r) {
    for (double v : y)
        if (std::isnan(v)) return kInf;
    if (r == 1.0) return sum_up(y.data(), y.size());
    if (r == 2.0) return sqrt_up(sumsq_up(y.data(), y.size()));
    double m = 0.0;
    for (double v : y) m = std::max(m, v);
    return m;
}

// |J| <= A entrywise gives ||J v||_q <= ||A |v| ||_q, so ||J||_{p->q} <= ||A||_{p->q}.  For A >= 0:
// p = 1: max column q-norm; q = inf: max row p*-norm; p = inf: ||A 1||_q (|v| <= 1 and A >= 0);
// p = 2, q = 1: ||A^T 1||_2; p = q = 2: the certified spectral norm.
double nonnegative_norm_up(const std::vector<double>& A, std::size_t m, std::size_t n, double p, double q) {
    if (m == 0 || n == 0) return 0.0;
    for (double a : A)
        if (!std::isfinite(a)) return kInf;
    if (p == 1.0) {
        double best = 0.0;
        std::vector<double> col(m);
        for (std::size_t j = 0; j < n; ++j) {
            for (std::size_t i = 0; i < m; ++i) col[i] = A[i * n + j];
            best = std::max(best, norm_up(col, q));
        }
        return best;
    }
    if (q == kInf) {
        double best = 0.0;
        for (std::size_t i = 0; i < m; ++i)
            best = std::max(best, norm_up(std::vector<double>(A.begin() + i * n, A.begin() + (i + 1) * n), dual_of(p)));
        return best;
    }
    if (p == kInf) {
        std::vector<double> rows(m);
        for (std::size_t i = 0; i < m; ++i) rows[i] = sum_up(A.data() + i * n, n);
        return norm_up(rows, q);
    }
    std::vector<double> cols(n);
    for (std::size_t j = 0; j < n; ++j) cols[j] = sum_up(A.data() + j, m, n);
    if (q == 1.0) return norm_up(cols, 2.0);
    return spectral_norm_up(A, m, n);
}

double interval_matrix_norm_up(const std::vector<double>& lo, const std::vector<double>& hi, std::size_t m,
                               std::size_t n, double p, double q, std::size_t max_enum) {
    std::vector<double> mid(m * n), rad(m * n);
    for (std::size_t i = 0; i < m * n; ++i) {
        if (!std::isfinite(lo[i]) || !std::isfinite(hi[i])) return kInf;
        mid[i] = 0.5 * lo[i] + 0.5 * hi[i];
        rad[i] = std::max(rnd::sub_up(hi[i], mid[i]), rnd::sub_up(mid[i], lo[i]));
    }
    double centre = kInf;
    if (p == 2.0 && q == 2.0) {
        centre = spectral_norm_up(mid, m, n);
    } else if (p == kInf && q == 1.0 && std::min(m, n) <= max_enum) {
        // ||M||_{inf->1} = max_s ||M s||_1 = ||M^T||_{inf->1}: enumerate the smaller side.
        centre = n <= m ? max_over_signs_up(mid, m, n, 1.0) : max_over_signs_up(transpose(mid, m, n), n, m, 1.0);
    } else if (p == kInf && q == 2.0 && n <= max_enum) {
        centre = max_over_signs_up(mid, m, n, 2.0);
    } else if (p == 2.0 && q == 1.0 && m <= max_enum) {
        // ||M||_{2->1} = max_{t in {+-1}^m} ||M^T t||_2.
        centre = max_over_signs_up(transpose(mid, m, n), n, m, 2.0);
    } else {
        std::vector<double> absmid(m * n);
        for (std::size_t i = 0; i < m * n; ++i) absmid[i] = std::fabs(mid[i]);
        centre = nonnegative_norm_up(absmid, m, n, p, q);  // exact for p = 1 or q = inf
    }
    return add_up(centre, nonnegative_norm_up(rad, m, n, p, q));
}

}  // namespace lipmiq
