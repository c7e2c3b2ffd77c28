// Vector reductions and the symmetric eigen-decomposition used by the operator norms.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core.hpp"

namespace lipmiq {

double dot(const double* a, const double* b, std::size_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

double asum(const double* a, std::size_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += std::fabs(a[i + k]);
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i) s += std::fabs(a[i]);
    return s;
}

double amax(const double* a, std::size_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] = std::max(acc[k], std::fabs(a[i + k]));
    double s = 0.0;
    for (int k = 0; k < 8; ++k) s = std::max(s, acc[k]);
    for (; i < n; ++i) s = std::max(s, std::fabs(a[i]));
    return s;
}

void jacobi_eigen(std::vector<double>& A, std::size_t k, std::vector<double>& evals,
                  std::vector<double>& evecs) {
    evecs.assign(k * k, 0.0);
    for (std::size_t i = 0; i < k; ++i) evecs[i * k + i] = 1.0;
    auto a = [&](std::size_t i, std::size_t j) -> double& { return A[i * k + j]; };
    double total = 0.0;
    for (double x : A) total += x * x;
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0.0;
        for (std::size_t i = 0; i < k; ++i)
            for (std::size_t j = i + 1; j < k; ++j) off += a(i, j) * a(i, j);
        if (off <= 1e-32 * total || off == 0.0) break;
        for (std::size_t p = 0; p + 1 < k; ++p) {
            for (std::size_t q = p + 1; q < k; ++q) {
                const double apq = a(p, q);
                if (apq == 0.0) continue;
                const double app = a(p, p), aqq = a(q, q);
                // Skip rotations that cannot change the diagonal in floating point.
                if (std::fabs(apq) < 1e-300 ||
                    (sweep > 3 && std::fabs(apq) * 1e18 < std::fabs(app) &&
                     std::fabs(apq) * 1e18 < std::fabs(aqq))) {
                    a(p, q) = a(q, p) = 0.0;
                    continue;
                }
                const double theta = (aqq - app) / (2.0 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) /
                                 (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
                const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
                for (std::size_t r = 0; r < k; ++r) {  // columns p, q
                    const double arp = a(r, p), arq = a(r, q);
                    a(r, p) = c * arp - s * arq;
                    a(r, q) = s * arp + c * arq;
                }
                for (std::size_t r = 0; r < k; ++r) {  // rows p, q
                    const double apr = a(p, r), aqr = a(q, r);
                    a(p, r) = c * apr - s * aqr;
                    a(q, r) = s * apr + c * aqr;
                }
                a(p, q) = a(q, p) = 0.0;
                for (std::size_t r = 0; r < k; ++r) {
                    double* vr = evecs.data() + r * k;
                    const double vp = vr[p], vq = vr[q];
                    vr[p] = c * vp - s * vq;
                    vr[q] = s * vp + c * vq;
                }
            }
        }
    }
    evals.resize(k);
    for (std::size_t i = 0; i < k; ++i) evals[i] = a(i, i);
}

}  // namespace lipmiq
