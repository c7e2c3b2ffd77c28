// Certified linear bound propagation steps (see sound_linear.hpp for the invariant and rounding.hpp for
// the two rounding facts used).  Every step below lists, per row, what it adds to c and why that covers
// the difference between the float64 result and the exact relation.
#include "sound_linear.hpp"

#include <algorithm>
#include <cmath>

#include "rounding.hpp"

namespace lipmiq {

using rnd::add_up;
using rnd::allowance_factor;
using rnd::mul_up;
using rnd::underflow_allowance;

namespace {

// c <- c + s + factor(n) * abs + underflow(n, xmass), each addition rounded upward.  `s` is a float64
// sum of n products whose exact value differs from s by at most gamma_n * (sum of |products|) <=
// factor(n) * abs / 2 (see rounding.hpp), and `abs` bounds everything else the caller must pay.
// `any` = false: every product had a zero factor, so s (a sum of exact terms such as a bias) is exact.
double pay(double c, double s, double abs, std::size_t n, double xmass, bool any = true) {
    if (!any) return add_up(c, s);
    const double allowance = add_up(mul_up(allowance_factor(n), abs), underflow_allowance(n, xmass));
    return add_up(add_up(c, s), allowance);
}


// body(j, lambda, upper) for every nonzero coefficient lambda = a[j] of a row, upper = (lambda >= 0: the upper
// relaxation applies); true when the row had one.
template <class Body>
bool each_coefficient(const double* a, std::size_t n, Body&& body) {
    bool any = false;
    for (std::size_t j = 0; j < n; ++j) {
        const double lam = a[j];
        if (lam == 0.0) continue;
        any = true;
        body(j, lam, lam >= 0.0);
    }
    return any;
}

}  // namespace

double mass(const std::vector<double>& X) {
    double s = 0.0;
    for (double v : X) s += v;
    return rnd::up(s * (1.0 + allowance_factor(X.size())));
}

std::vector<double> magnitude(const double* M, std::size_t ldm, std::size_t rows, std::size_t nx, const double* X) {
    std::vector<double> out(rows, 0.0);
    for (std::size_t t = 0; t < rows; ++t) {
        const double* m = M + t * ldm;
        double s = 0.0;
        for (std::size_t i = 0; i < nx; ++i) s += std::fabs(m[i]) * X[i];
        out[t] = s;
    }
    return out;
}

// A' = fl(A M) over the listed columns.  Exact: A y = A M x + A b.  |fl(A M) - A M| <= gamma_n |A| |M|
// entrywise (n = number of listed entries), so |(fl(A M) - A M) x| <= gamma_n |A| (|M| X); fl(A b) is
// off by gamma_n |A| |b|.  Both are paid with abs = |A| (|b| + Mmag).
void substitute_affine(Forms& F, const AffineMap& map) {
    const std::size_t R = F.rows, n = map.nidx;
    const bool product = R > 0 && n > 0 && map.nx > 0;
    Forms out = product ? Forms::unset(R, map.nx) : Forms(R, map.nx);  // gemm_gather writes every entry
    out.c = F.c;
    if (product) {
        gemm_gather(F.A.data(), F.cols, nullptr, R, map.idx, map.idx, n, map.M, map.ldm, map.nx, out.A.data(),
                    map.nx, false);
        if (map.work) *map.work += static_cast<double>(R) * static_cast<double>(n) * static_cast<double>(map.nx);
    }
    for (std::size_t r = 0; r < R; ++r) {
        const double* a = F.row(r);
        double s = 0.0, abs = 0.0;
        bool any = false;
        for (std::size_t q = 0; q < n; ++q) {
            const std::size_t t = map.idx ? static_cast<std::size_t>(map.idx[q]) : q;
            const double v = a[t];
            if (v == 0.0) continue;
            any = true;
            const double bt = map.b ? map.b[t] : 0.0;
            s += v * bt;
            abs += std::fabs(v) * (std::fabs(bt) + map.Mmag[t]);
        }
        out.c[r] = pay(F.c[r], s, abs, n + 1, map.xmass, any);
    }
    F = std::move(out);
}

// Row r, entry j with lambda = A[r, j]: lambda y_j <= lambda (s x_j + t) with the upper line when
// lambda >= 0 and the lower line otherwise.  Stored: fl(lambda s), off by u |lambda s| <= |fl| u (1 + u)
// (+ underflow), times |x_j| <= X_j; sum_j lambda t is a float64 dot product.  Paid with
// abs = sum_j (|fl(lambda s)| X_j + |lambda t|).
void substitute_lines(Forms& F, const Lines& lines, const double* X, std::vector<double>* coef) {
    const std::size_t n = F.cols;
    if (coef) coef->assign(F.A.begin(), F.A.end());
    double xmass = 0.0;
    for (std::size_t j = 0; j < n; ++j) xmass += X[j];
    xmass = rnd::up(xmass * (1.0 + allowance_factor(n)));
    for (std::size_t r = 0; r < F.rows; ++r) {
        double* a = F.row(r);
        const double* su = lines.su + r * lines.upper_stride;
        const double* tu = lines.tu + r * lines.upper_stride;
        const double* sl = lines.sl + r * lines.lower_stride;
        const double* tl = lines.tl + r * lines.lower_stride;
        double s = 0.0, abs = 0.0;
        const bool any = each_coefficient(a, n, [&](std::size_t j, double lam, bool upper) {
            const double slope = upper ? su[j] : sl[j], icpt = upper ? tu[j] : tl[j];
            const double coef = lam * slope;
            a[j] = coef;
            if (icpt != 0.0) {
                s += lam * icpt;
                abs += std::fabs(lam * icpt);
            }
            abs += std::fabs(coef) * X[j];
        });
        F.c[r] = pay(F.c[r], s, abs, n + 1, xmass, any);
    }
}

// lambda y_j <= lambda (a u_j + c d_j + e) with the upper plane when lambda >= 0, the lower otherwise.
// Stored fl(lambda a), fl(lambda c): each off by u |.|, times |u_j| <= Xu_j and |d_j| <= 1.
void substitute_planes(const Forms& F, const Planes& P, const double* Xu, Forms& Fu, Forms& Fd) {
    const std::size_t R = F.rows, n = F.cols;
    Fu = Forms(R, n);
    Fd = Forms(R, n);
    double xmass = static_cast<double>(n);
    for (std::size_t j = 0; j < n; ++j) xmass += Xu[j];
    xmass = rnd::up(xmass * (1.0 + allowance_factor(2 * n)));
    for (std::size_t r = 0; r < R; ++r) {
        const double* a = F.row(r);
        double* au = Fu.row(r);
        double* ad = Fd.row(r);
        const std::size_t o = r * P.stride;
        double s = 0.0, abs = 0.0;
        const bool any = each_coefficient(a, n, [&](std::size_t j, double lam, bool upper) {
            const double cu = lam * (upper ? P.au[o + j] : P.al[o + j]);
            const double cd = lam * (upper ? P.cu[o + j] : P.cl[o + j]);
            const double e = upper ? P.eu[o + j] : P.el[o + j];
            au[j] = cu;
            ad[j] = cd;
            if (e != 0.0) {
                s += lam * e;
                abs += std::fabs(lam * e);
            }
            abs += std::fabs(cu) * Xu[j] + std::fabs(cd);
        });
        Fu.c[r] = pay(F.c[r], s, abs, n + 1, xmass, any);
    }
}

// fl(a + b) is off by u |fl(a + b)| (+ nothing: a sum of two floats does not underflow inexactly);
// times |variable| <= X.
void add_forms(Forms& F, const Forms& G, const double* X) {
    const std::size_t n = F.cols;
    for (std::size_t r = 0; r < F.rows; ++r) {
        double* a = F.row(r);
        const double* g = G.row(r);
        double abs = 0.0;
        bool any = false;
        for (std::size_t j = 0; j < n; ++j) {
            if (g[j] == 0.0) continue;
            any = true;
            a[j] += g[j];
            abs += std::fabs(a[j]) * X[j];
        }
        F.c[r] = pay(add_up(F.c[r], G.c[r]), 0.0, abs, 1, 0.0, any);
    }
}

// max over y in [lo, hi] of a . y = sum_j (a_j > 0 ? a_j hi_j : a_j lo_j): a float64 dot product,
// rounded upward (ymass = sum_j max(|lo_j|, |hi_j|) for the underflow term).
namespace {

double box_max(const double* a, std::size_t n, const double* lo, const double* hi, double ymass) {
    double s = 0.0, abs = 0.0;
    bool any = false;
    for (std::size_t j = 0; j < n; ++j) {
        const double v = a[j];
        if (v == 0.0) continue;
        const double y = v > 0.0 ? hi[j] : lo[j];
        any |= (y != 0.0);
        s += v * y;
        abs += std::fabs(v * y);
    }
    return pay(0.0, s, abs, n + 1, ymass, any);
}

double box_mass(std::size_t n, const double* lo, const double* hi) {
    double m = 0.0;
    for (std::size_t j = 0; j < n; ++j) m += std::max(std::fabs(lo[j]), std::fabs(hi[j]));
    return rnd::up(m * (1.0 + allowance_factor(n)));
}

}  // namespace

std::vector<double> concretise_box(const Forms& F, const double* lo, const double* hi) {
    const double ymass = box_mass(F.cols, lo, hi);
    std::vector<double> out(F.rows);
    for (std::size_t r = 0; r < F.rows; ++r) out[r] = add_up(F.c[r], box_max(F.row(r), F.cols, lo, hi, ymass));
    return out;
}

// Over the box hull: as concretise_box.  Over the ball ||x - c||_p <= r: a . c + r ||a||_{p*} (Hoelder),
// the dual norm rounded upward: ||a||_1 and sum a_j^2 are float64 sums of nonnegative terms (relative
// error <= gamma_n), sqrt is rounded once.  The input set lies in both, so the smaller value holds.
std::vector<double> concretise_input(const Forms& F, const InputDomain& dom, const std::vector<double>& lo,
                                     const std::vector<double>& hi, std::vector<double>* argmax) {
    const std::size_t n = F.cols;
    const double ymass = box_mass(n, lo.data(), hi.data());
    std::vector<double> out(F.rows);
    double cmass = 0.0;
    if (dom.has_ball) {
        for (std::size_t j = 0; j < n; ++j) cmass += std::fabs(dom.center[j]);
        cmass = rnd::up(cmass * (1.0 + allowance_factor(n)));
    }
    std::vector<std::uint8_t> used_ball(F.rows, 0);
    for (std::size_t r = 0; r < F.rows; ++r) {
        double best = box_max(F.row(r), n, lo.data(), hi.data(), ymass);
        if (dom.has_ball) {
            const double* a = F.row(r);
            double s = 0.0, abs = 0.0, l1 = 0.0, l2 = 0.0, linf = 0.0;
            bool any = false;
            for (std::size_t j = 0; j < n; ++j) {
                any |= (a[j] != 0.0);
                s += a[j] * dom.center[j];
                abs += std::fabs(a[j] * dom.center[j]);
                l1 += std::fabs(a[j]);
                l2 += a[j] * a[j];
                linf = std::max(linf, std::fabs(a[j]));
            }
            const double fac = allowance_factor(n);
            double dual;
            if (dom.ball_norm == 1.0) {
                dual = linf;
            } else if (dom.ball_norm == 2.0) {
                const double l2_up = pay(0.0, l2, l2, n + 1, 0.0, any);
                dual = rnd::sqrt_up(l2_up);
            } else {
                dual = add_up(l1, mul_up(fac, l1));
            }
            const double centre = pay(0.0, s, abs, n + 1, cmass, any);
            const double ball = add_up(centre, mul_up(dom.radius, dual));
            if (ball < best) {
                best = ball;
                used_ball[r] = 1;
            }
        }
        out[r] = add_up(F.c[r], best);
    }
    if (argmax) {
        argmax->assign(F.rows * n, 0.0);
        for (std::size_t r = 0; r < F.rows; ++r) {
            const double* a = F.row(r);
            double* x = argmax->data() + r * n;
            if (!used_ball[r]) {
                for (std::size_t j = 0; j < n; ++j)
                    x[j] = a[j] > 0.0 ? hi[j] : a[j] < 0.0 ? lo[j] : 0.5 * (lo[j] + hi[j]);
                continue;
            }
            double norm2 = 0.0;
            std::size_t jmax = 0;
            for (std::size_t j = 0; j < n; ++j) {
                norm2 += a[j] * a[j];
                if (std::fabs(a[j]) > std::fabs(a[jmax])) jmax = j;
            }
            for (std::size_t j = 0; j < n; ++j) {
                double step = 0.0;
                if (dom.ball_norm == 2.0)
                    step = norm2 > 0.0 ? a[j] / std::sqrt(norm2) : 0.0;
                else if (dom.ball_norm == 1.0)
                    step = (j == jmax && a[j] != 0.0) ? (a[j] > 0.0 ? 1.0 : -1.0) : 0.0;
                else
                    step = a[j] > 0.0 ? 1.0 : a[j] < 0.0 ? -1.0 : 0.0;
                x[j] = dom.center[j] + dom.radius * step;
            }
        }
    }
    return out;
}

void interval_affine_sound(const double* M, std::size_t ldm, std::size_t rows, std::size_t nx, const double* b,
                           const double* xl, const double* xh, std::vector<double>& lo, std::vector<double>& hi) {
    lo.assign(rows, 0.0);
    hi.assign(rows, 0.0);
    double xmass = 0.0;
    for (std::size_t i = 0; i < nx; ++i) xmass += std::max(std::fabs(xl[i]), std::fabs(xh[i]));
    xmass = rnd::up(xmass * (1.0 + allowance_factor(nx)));
    for (std::size_t t = 0; t < rows; ++t) {
        const double* m = M + t * ldm;
        double sl = b ? b[t] : 0.0, sh = sl, abs = std::fabs(sl);
        bool any = false;
        for (std::size_t i = 0; i < nx; ++i) {
            const double w = m[i];
            if (w == 0.0) continue;
            any = true;
            const double pl = w > 0.0 ? w * xl[i] : w * xh[i];
            const double ph = w > 0.0 ? w * xh[i] : w * xl[i];
            sl += pl;
            sh += ph;
            abs += std::max(std::fabs(pl), std::fabs(ph));
        }
        // lo: the exact sum is >= sl - allowance; -(-sl + allowance) rounded upward is below it.
        hi[t] = pay(0.0, sh, abs, nx + 1, xmass, any);
        lo[t] = -pay(0.0, -sl, abs, nx + 1, xmass, any);
    }
}

}  // namespace lipmiq
