// Pattern branch-and-bound: max over g in {0,1}^n of ||s0 + sum_i g_i a_i||_r, r in {1, 2, inf},
// and the ordering of neurons for optimisation-based bound tightening.
//
// Depth-first over the neurons (sorted by ||a_i||_2, largest first).  A node fixes g_0..g_{k-1};
// the running sum s = s0 + sum_{i<k} g_i a_i and t_i = a_i . s (i >= k) are updated by rank-one
// steps (one row of the Gram matrix) when a neuron is switched on.  Upper bound of a subtree
// (U = {k..n-1}):
//   r = 2: min of
//     (a) ||s||^2 + sum_{i in U} max(0, 2 t_i + G_ii + sum_{j in U, j != i} max(0, G_ij)),
//         from ||s + sum g_i a_i||^2 = ||s||^2 + sum_i g_i (2 t_i + G_ii + sum_{j != i} g_j G_ij);
//     (b) sum_c max((s_c + P_c)^2, (s_c + N_c)^2), P_c / N_c the sums of the positive / negative
//         entries of coordinate c over U (each coordinate maximised on its own);
//   r = 1: sum_c max(|s_c + P_c|, |s_c + N_c|);  r = inf: max_c of the same (exact).
// A subtree is cut when its bound is <= the incumbent, so the incumbent is the maximum up to
// floating-point rounding of the bounds (relative ~1e-13) when the search completes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "core.hpp"

namespace lipmiq {

namespace {

double vec_norm(const std::vector<double>& s, double r) {
    if (r == 1.0) return asum(s.data(), s.size());
    if (r == 2.0) return std::sqrt(dot(s.data(), s.data(), s.size()));
    return amax(s.data(), s.size());
}

struct Searcher {
    std::size_t n, d;
    double r;
    std::vector<double> A;              // sorted rows, n x d
    std::vector<double> G;              // Gram matrix n x n (r = 2)
    std::vector<double> Gpos_suffix;    // n x (n+1): sum_{j >= k} max(0, G_ij)
    std::vector<double> Pc, Nc;         // (n+1) x d suffix sums of positive / negative entries
    std::vector<double> s, t;
    std::vector<std::uint8_t> g, best_g;
    double best;                        // incumbent in the search's units (squared for r = 2)
    std::uint64_t nodes = 0, node_limit;
    std::chrono::steady_clock::time_point deadline;
    bool stopped = false;

    double value() const {
        if (r == 2.0) return dot(s.data(), s.data(), d);
        return vec_norm(s, r);
    }

    double bound(std::size_t k) const {
        const double* P = Pc.data() + k * d;
        const double* N = Nc.data() + k * d;
        double coord = 0.0;
        for (std::size_t c = 0; c < d; ++c) {
            const double hi = s[c] + P[c], lo = s[c] + N[c];
            const double m = std::max(std::fabs(hi), std::fabs(lo));
            if (r == 1.0)
                coord += m;
            else if (r == 2.0)
                coord += m * m;
            else
                coord = std::max(coord, m);
        }
        if (r != 2.0) return coord;
        double quad = dot(s.data(), s.data(), d);
        for (std::size_t i = k; i < n; ++i) {
            const double gii = G[i * n + i];
            const double others = Gpos_suffix[i * (n + 1) + k] - std::max(0.0, gii);
            quad += std::max(0.0, 2.0 * t[i] + gii + others);
        }
        return std::min(coord, quad);
    }

    void add(std::size_t i, double sign) {
        const double* a = A.data() + i * d;
        for (std::size_t c = 0; c < d; ++c) s[c] += sign * a[c];
        if (r == 2.0) {
            const double* Gi = G.data() + i * n;
            for (std::size_t j = 0; j < n; ++j) t[j] += sign * Gi[j];
        }
    }

    void consider() {
        const double v = value();
        if (v > best) {
            best = v;
            best_g = g;
        }
    }

