// Induced operator norms ||J||_{p->q}, p, q in {1, 2, inf}, for a batch of matrices.
//
// For every matrix a direction v is chosen and the returned value is ||J v||_q / ||v||_p
// evaluated in float64 for that v (an achieved value, hence a valid lower bound).  exact = 1
// when the direction is a maximiser:
//   p = 1            : max column q-norm, v = e_j
//   q = inf          : max row dual (p*) norm, v = dual maximiser of that row
//   p = q = 2        : top right singular vector (cyclic Jacobi on the smaller Gram matrix,
//                      refined by power steps)
//   inf->2, inf->1, 2->1 (NP-hard): maximise phi(M s) over s in {+-1}^d by exhaustive Gray-code
//                      enumeration (first sign fixed, rank-one updates) when d <= max_enum,
//                      otherwise deterministic multi-start alternating ascent (exact = 0).
// v is canonicalised: its largest-magnitude entry (first one among ties) is positive.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core.hpp"

namespace lipmiq {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kScaleExponent = 200;  // |log2 max|J|| beyond which one_norm rescales (squares of squares stay finite)

struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
};

double vnorm(const double* y, std::size_t n, double q) {
    if (q == 1.0) return asum(y, n);
    if (q == 2.0) return std::sqrt(dot(y, y, n));
    return amax(y, n);
}

inline double sgn(double x) { return x < 0 ? -1.0 : 1.0; }  // sign with sign(0) = +1

// phi(y) = ||y||_2^2 (two) or ||y||_1
double phi(const std::vector<double>& y, bool two) {
    double s = 0.0;
    if (two)
        for (double v : y) s += v * v;
    else
        for (double v : y) s += std::fabs(v);
    return s;
}

// y = M s where column j of M is row j of Mt (d x r).
void apply_cols(const double* Mt, std::size_t d, std::size_t r, const std::vector<double>& s,
                std::vector<double>& y) {
    y.assign(r, 0.0);
    for (std::size_t j = 0; j < d; ++j) {
        const double* c = Mt + j * r;
        const double sj = s[j];
        for (std::size_t i = 0; i < r; ++i) y[i] += sj * c[i];
    }
}

// Exhaustive maximisation of phi(M s), s in {+-1}^d with s_0 = +1, Gray-code order.
// Returns the first maximiser (strict improvement) in that order.
std::vector<double> enumerate_signs(const double* Mt, std::size_t d, std::size_t r, bool two) {
    std::vector<double> s(d, 1.0), y;
    apply_cols(Mt, d, r, s, y);
    double best = phi(y, two);
    std::uint64_t best_code = 0;
    const std::uint64_t count = std::uint64_t(1) << (d - 1);
    for (std::uint64_t i = 1; i < count; ++i) {
        const std::size_t j = static_cast<std::size_t>(__builtin_ctzll(i)) + 1;
        s[j] = -s[j];
        const double f = 2.0 * s[j];
        const double* c = Mt + j * r;
        if ((i & 4095) == 0) {
            apply_cols(Mt, d, r, s, y);  // limit drift of the incremental updates
        } else {
            for (std::size_t t = 0; t < r; ++t) y[t] += f * c[t];
        }
        const double v = phi(y, two);
        if (v > best) {
            best = v;
            best_code = i ^ (i >> 1);
        }
    }
    std::vector<double> out(d, 1.0);
    for (std::size_t j = 1; j < d; ++j)
        if ((best_code >> (j - 1)) & 1) out[j] = -1.0;
    return out;
}

// Alternating ascent from one start; returns the final value phi(M s).
double ascend(const double* Mt, std::size_t d, std::size_t r, bool two, std::vector<double>& s) {
    std::vector<double> y, s2(d);
    apply_cols(Mt, d, r, s, y);
    double val = phi(y, two);
    for (int it = 0; it < 100; ++it) {
        // g = grad phi direction; s2 = sign(M^T g)
        for (double& v : y) v = two ? v : sgn(v);
        for (std::size_t j = 0; j < d; ++j) {
            const double* c = Mt + j * r;
            s2[j] = sgn(dot(c, y.data(), r));
        }
        if (s2 == s) break;
        std::vector<double> y2;
        apply_cols(Mt, d, r, s2, y2);
        const double v2 = phi(y2, two);
        if (!(v2 > val)) break;
        s = s2;
        y = std::move(y2);
        val = v2;
    }
    return val;
}

