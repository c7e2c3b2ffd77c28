// Certified (upward-rounded) norms of vectors and of interval matrices (interval_norms.cpp).
#pragma once

#include <cstddef>
#include <vector>

namespace lipmiq {

// ||y||_r of a nonnegative vector (r in {1, 2, inf}), rounded upward; NaN entries give +inf.
double norm_up(const std::vector<double>& y, double r);

// ||A||_{p->q} of a nonnegative m x n matrix (row-major), rounded upward.
double nonnegative_norm_up(const std::vector<double>& A, std::size_t m, std::size_t n, double p, double q);

// An upper bound on ||J||_{p->q} over every J in [lo, hi] (m x n, row-major): ||mid||_{p->q} computed
// exactly where tractable (sign enumeration over at most `max_enum` coordinates for the inf->q and 2->1
// pairs, a certified spectral norm for 2->2), else bounded by the norm of |mid|, plus ||rad||_{p->q};
// +inf when an entry is not finite.
double interval_matrix_norm_up(const std::vector<double>& lo, const std::vector<double>& hi, std::size_t m,
                               std::size_t n, double p, double q, std::size_t max_enum);

}  // namespace lipmiq
