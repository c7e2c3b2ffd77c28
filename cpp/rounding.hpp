// Directed-rounding helpers for the certified bounds (sound_*.cpp, gradient_*.cpp).
//
// The arithmetic is IEEE-754 binary64 with round-to-nearest (the default mode; nothing here changes it)
// and no extended intermediate precision (FLT_EVAL_METHOD == 0, checked below).  Two facts are used:
//  (1) one operation r = fl(a op b) (op in + - * /, or sqrt) is the exact result rounded to nearest, so
//      exact <= up(r) and exact >= down(r), up/down being the next float towards +inf/-inf.  This also
//      holds on overflow (r = +-inf) and in the subnormal range.
//  (2) a sum of n products computed in float64 in ANY order of pairwise additions, with or without FMA
//      (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5 and section 2.6),
//      satisfies |fl(sum a_i b_i) - sum a_i b_i| <= gamma_n sum |a_i b_i| + n * eta, gamma_n = n u / (1 - n u),
//      u = 2^-53, eta = 2^-1075 (a product that underflows is off by at most half the smallest subnormal).
//      This covers every dense kernel of the core (dot, gemm_gather, a BLAS gemm without Strassen-like
//      recursions), and an accumulating product (out += ...) counts one more term.
// Zeros stay exact: an addition or subtraction that rounds to 0 is exact (gradual underflow makes every
// sum that small exact), so is one with a zero operand, and a product with a zero factor is exactly 0, so
// add_up/sub_up/mul_up return those results unchanged instead of the next float.  Both facts need round-to-nearest and gradual underflow:
// `FloatEnvironment` enforces them for its lifetime (a library built with -ffast-math may have set
// flush-to-zero in the thread's MXCSR).
// Allowances are computed in float64 too; `allowance_factor(n)` = 2 (n + 2) u is at least twice
// gamma_{n+2} for any n below 2^40, so an allowance stays an upper bound while its own computation (a sum
// of nonnegative terms, relative error <= gamma) is off by less than half, and the factor absorbs the
// summation order of the allowance itself.  Absolute underflow terms use `kTiny` = 2^-1074 = 2 eta.
#pragma once

#include <cfenv>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the certified bounds assume float64 arithmetic without extended intermediate precision"
#endif