// Multi-start ascent: start 0 = sign of the row of M (column of Mt) with the largest 1-norm,
// then `restarts` random sign vectors from SplitMix64(seed).  First best (strict) wins.
std::vector<double> ascent_signs(const double* Mt, std::size_t d, std::size_t r, bool two,
                                 int restarts, std::uint64_t seed) {
    std::size_t istar = 0;
    double bestrow = -1.0;
    for (std::size_t i = 0; i < r; ++i) {
        double a = 0.0;
        for (std::size_t j = 0; j < d; ++j) a += std::fabs(Mt[j * r + i]);
        if (a > bestrow) {
            bestrow = a;
            istar = i;
        }
    }
    std::vector<double> s(d), best_s;
    for (std::size_t j = 0; j < d; ++j) s[j] = sgn(Mt[j * r + istar]);
    double best = ascend(Mt, d, r, two, s);
    best_s = s;
    SplitMix64 rng{seed};
    for (int k = 0; k < restarts; ++k) {
        for (std::size_t j = 0; j < d; ++j) s[j] = (rng.next() >> 63) ? -1.0 : 1.0;
        const double v = ascend(Mt, d, r, two, s);
        if (v > best) {
            best = v;
            best_s = s;
        }
    }
    return best_s;
}

void canonical_sign(double* v, std::size_t n) {
    std::size_t imax = 0;
    double amax = -1.0;
    for (std::size_t i = 0; i < n; ++i)
        if (std::fabs(v[i]) > amax) {
            amax = std::fabs(v[i]);
            imax = i;
        }
    if (v[imax] < 0)
        for (std::size_t i = 0; i < n; ++i) v[i] = -v[i];
}

void two_two(const double* A, std::size_t m, std::size_t n, double* v) {
    const bool left = m <= n;  // Gram of the smaller side
    const std::size_t k = left ? m : n;
    std::vector<double> G = smaller_gram(A, m, n);
    std::vector<double> ev, E;
    jacobi_eigen(G, k, ev, E);
    std::size_t top = 0;
    for (std::size_t i = 1; i < k; ++i)
        if (ev[i] > ev[top]) top = i;
    std::vector<double> x(n, 0.0), y(m, 0.0);
    if (left) {
        for (std::size_t i = 0; i < m; ++i) {
            const double e = E[i * k + top];
            for (std::size_t t = 0; t < n; ++t) x[t] += e * A[i * n + t];
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) x[i] = E[i * k + top];
    }
    // Power refinement on J^T J (monotone in the Rayleigh quotient).
    for (int it = 0; it < 3; ++it) {
        double nx = vnorm(x.data(), n, 2.0);
        if (nx == 0.0) break;
        for (double& a : x) a /= nx;
        for (std::size_t i = 0; i < m; ++i) y[i] = dot(A + i * n, x.data(), n);
        std::vector<double> x2(n, 0.0);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t t = 0; t < n; ++t) x2[t] += y[i] * A[i * n + t];
        if (vnorm(x2.data(), n, 2.0) == 0.0) break;
        x = std::move(x2);
    }
    double nx = vnorm(x.data(), n, 2.0);
    if (!(nx > 0.0)) {  // cannot happen for a non-zero matrix; fall back to the best column
        std::size_t jb = 0;
        double b = -1.0;
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (std::size_t i = 0; i < m; ++i) s += A[i * n + j] * A[i * n + j];
            if (s > b) b = s, jb = j;
        }
        std::fill(x.begin(), x.end(), 0.0);
        x[jb] = 1.0;
        nx = 1.0;
    }
    for (std::size_t i = 0; i < n; ++i) v[i] = x[i] / nx;
}