    void dfs(std::size_t k) {
        ++nodes;
        if ((nodes & 1023) == 0 &&
            (nodes >= node_limit || std::chrono::steady_clock::now() > deadline)) {
            stopped = true;
        }
        if (stopped) return;
        if (k == n) {
            consider();
            return;
        }
        if (!(bound(k) > best)) return;
        // Try first the branch whose immediate effect is larger.
        const double gain = (r == 2.0) ? 2.0 * t[k] + G[k * n + k] : 0.0;
        const bool on_first = r == 2.0 ? gain > 0.0 : true;
        for (int pass = 0; pass < 2 && !stopped; ++pass) {
            const bool on = (pass == 0) == on_first;
            if (on) {
                g[k] = 1;
                add(k, 1.0);
                if (r != 2.0 || gain > 0.0) consider();
                dfs(k + 1);
                add(k, -1.0);
                g[k] = 0;
            } else {
                dfs(k + 1);
            }
        }
    }
};

}  // namespace

PatternResult pattern_max(const double* A, std::size_t n, std::size_t d, const double* s0,
                          double r, double incumbent, std::uint64_t node_limit,
                          double time_limit) {
    Searcher S;
    S.n = n;
    S.d = d;
    S.r = r;
    S.node_limit = node_limit;
    S.deadline = std::chrono::steady_clock::now() +
                 std::chrono::microseconds(static_cast<std::int64_t>(
                     std::min(time_limit, 1e9) * 1e6));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> len(n);
    for (std::size_t i = 0; i < n; ++i) len[i] = dot(A + i * d, A + i * d, d);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return len[a] > len[b]; });
    S.A.resize(n * d);
    for (std::size_t i = 0; i < n; ++i)
        std::copy(A + order[i] * d, A + order[i] * d + d, S.A.begin() + i * d);
    S.Pc.assign((n + 1) * d, 0.0);
    S.Nc.assign((n + 1) * d, 0.0);
    for (std::size_t k = n; k-- > 0;) {
        for (std::size_t c = 0; c < d; ++c) {
            const double a = S.A[k * d + c];
            S.Pc[k * d + c] = S.Pc[(k + 1) * d + c] + std::max(a, 0.0);
            S.Nc[k * d + c] = S.Nc[(k + 1) * d + c] + std::min(a, 0.0);
        }
    }
    S.s.assign(s0, s0 + d);
    if (r == 2.0) {
        S.G.assign(n * n, 0.0);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = i; j < n; ++j)
                S.G[i * n + j] = S.G[j * n + i] = dot(&S.A[i * d], &S.A[j * d], d);
        S.Gpos_suffix.assign(n * (n + 1), 0.0);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = n; k-- > 0;)
                S.Gpos_suffix[i * (n + 1) + k] =
                    S.Gpos_suffix[i * (n + 1) + k + 1] + std::max(0.0, S.G[i * n + k]);
        S.t.assign(n, 0.0);
        for (std::size_t i = 0; i < n; ++i) S.t[i] = dot(&S.A[i * d], S.s.data(), d);
    }
    S.g.assign(n, 0);
    S.best_g = S.g;
    S.best = S.value();  // g = 0
    // Greedy 1-flip ascent from g = 0 and g = 1 for a first incumbent.
    for (int start = 0; start < 2; ++start) {
        std::vector<std::uint8_t> cur(n, static_cast<std::uint8_t>(start));
        std::vector<double> sv(s0, s0 + d);
        for (std::size_t i = 0; i < n; ++i)
            if (cur[i])
                for (std::size_t c = 0; c < d; ++c) sv[c] += S.A[i * d + c];
        auto val = [&](const std::vector<double>& x) {
            return r == 2.0 ? dot(x.data(), x.data(), d) : vec_norm(x, r);
        };
        double cv = val(sv);
        for (bool improved = true; improved;) {
            improved = false;
            for (std::size_t i = 0; i < n; ++i) {
                const double sg = cur[i] ? -1.0 : 1.0;
                for (std::size_t c = 0; c < d; ++c) sv[c] += sg * S.A[i * d + c];
                const double nv = val(sv);
                if (nv > cv * (1.0 + 1e-15)) {
                    cv = nv;
                    cur[i] ^= 1;
                    improved = true;
                } else {
                    for (std::size_t c = 0; c < d; ++c) sv[c] -= sg * S.A[i * d + c];
                }
            }
        }
        if (cv > S.best) {
            S.best = cv;
            S.best_g = cur;
        }
    }
    const double inc_units = r == 2.0 ? incumbent * incumbent : incumbent;
    const bool external = inc_units > S.best;
    if (external) S.best = inc_units;
    S.dfs(0);
    PatternResult res;
    res.complete = !S.stopped;
    res.nodes = S.nodes;
    res.improved = !external || S.best > inc_units;
    res.value = r == 2.0 ? std::sqrt(S.best) : S.best;
    res.g.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) res.g[order[i]] = S.best_g[i];
    return res;
}

std::vector<std::int32_t> obbt_order(const double* lo, const double* hi, std::size_t n) {
    std::vector<std::int32_t> idx;
    for (std::size_t i = 0; i < n; ++i)
        if (lo[i] < 0.0 && hi[i] > 0.0) idx.push_back(static_cast<std::int32_t>(i));
    std::stable_sort(idx.begin(), idx.end(), [&](std::int32_t a, std::int32_t b) {
        return -lo[a] * hi[a] > -lo[b] * hi[b];
    });
    return idx;
}

}  // namespace lipmiq