namespace lipmiq {
namespace rnd {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kUnit = 0x1p-53;   // unit roundoff u
constexpr double kTiny = 0x1p-1074; // smallest subnormal, 2 * eta

// up(x) and down(x) are std::nextafter(x, +-inf) bit for bit (also at +-0, the infinities and NaN), without
// the libm call: the engine rounds millions of entries per call, and the call cost 6 % of its time.  A
// finite nonzero float's neighbour is one step of its sign-magnitude bit pattern (the step from DBL_MAX
// gives inf and the one from -inf gives -DBL_MAX, as nextafter); from +-0 it is +-2^-1074.
inline double step_bits(double x, bool away_from_zero) {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    b = away_from_zero ? b + 1 : b - 1;
    std::memcpy(&x, &b, sizeof b);
    return x;
}
// The tests read the bits, not float comparisons: with denormals-are-zero set by some other library, a
// comparison sees a subnormal as 0 (review finding; nextafter is unaffected, and so are these).
constexpr std::uint64_t kSignBit = std::uint64_t(1) << 63;
constexpr std::uint64_t kInfBits = 0x7FF0000000000000ULL;
inline std::uint64_t bits_of(double x) {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}
// A float >= x's exact value when x is the rounded result of one operation.
inline double up(double x) {
    const std::uint64_t b = bits_of(x), mag = b & ~kSignBit;
    if (mag > kInfBits || b == kInfBits) return x;  // NaN, +inf
    if (mag == 0) return kTiny;                      // +-0
    return step_bits(x, !(b & kSignBit));
}
// A float <= x's exact value when x is the rounded result of one operation.
inline double down(double x) {
    const std::uint64_t b = bits_of(x), mag = b & ~kSignBit;
    if (mag > kInfBits || b == (kSignBit | kInfBits)) return x;  // NaN, -inf
    if (mag == 0) return -kTiny;
    return step_bits(x, (b & kSignBit) != 0);
}

// Also exact: a sum or difference with a zero operand.
inline double exact_or(double a, double b, double r, double bumped) {
    return (r == 0.0 || a == 0.0 || b == 0.0) ? r : bumped;
}
inline double add_up(double a, double b) { return exact_or(a, b, a + b, up(a + b)); }
inline double sub_up(double a, double b) { return exact_or(a, b, a - b, up(a - b)); }
inline double sub_down(double a, double b) { return exact_or(a, b, a - b, down(a - b)); }
inline double mul_up(double a, double b) { return (a == 0.0 || b == 0.0) ? 0.0 : up(a * b); }
inline double mul_down(double a, double b) { return (a == 0.0 || b == 0.0) ? 0.0 : down(a * b); }
inline double sqrt_up(double a) { return a <= 0.0 ? 0.0 : up(std::sqrt(a)); }

// 2 (n + 2) u: multiplies a float64 sum of |terms| to bound the rounding of a length-n dot product
// (see the header comment).
inline double allowance_factor(std::size_t n) { return 2.0 * (static_cast<double>(n) + 2.0) * kUnit; }

// Underflow allowance of a length-n dot product whose terms multiply variables of total magnitude `mass`
// (sum of the bounds on |variable|), plus the products themselves: (n + 2) * 2^-1074 * (1 + mass).
// A product with a subnormal result takes a microcode assist on x86 (about 40 ns against 0.7 ns, measured): this
// one was 14 % of a node's engine call on [8, 20, 20, 1].  Below 2^52 units of 2^-1074 the allowance is therefore
// built from its bit pattern, which for a subnormal (and 2^-1022) is its integer count of 2^-1074:
// (floor(m) + 2) 2^-1074 > m 2^-1074, at least the rounded-up product it replaces.
inline double underflow_allowance(std::size_t n, double mass) {
    const double m = up((static_cast<double>(n) + 2.0) * up(1.0 + mass));
    if (!(m >= 0.0 && m < 0x1p52 - 2.0)) return up(m * kTiny);  // a normal result (or inf, NaN): no assist
    const std::uint64_t units = static_cast<std::uint64_t>(m) + 2;
    double out;
    std::memcpy(&out, &units, sizeof out);
    return out;
}

// NaN-safe minimum of two upper bounds (NaN means "no bound": +inf).
inline double min_upper(double a, double b) {
    if (std::isnan(a)) return std::isnan(b) ? kInf : b;
    if (std::isnan(b)) return a;
    return a < b ? a : b;
}
// NaN-safe maximum of two lower bounds (NaN means "no bound": -inf).
inline double max_lower(double a, double b) {
    if (std::isnan(a)) return std::isnan(b) ? -kInf : b;
    if (std::isnan(b)) return a;
    return a > b ? a : b;
}

// Round-to-nearest and gradual underflow for the current thread while alive; the caller's settings are
// restored on exit.  On x86-64 the SSE control register (rounding bits, flush-to-zero, denormals-are-zero);
// elsewhere the C rounding mode only (flush-to-zero controls of other architectures are not touched).
class FloatEnvironment {
public:
    FloatEnvironment() {
#if defined(__SSE2__)
        saved_csr_ = _mm_getcsr();
        // bits 13-14: rounding control (00 = nearest); bit 15: flush to zero; bit 6: denormals are zero
        _mm_setcsr(saved_csr_ & ~((3u << 13) | (1u << 15) | (1u << 6)));
#endif
        saved_round_ = std::fegetround();
        std::fesetround(FE_TONEAREST);
    }
    ~FloatEnvironment() {
        std::fesetround(saved_round_);
#if defined(__SSE2__)
        _mm_setcsr(saved_csr_);
#endif
    }
    FloatEnvironment(const FloatEnvironment&) = delete;
    FloatEnvironment& operator=(const FloatEnvironment&) = delete;

private:
#if defined(__SSE2__)
    unsigned saved_csr_ = 0;
#endif
    int saved_round_ = 0;
};

}  // namespace rnd
}  // namespace lipmiq