// One matrix. Returns exact flag; fills v (n) and norm.
bool one_norm(const double* A, std::size_t m, std::size_t n, double p, double q, int max_enum,
              int restarts, std::uint64_t seed, double& norm, double* v) {
    const double top = amax(A, m * n);
    std::fill(v, v + n, 0.0);
    if (top == 0.0) {
        norm = 0.0;
        v[0] = 1.0;
        return true;
    }
    if (!std::isfinite(top)) {  // no direction can be certified: the caller's upper bound becomes inf
        norm = top;
        v[0] = 1.0;
        return false;
    }
    // The 2->2 Gram and Jacobi steps square entries twice (J^4): past |J| ~ 2^256 they overflow, below
    // 2^-256 they underflow. Far from 1, work on 2^-e J (exact, but for entries 2^1074 below the largest)
    // and scale the value back; the direction does not depend on the scale.
    const int e = std::ilogb(top);
    if (e > kScaleExponent || e < -kScaleExponent) {
        std::vector<double> scaled(A, A + m * n);
        for (double& a : scaled) a = std::ldexp(a, -e);
        const bool exact = one_norm(scaled.data(), m, n, p, q, max_enum, restarts, seed, norm, v);
        norm = std::ldexp(norm, e);
        return exact && std::isfinite(norm);
    }
    bool exact = true;
    if (p == 1.0) {
        // column q-norms accumulated row by row (contiguous, vectorisable)
        std::vector<double> col(n, 0.0);
        for (std::size_t i = 0; i < m; ++i) {
            const double* a = A + i * n;
            if (q == 1.0)
                for (std::size_t j = 0; j < n; ++j) col[j] += std::fabs(a[j]);
            else if (q == 2.0)
                for (std::size_t j = 0; j < n; ++j) col[j] += a[j] * a[j];
            else
                for (std::size_t j = 0; j < n; ++j) col[j] = std::max(col[j], std::fabs(a[j]));
        }
        std::size_t jb = 0;
        for (std::size_t j = 1; j < n; ++j)
            if (col[j] > col[jb]) jb = j;
        v[jb] = 1.0;
    } else if (q == kInf) {
        const double pstar = (p == 2.0) ? 2.0 : 1.0;  // p = inf -> 1, p = 2 -> 2
        std::size_t ib = 0;
        double best = -1.0;
        for (std::size_t i = 0; i < m; ++i) {
            const double c = vnorm(A + i * n, n, pstar);
            if (c > best) best = c, ib = i;
        }
        const double* a = A + ib * n;
        if (p == 2.0)
            for (std::size_t j = 0; j < n; ++j) v[j] = a[j] / best;
        else
            for (std::size_t j = 0; j < n; ++j) v[j] = sgn(a[j]);
    } else if (p == 2.0 && q == 2.0) {
        two_two(A, m, n, v);
    } else {
        // NP-hard pairs: maximise phi(M s) over s in {+-1}^d.
        // inf->2: M = J (d = n). inf->1: M = J (d = n) if n <= m, else M = J^T (d = m).
        // 2->1: M = J^T (d = m), phi = squared 2-norm.
        const bool over_rows = (p == 2.0) || (q == 1.0 && m < n);  // s indexes rows of J
        const bool two = (q == 2.0) || (p == 2.0);
        const std::size_t d = over_rows ? m : n, r = over_rows ? n : m;
        std::vector<double> Mt(d * r);
        if (over_rows) {
            std::copy(A, A + m * n, Mt.begin());  // Mt = J (m x n): column i of J^T = row i of J
        } else {
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < n; ++j) Mt[j * m + i] = A[i * n + j];  // J^T
        }
        std::vector<double> s;
        if (static_cast<long long>(d) <= max_enum) {
            s = enumerate_signs(Mt.data(), d, r, two);
        } else {
            s = ascent_signs(Mt.data(), d, r, two, restarts, seed);
            exact = false;
        }
        if (!over_rows) {
            std::copy(s.begin(), s.end(), v);
        } else {
            std::vector<double> jt;  // J^T t
            apply_cols(Mt.data(), d, r, s, jt);
            if (p == 2.0) {
                const double nj = vnorm(jt.data(), n, 2.0);
                for (std::size_t j = 0; j < n; ++j) v[j] = jt[j] / nj;
            } else {
                for (std::size_t j = 0; j < n; ++j) v[j] = sgn(jt[j]);
            }
        }
    }
    canonical_sign(v, n);
    std::vector<double> y(m, 0.0);
    for (std::size_t i = 0; i < m; ++i) y[i] = dot(A + i * n, v, n);
    norm = vnorm(y.data(), m, q) / vnorm(v, n, p);
    return exact;
}

}  // namespace

std::vector<double> smaller_gram(const double* A, std::size_t m, std::size_t n) {
    const bool left = m <= n;
    const std::size_t k = left ? m : n;
    std::vector<double> G(k * k, 0.0);
    if (left) {
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = i; j < m; ++j) G[i * k + j] = G[j * k + i] = dot(A + i * n, A + j * n, n);
    } else {
        for (std::size_t t = 0; t < m; ++t) {
            const double* a = A + t * n;
            for (std::size_t i = 0; i < n; ++i) {
                const double ai = a[i];
                if (ai == 0.0) continue;
                for (std::size_t j = i; j < n; ++j) G[i * k + j] += ai * a[j];
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < i; ++j) G[i * k + j] = G[j * k + i];
    }
    return G;
}

void operator_norms(const double* J, std::size_t batch, std::size_t m, std::size_t n, double p,
                    double q, int max_enum, int restarts, std::uint64_t seed, double* norms,
                    double* V, std::uint8_t* exact) {
    for (std::size_t b = 0; b < batch; ++b) {
        double nb = 0.0;
        const bool ex = one_norm(J + b * m * n, m, n, p, q, max_enum, restarts, seed, nb, V + b * n);
        norms[b] = nb;
        exact[b] = ex ? 1 : 0;
    }
}

}  // namespace lipmiq
