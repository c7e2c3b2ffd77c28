// A small dense LP, weak-duality bounds on it, and the dense bounded dual simplex that proposes its multipliers
// (dense_lp.cpp).  Used by the branch-and-bound's emptiness checks (relaxed_lp.cpp, region_lp.cpp): LPs of tens
// of rows and columns, tens of thousands per search, where building a HiGHS model cost more than solving.
#pragma once

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "core.hpp"

namespace lipmiq {

// min c.x over {row_lo <= A x <= row_hi, col_lo <= x <= col_hi}, A dense m x n row-major.
struct DenseLP {
    std::size_t m = 0, n = 0;
    std::vector<double> A, row_lo, row_hi, col_lo, col_hi, c;
};

// A rigorous lower bound on min c.x over the LP's polyhedron from any multipliers y (float64 rounding and
// underflow covered; -inf when none follows): see dense_lp.cpp.
double dual_bound(const DenseLP& lp, const std::vector<double>& c, std::vector<double> y);

// max x_s over the LP (its objective must be -e_s, every column bound finite), decided as the branch and bound
// needs it: `empty` when max x_s <= 0 or the LP has no point, proved by weak duality with a rounding allowance on
// the simplex's multipliers (never by the simplex's verdict alone); else x at an optimum whose x_s exceeds
// `interior_tol` (x_s may violate rows by the simplex's tolerances: callers re-check the point), or neither.
struct MarginSolve {
    bool empty = false;
    int reason = 0;      // 1: max x_s <= 0 by weak duality, 2: no point (Farkas), 0: no proof
    int iterations = 0;  // dual simplex iterations
    double s = std::numeric_limits<double>::quiet_NaN();  // max x_s when solved to optimality
    std::vector<double> x;      // the optimum's point (when solved to optimality)
    std::vector<double> proof;  // the multipliers of the proof, one per row (when empty)
};
// `crash`: (row, column) pairs whose columns start basic in their rows (DualSimplex in dense_lp.cpp): the
// columns defined by equality rows, which the slack basis would take one pivot each to bring in.
MarginSolve max_margin(const DenseLP& lp, std::size_t s, double interior_tol, const Deadline& deadline,
                       const std::vector<std::pair<std::size_t, std::size_t>>& crash = {});

// A linear form c.x + offset on an LP's columns, c by its nonzeros.
struct LinearForm {
    std::vector<std::size_t> index;
    std::vector<double> value;
    double offset = 0.0;
};

// Certified bounds on linear forms over the LP (its objective unused): for each, min and max by the dense simplex,
// each solve warm-started from the previous basis: by the dual simplex from the corner the new objective prefers,
// or, with `signs` and after the first, by the primal one from the previous optimum, which stays feasible (first-layer
// tightening LPs 0.77 ms a call against 1.7 ms all from the previous optimum, the later layers' signs 3.7 ms against
// 9.5 ms all by the dual). Each bound comes by weak duality with a rounding allowance on the simplex's multipliers
// and the offset added with outward rounding, so an unfinished or wrong solve loosens a bound but never makes it
// invalid (an unsolved side stays infinite). `empty` when a Farkas ray proves the polyhedron empty or a form's bounds
// cross; past the deadline the forms not reached keep infinite bounds. With `signs` only the sides of 0 matter: a
// side that a point met on the way shows reachable is not solved.
struct FormBounds {
    bool empty = false;
    std::vector<double> lo, hi;  // one per form
    int solves = 0, iterations = 0;
};
FormBounds form_bounds(const DenseLP& lp, const std::vector<LinearForm>& forms, bool signs, const Deadline& deadline,
                       const std::vector<std::pair<std::size_t, std::size_t>>& crash = {});

}  // namespace lipmiq
