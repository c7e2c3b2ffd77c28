// Certified linear bound propagation: batches of upper linear forms and the steps that substitute a
// variable by its definition or relaxation, each paying for its own float64 rounding (see rounding.hpp).
//
// Invariant of a `Forms` F over a variable vector y: for every feasible point and every row r,
//     objective_r <= sum_j F.A[r, j] y_j + F.c[r]                                         (*)
// exactly, where A is whatever float64 matrix the steps computed: a step that replaces y by an exact
// relation y = M x + b (or by a relaxation y <= s x + t) stores fl(A M), which differs from the exact
// A M; the difference times x is at most gamma |A| |M| |x| <= gamma |A| (|M| X) with X >= |x| on the
// feasible set, and that amount (and the rounding of A b, A t) is added to c, rounded upward.  So (*)
// survives every step without ever needing the coefficients exactly; only c is kept as a rigorous
// upper value.  Lower bounds are upper bounds of negated forms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core.hpp"

namespace lipmiq {

struct Forms {
    std::size_t rows = 0, cols = 0;
    Block A;                // rows x cols, row-major (large: huge pages, see core.hpp)
    std::vector<double> c;  // rows

    Forms() = default;
    Forms(std::size_t r, std::size_t n) : rows(r), cols(n), A(r * n, 0.0), c(r, 0.0) {}
    // Coefficients left unset, for a step that writes every one of them.
    static Forms unset(std::size_t r, std::size_t n) {
        Forms F;
        F.rows = r;
        F.cols = n;
        F.A.resize(r * n);
        F.c.assign(r, 0.0);
        return F;
    }
    double* row(std::size_t r) { return A.data() + r * cols; }
    const double* row(std::size_t r) const { return A.data() + r * cols; }
};

// An exact affine relation y_t = sum_i M[t, i] x_i + b[t] for the listed t (y has M's row count; the
// coefficients of F on unlisted y must be 0 or multiply a y that is identically 0).  `Mmag[t]` is a
// float64 value of sum_i |M[t, i]| X_i with X_i >= |x_i| on the feasible set, and `xmass` = sum_i X_i.
struct AffineMap {
    const double* M = nullptr;
    std::size_t ldm = 0, nx = 0;              // row stride and number of x variables
    const std::int32_t* idx = nullptr;        // listed y entries (nullptr: all nidx = rows of M)
    std::size_t nidx = 0;
    const double* b = nullptr;                // nullptr: no offset
    const double* Mmag = nullptr;
    double xmass = 0.0;
    double* work = nullptr;                   // where given: gains the product's multiply-adds
};

// F over y -> F over x.
void substitute_affine(Forms& F, const AffineMap& map);

// Elementwise relaxation lines y_j <= su_j x_j + tu_j and y_j >= sl_j x_j + tl_j (valid on the feasible
// set, with the stored floats).  A stride of 0 shares the entries between the rows; a stride s > 0 gives
// row r the entries at r * s (the upper and the lower pair independently).
struct Lines {
    const double* su = nullptr;
    const double* tu = nullptr;
    const double* sl = nullptr;
    const double* tl = nullptr;
    std::size_t upper_stride = 0, lower_stride = 0;
};

// In place: F over y -> F over x (same size); X[j] >= |x_j|.  `coef` (optional) receives F.A before the
// step (which line each entry used).
void substitute_lines(Forms& F, const Lines& lines, const double* X, std::vector<double>* coef = nullptr);

// Planes for a product y_j = d_j u_j: y <= au u + cu d + eu and y >= al u + cl d + el.  F over y ->
// Fu over u and Fd over d (new forms, same rows; Fd.c unused, constants go to Fu.c).  Xu >= |u|,
// d is in [0, 1].  stride > 0: row r's planes at r * stride.
struct Planes {
    std::vector<double> au, cu, eu, al, cl, el;
    std::size_t stride = 0;
};
void substitute_planes(const Forms& F, const Planes& P, const double* Xu, Forms& Fu, Forms& Fd);

// F.A += G.A (same shape; the variables are the same), with the rounding of the sums paid in F.c
// (X >= |variable|).  G.c is added too.
void add_forms(Forms& F, const Forms& G, const double* X);

// Rows r: F.c[r] + max over y in [lo, hi] of A[r] . y, rounded upward (the forms are over a box
// variable); F must be over exactly that variable.
std::vector<double> concretise_box(const Forms& F, const double* lo, const double* hi);

// Rows r: F.c[r] + max over the input set (box hull [lo, hi] intersected with the domain's ball, if
// any) of A[r] . x, rounded upward.  `argmax` (optional, rows x cols): a maximiser of every row (for the
// set, box or ball, that gave the smaller value).
std::vector<double> concretise_input(const Forms& F, const InputDomain& dom, const std::vector<double>& lo,
                                     const std::vector<double>& hi, std::vector<double>* argmax = nullptr);

// Rigorous interval affine map: [lo, hi] of M x + b over x in [xl, xh] (M: rows x nx, row stride ldm;
// b may be nullptr).
void interval_affine_sound(const double* M, std::size_t ldm, std::size_t rows, std::size_t nx, const double* b,
                           const double* xl, const double* xh, std::vector<double>& lo, std::vector<double>& hi);

// Magnitude vector of an affine map: out[t] = sum_i |M[t, i]| X_i (float64; see AffineMap::Mmag).
std::vector<double> magnitude(const double* M, std::size_t ldm, std::size_t rows, std::size_t nx, const double* X);

// sum_i X_i (float64).
double mass(const std::vector<double>& X);

}  // namespace lipmiq
