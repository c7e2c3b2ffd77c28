// pybind11 bindings of lipmiq._core.  A network is validated and copied once, into a `Net` the caller
// keeps and passes to every kernel; the other inputs are checked and converted to contiguous float64
// while holding the GIL, and every kernel then runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

#include "core.hpp"

namespace py = pybind11;
using lipmiq::LayerBounds;
using lipmiq::Matrix;
using lipmiq::Network;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using darray = py::array_t<double, py::array::c_style | py::array::forcecast>;

std::string shape_str(const py::array& a) {
    std::ostringstream os;
    os << "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        if (i) os << ", ";
        os << a.shape(i);
    }
    if (a.ndim() == 1) os << ",";
    os << ")";
    return os.str();
}

[[noreturn]] void fail(const std::string& msg) { throw py::value_error(msg); }

darray as_double(const py::handle& h, const std::string& what) {
    py::object np = py::module_::import("numpy");
    py::object a;
    try {
        a = np.attr("asarray")(h, py::arg("dtype") = "float64");
    } catch (py::error_already_set&) {
        fail(what + " cannot be converted to a float64 array");
    }
    return darray::ensure(a);
}

std::vector<double> vec1(const py::handle& h, std::size_t n, const std::string& what,
                         bool allow_scalar) {
    darray a = as_double(h, what);
    if (allow_scalar && a.ndim() == 0) return std::vector<double>(n, *a.data());
    if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != n) {
        std::ostringstream os;
        os << what << " has shape " << shape_str(a) << ", expected (" << n << ",)";
        fail(os.str());
    }
    return std::vector<double>(a.data(), a.data() + n);
}

// The core's copy of a network, validated (the constructor of `_core.Net`); biases == None: zero biases.
Network to_network(const py::list& weights, const py::object& biases_obj) {
    if (weights.size() == 0) fail("weights must contain at least one layer");
    const bool no_bias = biases_obj.is_none();
    py::list biases = no_bias ? py::list() : py::list(biases_obj);
    if (!no_bias && weights.size() != biases.size()) {
        std::ostringstream os;
        os << "got " << weights.size() << " weight matrices but " << biases.size()
           << " bias vectors";
        fail(os.str());
    }
    Network net;
    std::size_t prev = 0;
    for (std::size_t k = 0; k < weights.size(); ++k) {
        darray W = as_double(weights[k], "weights[" + std::to_string(k) + "]");
        if (W.ndim() != 2 || W.shape(0) == 0 || W.shape(1) == 0) {
            fail("weights[" + std::to_string(k) + "] has shape " + shape_str(W) +
                 ", expected a non-empty 2-D array (out, in)");
        }
        const std::size_t rows = W.shape(0), cols = W.shape(1);
        if (k > 0 && cols != prev) {
            std::ostringstream os;
            os << "weights[" << k << "] has shape " << shape_str(W) << " but weights[" << k - 1
               << "] has " << prev << " outputs: expected (" << rows << ", " << prev << ")";
            fail(os.str());
        }
        Matrix M(rows, cols);
        std::copy(W.data(), W.data() + rows * cols, M.data.begin());
        net.W.push_back(std::move(M));
        if (no_bias)
            net.b.emplace_back(rows, 0.0);
        else
            net.b.push_back(vec1(biases[k], rows, "biases[" + std::to_string(k) + "]", false));
        prev = rows;
    }
    {
        py::gil_scoped_release nogil;  // the copies above are the network's own (66 ms on digits28's CNN)
        lipmiq::derive_weights(net);
    }
    return net;
}

unsigned available_cpus() {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
#endif
    return std::max(1u, std::thread::hardware_concurrency());
}

constexpr unsigned kDefaultMaxThreads = 2;
constexpr long long kMaxThreads = 1024;  // larger requests are capped: no more cores to use

// Threads of the matrix products: `threads` when given, else the environment variable
// LIPMIQ_THREADS, else min(2, CPUs this process may run on).  Two threads make the dense products
// about 1.8x faster; beyond that, on a machine that also runs a SCIP solve or other workers, more
// threads mostly compete for the same cores.
unsigned resolve_threads(const py::object& threads) {
    long long n;
    if (!threads.is_none()) {
        n = threads.cast<long long>();
        if (n < 1) fail("threads must be >= 1, got " + std::to_string(n));
        return static_cast<unsigned>(std::min(n, kMaxThreads));
    }
    const char* env = std::getenv("LIPMIQ_THREADS");
    if (env && *env) {
        char* end = nullptr;
        n = std::strtoll(env, &end, 10);
        if (*end != '\0' || n < 1)
            fail(std::string("LIPMIQ_THREADS must be a whole number >= 1, got '") + env + "'");
        return static_cast<unsigned>(std::min(n, kMaxThreads));
    }
    return std::min(kDefaultMaxThreads, available_cpus());
}

double parse_norm(double p, const char* what, bool allow_inf = true) {
    if (p == 1.0 || p == 2.0 || (allow_inf && std::isinf(p) && p > 0)) return p;
    std::ostringstream os;
    os << what << " must be 1, 2 or inf, got " << p;
    fail(os.str());
}

py::list bounds_to_py(const std::vector<LayerBounds>& B) {
    py::list out;
    for (const auto& lb : B) {
        py::array_t<double> lo(lb.lo.size()), hi(lb.hi.size());
        std::copy(lb.lo.begin(), lb.lo.end(), lo.mutable_data());
        std::copy(lb.hi.begin(), lb.hi.end(), hi.mutable_data());
        out.append(py::make_tuple(lo, hi));
    }
    return out;
}

void check_box(const std::vector<double>& lo, const std::vector<double>& hi) {
    for (std::size_t i = 0; i < lo.size(); ++i) {
        if (!(lo[i] <= hi[i])) {
            std::ostringstream os;
            os << "empty box: lo[" << i << "] = " << lo[i] << " > hi[" << i << "] = " << hi[i];
            fail(os.str());
        }
        if (lo[i] == kInf || hi[i] == -kInf) {
            std::ostringstream os;
            os << "box bound is infinite on the wrong side in coordinate " << i << ": lo = "
               << lo[i] << ", hi = " << hi[i];
            fail(os.str());
        }
    }
}

py::list py_interval_bounds(const Network& net, const py::object& lo, const py::object& hi) {
    const std::size_t n = net.in_dim();
    std::vector<double> l = vec1(lo, n, "lo", true), u = vec1(hi, n, "hi", true);
    check_box(l, u);
    std::vector<LayerBounds> res;
    {
        py::gil_scoped_release nogil;
        res = lipmiq::interval_bounds(net, l, u);
    }
    return bounds_to_py(res);
}

// The input set of the bound propagations: the box [lo, hi], intersected with the ball around `center`
// when given; it must be bounded.
lipmiq::InputDomain make_domain(std::size_t n, const py::object& lo, const py::object& hi, const py::object& center,
                                double radius, double ball_norm, const char* who) {
    lipmiq::InputDomain dom;
    dom.lo = vec1(lo, n, "lo", true);
    dom.hi = vec1(hi, n, "hi", true);
    check_box(dom.lo, dom.hi);
    if (!center.is_none()) {
        dom.has_ball = true;
        dom.center = vec1(center, n, "center", true);
        if (!(radius >= 0.0) || std::isinf(radius)) {
            std::ostringstream os;
            os << "radius must be finite and >= 0, got " << radius;
            fail(os.str());
        }
        dom.radius = radius;
        dom.ball_norm = parse_norm(ball_norm, "ball_norm");
        for (std::size_t i = 0; i < n; ++i) {
            if (std::max(dom.lo[i], dom.center[i] - radius) >
                std::min(dom.hi[i], dom.center[i] + radius)) {
                std::ostringstream os;
                os << "empty input set: the ball around center misses the box in coordinate "
                   << i;
                fail(os.str());
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        double l = dom.lo[i], u = dom.hi[i];
        if (dom.has_ball) {
            l = std::max(l, dom.center[i] - dom.radius);
            u = std::min(u, dom.center[i] + dom.radius);
        }
        if (!std::isfinite(l) || !std::isfinite(u))
            fail(std::string(who) + " needs a bounded input set (finite lo, hi or a ball)");
    }
    return dom;
}

using i8array = py::array_t<std::int8_t, py::array::c_style | py::array::forcecast>;

// One int8 array per hidden layer (sizes[k] entries in {-1, 0, 1}); `keep` owns the converted arrays.
std::vector<const std::int8_t*> parse_states(const py::list& states, const std::vector<std::size_t>& sizes,
                                             std::vector<i8array>& keep) {
    if (states.size() != sizes.size())
        fail("got " + std::to_string(states.size()) + " state vectors, expected one per hidden layer (" +
             std::to_string(sizes.size()) + ")");
    std::vector<const std::int8_t*> state;
    keep.reserve(sizes.size());
    for (std::size_t k = 0; k < states.size(); ++k) {
        keep.push_back(i8array::ensure(states[k]));
        const i8array& a = keep.back();
        if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != sizes[k])
            fail("states[" + std::to_string(k) + "] must be a 1-D array of " + std::to_string(sizes[k]) +
                 " values in {-1, 0, 1}");
        for (py::ssize_t j = 0; j < a.shape(0); ++j)
            if (a.data()[j] < -1 || a.data()[j] > 1)
                fail("states[" + std::to_string(k) + "][" + std::to_string(j) + "] = " + std::to_string(a.data()[j]) +
                     ", expected -1 (open), 0 or 1");
        state.push_back(a.data());
    }
    return state;
}

py::list py_symbolic_bounds(const Network& net, const py::object& lo, const py::object& hi,
                            const py::object& center, double radius, double ball_norm, const py::object& prior,
                            const py::object& threads) {
    const unsigned nthreads = resolve_threads(threads);
    const std::size_t n = net.in_dim(), L = net.depth();
    const lipmiq::InputDomain dom = make_domain(n, lo, hi, center, radius, ball_norm, "symbolic_bounds");
    std::vector<LayerBounds> pri;
    if (!prior.is_none()) {
        py::list pl = py::list(prior);
        if (pl.size() != L) {
            std::ostringstream os;
            os << "prior has " << pl.size() << " entries, expected one per layer (" << L << ")";
            fail(os.str());
        }
        pri.resize(L);
        for (std::size_t k = 0; k < L; ++k) {
            if (pl[k].is_none()) continue;
            py::sequence t = py::reinterpret_borrow<py::sequence>(pl[k]);
            if (py::len(t) != 2) fail("prior[" + std::to_string(k) + "] must be a pair (l, u)");
            const std::size_t nk = net.W[k].rows;
            pri[k].lo = vec1(t[0], nk, "prior[" + std::to_string(k) + "][0]", true);
            pri[k].hi = vec1(t[1], nk, "prior[" + std::to_string(k) + "][1]", true);
        }
    }
    std::vector<LayerBounds> res;
    {
        py::gil_scoped_release nogil;
        res = lipmiq::symbolic_bounds(net, dom, pri, nthreads);
    }
    return bounds_to_py(res);
}

py::list py_forward(const Network& net, const py::object& Xo, const py::object& threads) {
    const unsigned nthreads = resolve_threads(threads);
    darray X = as_double(Xo, "X");
    if (X.ndim() != 2 || static_cast<std::size_t>(X.shape(1)) != net.in_dim()) {
        std::ostringstream os;
        os << "X has shape " << shape_str(X) << ", expected (B, " << net.in_dim() << ")";
        fail(os.str());
    }
    const std::size_t B = X.shape(0);
    std::vector<Matrix> Z;
    {
        py::gil_scoped_release nogil;
        Z = lipmiq::forward(net, X.data(), B, nthreads);
    }
    py::list out;
    for (auto& z : Z) {
        py::array_t<double> a({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(z.cols)});
        std::copy(z.data.begin(), z.data.end(), a.mutable_data());
        out.append(a);
    }
    return out;
}

py::array_t<double> py_jacobians(const Network& net, const py::list& masks, const py::object& batch,
                                 const py::object& threads) {
    const unsigned nthreads = resolve_threads(threads);
    const std::size_t L = net.depth();
    if (masks.size() != L - 1) {
        std::ostringstream os;
        os << "got " << masks.size() << " masks for a network with " << L
           << " layers: expected " << L - 1 << " (one per hidden layer)";
        fail(os.str());
    }
    long long B = -1;
    if (!batch.is_none()) {
        B = batch.cast<long long>();
        if (B < 0) fail("batch must be >= 0");
    }
    using u8array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
    std::vector<u8array> keep;
    std::vector<const std::uint8_t*> ptrs;
    py::object np = py::module_::import("numpy");
    for (std::size_t k = 0; k + 1 < L; ++k) {
        py::array a = np.attr("asarray")(masks[k]);
        const char kind = a.dtype().kind();
        if (kind != 'b' && kind != 'u' && kind != 'i') {
            fail("masks[" + std::to_string(k) + "] must be a bool or integer array, got dtype " +
                 std::string(py::str(a.dtype())));
        }
        if (kind != 'b' && a.dtype().itemsize() != 1) a = np.attr("not_equal")(a, 0);
        u8array m = u8array::ensure(a);
        const std::size_t nk = net.W[k].rows;
        if (m.ndim() != 2 || static_cast<std::size_t>(m.shape(1)) != nk ||
            (B >= 0 && m.shape(0) != B)) {
            std::ostringstream os;
            os << "masks[" << k << "] has shape " << shape_str(m) << ", expected (";
            if (B >= 0)
                os << B;
            else
                os << "B";
            os << ", " << nk << ")";
            fail(os.str());
        }
        if (B < 0) B = m.shape(0);
        ptrs.push_back(m.data());
        keep.push_back(std::move(m));
    }
    if (B < 0) fail("batch must be given when masks is empty (one-layer network)");
    const std::size_t m = net.out_dim(), n = net.in_dim();
    py::array_t<double> out({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(m),
                             static_cast<py::ssize_t>(n)});
    double* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        lipmiq::jacobians(net, ptrs, static_cast<std::size_t>(B), dst, nthreads);
    }
    return out;
}

py::tuple py_operator_norms(const py::object& Jo, double p, double q, int max_enum, int restarts,
                            std::uint64_t seed) {
    parse_norm(p, "p");
    parse_norm(q, "q");
    if (max_enum < 0 || max_enum > 40) fail("max_enum must be in [0, 40], got " + std::to_string(max_enum));
    if (restarts < 0) fail("restarts must be >= 0, got " + std::to_string(restarts));
    darray J = as_double(Jo, "J");
    if (J.ndim() != 3 || J.shape(1) == 0 || J.shape(2) == 0) {
        fail("J has shape " + shape_str(J) + ", expected (B, m, n) with m, n >= 1");
    }
    const std::size_t B = J.shape(0), m = J.shape(1), n = J.shape(2);
    py::array_t<double> norms(static_cast<py::ssize_t>(B));
    py::array_t<double> V({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(n)});
    py::array_t<bool> exact(static_cast<py::ssize_t>(B));
    std::vector<std::uint8_t> ex(B);
    const double* src = J.data();
    double* pn = norms.mutable_data();
    double* pv = V.mutable_data();
    {
        py::gil_scoped_release nogil;
        lipmiq::operator_norms(src, B, m, n, p, q, max_enum, restarts, seed, pn, pv, ex.data());
    }
    bool* pe = exact.mutable_data();
    for (std::size_t b = 0; b < B; ++b) pe[b] = ex[b] != 0;
    return py::make_tuple(norms, V, exact);
}

// An index array with every entry in [0, bound).
std::vector<std::int32_t> index_vector(const py::object& h, std::size_t bound, const std::string& what) {
    py::array a = py::module_::import("numpy").attr("asarray")(h);
    const char kind = a.dtype().kind();
    if (a.ndim() != 1 || (kind != 'i' && kind != 'u'))
        fail(what + " must be a 1-D integer array, got shape " + shape_str(a) + " and dtype " +
             std::string(py::str(a.dtype())));
    using i64array = py::array_t<long long, py::array::c_style | py::array::forcecast>;
    i64array v = i64array::ensure(a);
    std::vector<std::int32_t> out(v.shape(0));
    for (std::size_t i = 0; i < out.size(); ++i) {
        const long long x = v.data()[i];
        if (x < 0 || static_cast<unsigned long long>(x) >= bound)
            fail(what + "[" + std::to_string(i) + "] = " + std::to_string(x) + " is outside [0, " +
                 std::to_string(bound) + ")");
        out[i] = static_cast<std::int32_t>(x);
    }
    return out;
}

py::array_t<double> py_gemm_gather(const py::object& Ro, const py::object& Mo, const py::object& out_o,
                                   const py::object& rows_o, const py::object& ridx_o,
                                   const py::object& midx_o, bool accumulate, long long group,
                                   const py::object& threads) {
    const unsigned nthreads = resolve_threads(threads);
    darray R = as_double(Ro, "R"), M = as_double(Mo, "M"), out0 = as_double(out_o, "out");
    if (R.ndim() != 2) fail("R has shape " + shape_str(R) + ", expected a 2-D array");
    if (M.ndim() != 2) fail("M has shape " + shape_str(M) + ", expected a 2-D array");
    if (out0.ndim() != 2 || out0.shape(1) != M.shape(1))
        fail("out has shape " + shape_str(out0) + ", expected (n, " + std::to_string(M.shape(1)) + ")");
    if (group < 0) fail("group must be >= 0, got " + std::to_string(group));
    const std::size_t rr = R.shape(0), rc = R.shape(1), mr = M.shape(0), ncols = M.shape(1);
    const std::size_t orows = out0.shape(0);
    std::vector<std::int32_t> rows, ridx, midx;
    std::size_t nrows = rr;
    if (!rows_o.is_none()) {
        rows = index_vector(rows_o, std::min(rr, orows), "rows");
        nrows = rows.size();
    } else if (orows < rr) {
        fail("out has " + std::to_string(orows) + " rows, fewer than R (" + std::to_string(rr) + ")");
    }
    if (!ridx_o.is_none()) ridx = index_vector(ridx_o, rc, "ridx");
    if (!midx_o.is_none()) midx = index_vector(midx_o, mr, "midx");
    const std::size_t nidx = !ridx_o.is_none() ? ridx.size() : !midx_o.is_none() ? midx.size() : rc;
    if ((!ridx_o.is_none() && !midx_o.is_none() && ridx.size() != midx.size()) ||
        (ridx_o.is_none() && nidx > rc) || (midx_o.is_none() && nidx > mr))
        fail("the inner indices do not match: " + std::to_string(nidx) + " of them, R has " +
             std::to_string(rc) + " columns and M " + std::to_string(mr) + " rows");
    py::array_t<double> out({static_cast<py::ssize_t>(orows), static_cast<py::ssize_t>(ncols)});
    std::copy(out0.data(), out0.data() + orows * ncols, out.mutable_data());
    double* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        lipmiq::gemm_gather(R.data(), rc, rows_o.is_none() ? nullptr : rows.data(), nrows,
                            ridx_o.is_none() ? nullptr : ridx.data(),
                            midx_o.is_none() ? nullptr : midx.data(), nidx, M.data(), ncols, ncols,
                            dst, ncols, accumulate, static_cast<std::size_t>(group), nthreads);
    }
    return out;
}

}  // namespace

// ---- patterns.cpp bindings ------------------------------------------------------------------
namespace {

py::tuple py_pattern_max(const py::object& Ao, const py::object& s0o, double r, double incumbent,
                         std::uint64_t node_limit, double time_limit) {
    parse_norm(r, "r");
    darray A = as_double(Ao, "A");
    if (A.ndim() != 2 || A.shape(1) == 0)
        fail("A has shape " + shape_str(A) + ", expected (n, d) with d >= 1");
    const std::size_t n = A.shape(0), d = A.shape(1);
    std::vector<double> s0 = vec1(s0o, d, "s0", false);
    if (!(time_limit >= 0.0)) fail("time_limit must be >= 0, got " + std::to_string(time_limit));
    lipmiq::PatternResult res;
    {
        py::gil_scoped_release nogil;
        res = lipmiq::pattern_max(A.data(), n, d, s0.data(), r, incumbent, node_limit, time_limit);
    }
    py::array_t<std::uint8_t> g(static_cast<py::ssize_t>(n));
    std::copy(res.g.begin(), res.g.end(), g.mutable_data());
    return py::make_tuple(res.value, g, res.complete, res.improved, res.nodes);
}

py::array_t<std::int32_t> py_obbt_order(const py::object& lo, const py::object& hi) {
    darray l = as_double(lo, "lo");
    if (l.ndim() != 1) fail("lo has shape " + shape_str(l) + ", expected (n,)");
    const std::size_t n = l.shape(0);
    std::vector<double> u = vec1(hi, n, "hi", false);
    std::vector<std::int32_t> idx = lipmiq::obbt_order(l.data(), u.data(), n);
    py::array_t<std::int32_t> out(static_cast<py::ssize_t>(idx.size()));
    std::copy(idx.begin(), idx.end(), out.mutable_data());
    return out;
}

double py_pattern_norm_bound(const py::list& weights, const py::list& states, double p, double q) {
    parse_norm(p, "p");
    parse_norm(q, "q");
    if (weights.size() == 0) fail("weights must contain at least one layer");
    if (states.size() + 1 != weights.size()) {
        fail("got " + std::to_string(weights.size()) + " weight matrices but " + std::to_string(states.size()) +
             " state vectors, expected one per hidden layer (" + std::to_string(weights.size() - 1) + ")");
    }
    std::vector<darray> keep;
    std::vector<lipmiq::MatrixRef> W;
    for (std::size_t k = 0; k < weights.size(); ++k) {
        keep.push_back(as_double(weights[k], "weights[" + std::to_string(k) + "]"));
        const darray& a = keep.back();
        if (a.ndim() != 2)  // empty layers are allowed: a plan may keep no neuron of a layer
            fail("weights[" + std::to_string(k) + "] has shape " + shape_str(a) + ", expected a 2-D (out, in)");
        if (k > 0 && static_cast<std::size_t>(a.shape(1)) != W.back().rows)
            fail("weights[" + std::to_string(k) + "] has shape " + shape_str(a) + " but the previous layer has " +
                 std::to_string(W.back().rows) + " outputs");
        W.push_back({a.data(), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))});
    }
    std::vector<std::size_t> sizes;
    for (std::size_t k = 0; k + 1 < W.size(); ++k) sizes.push_back(W[k].rows);
    std::vector<i8array> keep_states;
    const std::vector<const std::int8_t*> state = parse_states(states, sizes, keep_states);
    double bound = 0.0;
    {
        py::gil_scoped_release nogil;
        bound = lipmiq::pattern_norm_bound(W, state, p, q);
    }
    return bound;
}

void register_patterns(py::module_& mod) {
    using namespace pybind11::literals;
    mod.def("pattern_max", &py_pattern_max, "A"_a, "s0"_a, "r"_a, "incumbent"_a = 0.0,
            "node_limit"_a = std::uint64_t(1) << 62, "time_limit"_a = 1e9,
            "(value, g, complete, improved, nodes): max over g in {0,1}^n of "
            "||s0 + sum_i g_i A[i]||_r by branch and bound (complete: value is the maximum "
            "up to rounding; improved: value beats `incumbent` and g attains it).");
    mod.def("pattern_norm_bound", &py_pattern_norm_bound, "weights"_a, "states"_a, "p"_a, "q"_a,
            "Upper bound (not rounded outward) on ||W_L D_{L-1} ... D_1 W_1||_{p->q} over the patterns "
            "with D_k = diag(g_k), g_kj fixed where states[k][j] is 0 or 1 and free where it is -1.");
    mod.def("obbt_order", &py_obbt_order, "lo"_a, "hi"_a,
            "Indices of the unstable neurons (lo < 0 < hi), largest |lo| * hi first.");
}

// ---- gradient_bounds.cpp bindings -------------------------------------------------------------
py::tuple bounds_pair(const LayerBounds& b) {
    py::array_t<double> lo(b.lo.size()), hi(b.hi.size());
    std::copy(b.lo.begin(), b.lo.end(), lo.mutable_data());
    std::copy(b.hi.begin(), b.hi.end(), hi.mutable_data());
    return py::make_tuple(lo, hi);
}

py::dict py_gradient_bounds(const Network& net, const py::object& lo, const py::object& hi, double p, double q,
                            const py::object& n_dir_obj,
                            const py::object& states, const py::object& center, double radius, double ball_norm,
                            int forward_iterations, int coordinate_iterations, int max_coordinates,
                            double coordinate_work, int iterations, double step, double decay,
                            int max_sign_outputs, double step_init, double time_limit, const py::object& prior,
                            const py::object& signs, double target, long long block_entries) {
    parse_norm(p, "p");
    parse_norm(q, "q");
    const std::size_t n = net.in_dim();
    const lipmiq::InputDomain dom = make_domain(n, lo, hi, center, radius, ball_norm, "gradient_bounds");
    std::size_t n_dir = n;
    if (!n_dir_obj.is_none()) {
        const long long v = n_dir_obj.cast<long long>();
        if (v < 0 || static_cast<std::size_t>(v) > n)
            fail("n_dir must be in [0, " + std::to_string(n) + "], got " + std::to_string(v));
        n_dir = static_cast<std::size_t>(v);
    }
    std::vector<i8array> keep_states;
    std::vector<const std::int8_t*> state;
    if (!states.is_none()) {
        std::vector<std::size_t> sizes;
        for (std::size_t k = 0; k + 1 < net.depth(); ++k) sizes.push_back(net.W[k].rows);
        state = parse_states(py::list(states), sizes, keep_states);
    }
    std::vector<LayerBounds> pri;
    if (!prior.is_none()) {
        py::list pl = py::list(prior);
        if (pl.size() + 1 != net.depth())
            fail("prior has " + std::to_string(pl.size()) + " entries, expected one per hidden layer (" +
                 std::to_string(net.depth() - 1) + ")");
        pri.resize(pl.size());
        for (std::size_t k = 0; k < pl.size(); ++k) {
            py::sequence t = py::reinterpret_borrow<py::sequence>(pl[k]);
            if (py::len(t) != 2) fail("prior[" + std::to_string(k) + "] must be a pair (lo, hi)");
            const std::size_t nk = net.W[k].rows;
            pri[k].lo = vec1(t[0], nk, "prior[" + std::to_string(k) + "][0]", true);
            pri[k].hi = vec1(t[1], nk, "prior[" + std::to_string(k) + "][1]", true);
        }
    }
    if (!(time_limit >= 0.0)) fail("time_limit must be >= 0 seconds (inf: none)");
    if (iterations < 0 || forward_iterations < 0 || coordinate_iterations < 0 || max_coordinates < 0 ||
        !(coordinate_work >= 0.0))
        fail("iteration counts, max_coordinates and coordinate_work must be >= 0");
    if (!(step > 0.0) || !(decay > 0.0 && decay <= 1.0)) fail("step must be > 0 and decay in (0, 1]");
    if (!(step_init >= 0.0 && step_init <= 1.0)) fail("step_init must be in [0, 1]");
    lipmiq::GradientOptions opt;
    opt.forward_iterations = forward_iterations;
    opt.coordinate_iterations = coordinate_iterations;
    opt.max_coordinates = max_coordinates;
    opt.coordinate_work = coordinate_work;
    opt.iterations = iterations;
    opt.step = step;
    opt.decay = decay;
    opt.max_sign_outputs = max_sign_outputs;
    opt.step_init = step_init;
    if (block_entries < 1) fail("block_entries must be at least 1, got " + std::to_string(block_entries));
    opt.block_entries = static_cast<std::size_t>(block_entries);
    if (std::isnan(target)) fail("target must be a number (-inf: none)");
    opt.target = target;
    if (!signs.is_none()) {
        const i8array a = i8array::ensure(signs);
        if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.size()) != n_dir)
            fail("signs must be a vector of " + std::to_string(n_dir) + " entries in {-1, 0, 1} (one per direction input)");
        opt.signs.assign(a.data(), a.data() + a.size());
        for (std::int8_t v : opt.signs)
            if (v < -1 || v > 1) fail("signs must be in {-1, 0, 1}");
    }
    lipmiq::GradientResult res;
    {
        py::gil_scoped_release nogil;
        opt.deadline = lipmiq::Deadline::after(time_limit);
        res = lipmiq::gradient_bounds(net, dom, state, p, q, n_dir, opt, pri);
    }
    py::list rows;
    for (const auto& r : res.rows) {
        py::list backward;
        for (const auto& b : r.backward) backward.append(bounds_pair(b));
        py::dict d;
        d["upper"] = r.upper;
        d["gradient"] = bounds_pair(r.gradient);
        d["backward"] = backward;
        rows.append(d);
    }
    py::dict out;
    out["upper"] = res.upper;
    out["empty"] = res.empty;
    out["stopped"] = res.stopped;
    out["work"] = res.work;
    py::list sens;
    for (const auto& v : res.sensitivity) {
        py::array_t<double> a(v.size());
        std::copy(v.begin(), v.end(), a.mutable_data());
        sens.append(a);
    }
    out["sensitivity"] = sens;
    out["forward"] = bounds_to_py(res.forward);
    out["rows"] = rows;
    const lipmiq::NodeScores scores = lipmiq::node_scores(res, state, opt.signs);
    py::list status_list, score_list;
    for (std::size_t k = 0; k < scores.status.size(); ++k) {
        py::array_t<std::int8_t> a(static_cast<py::ssize_t>(scores.status[k].size()));
        std::copy(scores.status[k].begin(), scores.status[k].end(), a.mutable_data());
        status_list.append(a);
        py::array_t<double> b(static_cast<py::ssize_t>(scores.score[k].size()));
        std::copy(scores.score[k].begin(), scores.score[k].end(), b.mutable_data());
        score_list.append(b);
    }
    out["status"] = status_list;
    out["scores"] = score_list;
    py::array_t<double> excess(static_cast<py::ssize_t>(scores.sign_excess.size()));
    std::copy(scores.sign_excess.begin(), scores.sign_excess.end(), excess.mutable_data());
    out["sign_excess"] = excess;
    return out;
}

void register_gradient_bounds(py::module_& mod) {
    using namespace pybind11::literals;
    mod.def("gradient_bounds", &py_gradient_bounds, "net"_a, "lo"_a, "hi"_a, "p"_a, "q"_a,
            "n_dir"_a = py::none(), "states"_a = py::none(), "center"_a = py::none(), "radius"_a = 0.0,
            "ball_norm"_a = kInf, "forward_iterations"_a = 20, "coordinate_iterations"_a = 20, "max_coordinates"_a = 64, "coordinate_work"_a = 2e9,
            "iterations"_a = 40, "step"_a = 0.25, "decay"_a = 0.95,
            "max_sign_outputs"_a = 4, "step_init"_a = 0.0, "time_limit"_a = kInf, "prior"_a = py::none(),
            "signs"_a = py::none(), "target"_a = -kInf, "block_entries"_a = 1LL << 22,
            "Certified upper bound on max ||J(x)||_{p->q} over the box [lo, hi] (intersected with the ball around "
            "center) and the activation regions agreeing with `states` (-1 free, 0 inactive, 1 active per hidden "
            "neuron), J over the first n_dir inputs: linear bound propagation through the backward graph. "
            "`prior`: certified pre-activation bounds [(lo, hi)] per hidden layer valid on that set (e.g. a "
            "branch-and-bound parent's `forward`). `signs` (p = inf, q = inf or one output): +1 / -1 per direction "
            "input fixes the sign of that coordinate of the l-inf vertex v, 0 leaves it free; each row then bounds "
            "max g^T v over those vertices (a branch of ||g||_1). `target`: the caller only needs to know whether "
            "the bound is at most this (a branch and bound's incumbent): the final slope steps stop once it is. After `time_limit` seconds the optimisation stops and the bound "
            "certified so far is returned (`stopped`; the forward slope steps stop at half of it, so that the backward "
            "pass gets the rest). Returns {upper, empty, stopped, forward: [(lo, hi)] per "
            "hidden layer, sensitivity: [dual norm of the enclosure of d z_kj / dx per neuron] per hidden layer, rows: [{upper, gradient: (lo, hi), backward: [(lo, hi)] of d(f_i)/d x_k per hidden "
            "layer}], status: [int8 per neuron: the split's side, else 1 / 0 proved by the bounds, -1 open] and "
            "scores: [the branching score of each open neuron, -1 for the others] per hidden layer, sign_excess: per "
            "direction input whose vertex sign is free, the largest excess over the rows of the secant of |g_i| on "
            "its bounds, 2 u (-l) / (u - l) where l < 0 < u, else 0}.");
}

// ---- relaxed_lp.cpp bindings -------------------------------------------------------------------
// A node as relaxed_lp.cpp reads it: the box, copies of its status and splits (the caller's arrays may change while
// the GIL is released), and its forward bounds for the hidden layers 0..last.
struct RelaxedNode {
    std::vector<double> lo, hi;
    std::vector<std::vector<std::int8_t>> status_copy, states_copy;
    std::vector<const std::int8_t*> status, states;
    std::vector<LayerBounds> forward;
};

RelaxedNode parse_relaxed_node(const Network& net, const py::object& lo, const py::object& hi, const py::list& status,
                               const py::list& states, const py::list& forward, long long last) {
    const std::size_t n = net.in_dim(), hidden = net.depth() - 1;
    if (last < 0 || static_cast<std::size_t>(last) >= hidden)
        fail("last must be a hidden layer in [0, " + std::to_string(hidden) + "), got " + std::to_string(last));
    RelaxedNode node;
    node.lo = vec1(lo, n, "lo", false);
    node.hi = vec1(hi, n, "hi", false);
    std::vector<std::size_t> sizes;
    for (std::size_t k = 0; k < hidden; ++k) sizes.push_back(net.W[k].rows);
    auto copy_states = [&](const py::list& arrays, std::vector<std::vector<std::int8_t>>& out) {
        std::vector<i8array> views;
        const std::vector<const std::int8_t*> ptrs = parse_states(arrays, sizes, views);
        for (std::size_t k = 0; k < ptrs.size(); ++k) out.emplace_back(ptrs[k], ptrs[k] + sizes[k]);
    };
    copy_states(status, node.status_copy);
    copy_states(states, node.states_copy);
    for (const auto& v : node.status_copy) node.status.push_back(v.data());
    for (const auto& v : node.states_copy) node.states.push_back(v.data());
    if (forward.size() < static_cast<std::size_t>(last) + 1)
        fail("forward needs bounds (lo, hi) for the hidden layers up to last");
    node.forward.resize(static_cast<std::size_t>(last) + 1);
    for (std::size_t k = 0; k < node.forward.size(); ++k) {
        py::sequence t = py::reinterpret_borrow<py::sequence>(forward[k]);
        if (py::len(t) != 2) fail("forward[" + std::to_string(k) + "] must be a pair (lo, hi)");
        node.forward[k].lo = vec1(t[0], sizes[k], "forward[" + std::to_string(k) + "][0]", true);
        node.forward[k].hi = vec1(t[1], sizes[k], "forward[" + std::to_string(k) + "][1]", true);
    }
    return node;
}

py::dict py_relaxed_lp_empty(const Network& net, const py::object& lo, const py::object& hi, const py::list& status,
                             const py::list& states, const py::list& forward, long long last, double interior_tol,
                             double time_limit) {
    const RelaxedNode node = parse_relaxed_node(net, lo, hi, status, states, forward, last);
    if (!(time_limit >= 0.0)) fail("time_limit must be >= 0 seconds (inf: none)");
    lipmiq::RelaxedVerdict v;
    {
        py::gil_scoped_release nogil;
        v = lipmiq::relaxed_lp_empty(net, node.lo.data(), node.hi.data(), node.status, node.states, node.forward,
                                     static_cast<std::size_t>(last), interior_tol, lipmiq::Deadline::after(time_limit));
    }
    py::dict out;
    out["empty"] = v.empty;
    out["proof"] = v.reason == 1 ? "bound" : v.reason == 2 ? "farkas" : "";
    out["iterations"] = v.iterations;
    out["s"] = v.s;
    return out;
}

py::dict py_relaxed_lp_bounds(const Network& net, const py::object& lo, const py::object& hi, const py::list& status,
                              const py::list& states, const py::list& forward, long long first, bool signs,
                              double time_limit) {
    const long long last = static_cast<long long>(forward.size()) - 1;
    const RelaxedNode node = parse_relaxed_node(net, lo, hi, status, states, forward, last);
    if (first < 0 || first > last)
        fail("first must be a hidden layer in [0, " + std::to_string(last) + "], got " + std::to_string(first));
    if (!(time_limit >= 0.0)) fail("time_limit must be >= 0 seconds (inf: none)");
    lipmiq::RelaxedBounds b;
    {
        py::gil_scoped_release nogil;
        b = lipmiq::relaxed_lp_bounds(net, node.lo.data(), node.hi.data(), node.status, node.states, node.forward,
                                      static_cast<std::size_t>(first), signs, lipmiq::Deadline::after(time_limit));
    }
    py::dict out;
    out["empty"] = b.empty;
    out["bounds"] = bounds_to_py(b.bounds);
    out["solves"] = b.solves;
    out["iterations"] = b.iterations;
    return out;
}

void register_relaxed_lp(py::module_& mod) {
    using namespace pybind11::literals;
    mod.def("relaxed_lp_empty", &py_relaxed_lp_empty, "net"_a, "lo"_a, "hi"_a, "status"_a, "states"_a, "forward"_a,
            "last"_a, "interior_tol"_a, "time_limit"_a = kInf,
            "Whether a branch-and-bound node provably has no activation region with interior: max s over the "
            "triangle relaxation of its splits up to hidden layer `last` (python/lipmiq/certify/relaxed.py) is "
            "<= 0 or the relaxation is empty, each proved by weak duality with a rounding allowance. `status`: "
            "per hidden layer 1 active, 0 inactive, -1 open on the node; `states`: the node's splits (-1 none); "
            "`forward`: certified pre-activation bounds on the node. Returns {empty, proof: 'bound', 'farkas' or "
            "'', iterations, s: the LP's max when solved (nan otherwise)}.");
    mod.def("relaxed_lp_bounds", &py_relaxed_lp_bounds, "net"_a, "lo"_a, "hi"_a, "status"_a, "states"_a, "forward"_a,
            "first"_a, "signs"_a = false, "time_limit"_a = kInf,
            "Certified bounds on the pre-activations of a branch-and-bound node's open neurons in the hidden layers "
            ">= `first`: min and max of each over the node's triangle relaxation with its splits closed "
            "(python/lipmiq/certify/relaxed.py), each solve warm-started from the last (dual simplex first, then primal) "
            "and each bound proved by weak duality with a rounding allowance. `forward`: certified bounds for the hidden layers 0..last (the relaxation's); `signs`: only whether each neuron is "
            "stable matters (a side of 0 some LP point reaches is not solved). Returns {empty: the relaxation "
            "proved to have no point, bounds: [(lo, hi)] per hidden layer (`forward` tightened), solves, "
            "iterations}.");
}

py::dict py_region_lp_box(const Network& net, const py::object& lo, const py::object& hi, const py::list& pattern,
                          double interior_tol, const py::object& skip, double time_limit) {
    const std::size_t n = net.in_dim(), hidden = net.depth() - 1;
    const std::vector<double> l = vec1(lo, n, "lo", false), h = vec1(hi, n, "hi", false);
    if (pattern.size() == 0 || pattern.size() > hidden)
        fail("pattern needs one array per hidden layer up to the rows' layer (1 to " + std::to_string(hidden) +
             " arrays), got " + std::to_string(pattern.size()));
    std::vector<std::size_t> sizes;
    for (std::size_t k = 0; k < pattern.size(); ++k) sizes.push_back(net.W[k].rows);
    // copies: the caller's arrays may change while the GIL is released
    std::vector<i8array> views;
    const std::vector<const std::int8_t*> ptrs = parse_states(pattern, sizes, views);
    std::vector<std::vector<std::int8_t>> pattern_copy;
    for (std::size_t k = 0; k < ptrs.size(); ++k) {
        pattern_copy.emplace_back(ptrs[k], ptrs[k] + sizes[k]);
        if (k + 1 < ptrs.size() && std::any_of(ptrs[k], ptrs[k] + sizes[k], [](std::int8_t v) { return v < 0; }))
            fail("pattern[" + std::to_string(k) + "] must decide every neuron (0 or 1): only the last layer's "
                 "entries may be -1 (no row)");
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!(l[i] <= h[i]))
            fail("the box needs lo <= hi: lo[" + std::to_string(i) + "] = " + std::to_string(l[i]) + ", hi[" +
                 std::to_string(i) + "] = " + std::to_string(h[i]));
    if (!(interior_tol >= 0.0) || !std::isfinite(interior_tol))
        fail("interior_tol must be a finite number >= 0, got " + std::to_string(interior_tol));
    std::vector<std::vector<std::uint8_t>> skip_copy;
    if (!skip.is_none()) {
        const py::list lst(skip);  // any sequence of arrays
        if (lst.size() > pattern.size())
            fail("skip has " + std::to_string(lst.size()) + " arrays, more than the pattern's " +
                 std::to_string(pattern.size()));
        for (std::size_t k = 0; k < lst.size(); ++k) {
            const auto a = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(lst[k]);
            if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != sizes[k])
                fail("skip[" + std::to_string(k) + "] must be a 1-D array of " + std::to_string(sizes[k]) + " flags");
            skip_copy.emplace_back(a.data(), a.data() + sizes[k]);
        }
    }
    std::vector<const std::int8_t*> g;
    std::vector<const std::uint8_t*> off;
    for (const auto& v : pattern_copy) g.push_back(v.data());
    for (const auto& v : skip_copy) off.push_back(v.data());
    if (!(time_limit >= 0.0)) fail("time_limit must be >= 0 seconds (inf: none)");
    lipmiq::RegionVerdict v;
    {
        py::gil_scoped_release nogil;
        v = lipmiq::region_lp_box(net, l.data(), h.data(), g, off, interior_tol, lipmiq::Deadline::after(time_limit));
    }
    py::dict out;
    out["verdict"] = v.verdict == 1 ? "interior" : v.verdict == 2 ? "empty" : "";
    out["proof"] = v.reason == 1 ? "bound" : v.reason == 2 ? "farkas" : v.reason == 3 ? "constant" : "";
    out["iterations"] = v.iterations;
    out["margin"] = v.margin;
    if (v.verdict == 1) {
        py::array_t<double> x(static_cast<py::ssize_t>(v.x.size()));
        std::copy(v.x.begin(), v.x.end(), x.mutable_data());
        out["x"] = x;
    } else {
        out["x"] = py::none();
    }
    py::list rows;
    for (const auto& key : v.proof) rows.append(py::make_tuple(key.first, key.second));
    out["rows"] = rows;
    return out;
}

void register_region_lp(py::module_& mod) {
    using namespace pybind11::literals;
    mod.def("region_lp_box", &py_region_lp_box, "net"_a, "lo"_a, "hi"_a, "pattern"_a, "interior_tol"_a,
            "skip"_a = py::none(), "time_limit"_a = kInf,
            "Whether the region of a partial activation pattern meets the interior of the box [lo, hi] "
            "(cpp/region_lp.cpp): `pattern` per hidden layer up to the rows' layer K (1 on, 0 off; layer K may "
            "have -1: no row); `skip` per layer (nonzero: no row, a neuron with its side on the whole box). "
            "Returns {verdict: 'interior' (x, margin: a point re-checked in float64), 'empty' (rows: the "
            "(layer, neuron) pairs a weak-duality, Farkas or constant-neuron proof uses; proof: which) or '' "
            "(neither), iterations}.");
}

py::array_t<double> to_array(const std::vector<double>& v, std::size_t rows, std::size_t cols) {
    py::array_t<double> a({rows, cols});
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

// LipSDP's model for lipsdp_barrier.cpp, its shapes and indices checked (the constants come from sdp/barrier.py);
// `keep` holds the arrays the model points into.
// `rows_name` and `gram_name` name the matrices in errors (a majorant's are rows_abs and gram_abs).
lipmiq::SdpModel sdp_model(std::size_t n0, const py::handle& index, const py::handle& rows, const py::handle& gram,
                           std::vector<darray>& keep, const std::string& rows_name = "rows",
                           const std::string& gram_name = "gram") {
    keep.reserve(2);  // G and R stay where they are
    keep.push_back(as_double(gram, gram_name));
    const darray& G = keep.back();
    if (G.ndim() != 2 || G.shape(0) != G.shape(1)) fail(gram_name + " has shape " + shape_str(G) + ", expected (N, N)");
    const std::size_t N = G.shape(0);
    if (n0 > N) fail("n0 = " + std::to_string(n0) + " exceeds the model's size " + std::to_string(N));
    const py::array raw = py::array::ensure(index);
    if (!raw || (raw.dtype().kind() != 'i' && raw.dtype().kind() != 'u'))
        fail("index must be an integer vector of z-coordinates");
    const auto idx = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(raw);
    if (!idx || idx.ndim() != 1) fail("index must be a vector of z-coordinates");
    const std::size_t m = idx.shape(0);
    keep.push_back(as_double(rows, rows_name));
    const darray& R = keep.back();
    if (R.ndim() != 2 || static_cast<std::size_t>(R.shape(0)) != m || static_cast<std::size_t>(R.shape(1)) != N)
        fail(rows_name + " has shape " + shape_str(R) + ", expected (" + std::to_string(m) + ", " + std::to_string(N) +
             ")");
    lipmiq::SdpModel model;
    model.n0 = n0;
    model.size = N;
    model.rows = R.data();
    model.gram = G.data();
    for (std::size_t j = 0; j < m; ++j) {
        const std::int64_t v = idx.data()[j];
        if (v < static_cast<std::int64_t>(n0) || v >= static_cast<std::int64_t>(N))
            fail("index holds " + std::to_string(v) + ", outside the neurons' coordinates [n0, N)");
        model.index.push_back(static_cast<std::size_t>(v));
    }
    return model;
}

// A barrier solve's deadline: a solve on a large model can take seconds, so on the main thread (the only one that
// runs Python's signal handlers) they run between Newton steps, from 20 ms on, and an exception they raise
// (KeyboardInterrupt) stops the solve; `raised` says so.  Nowhere else: taking the GIL back from a worker thread
// waits for the switch interval while the main thread runs Python (a branch-and-bound node's solve on the engine's
// worker thread took 13.5 ms against 2.3 ms, review finding).
lipmiq::Deadline signal_deadline(double time_limit, bool& raised) {
    lipmiq::Deadline deadline = lipmiq::Deadline::after(time_limit);
    const py::module_ threading = py::module_::import("threading");
    if (!threading.attr("current_thread")().is(threading.attr("main_thread")())) return deadline;
    deadline.next_poll = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    deadline.stop = [&raised] {
        py::gil_scoped_acquire gil;
        raised = PyErr_CheckSignals() != 0;
        return raised;
    };
    return deadline;
}

// A vector of int32 values (a neuron's hidden layer or row): integer dtype and every value in range, checked before
// narrowing (a float or an int64 past 2^31 would otherwise be cast silently).
std::vector<std::int32_t> int32_vector(const py::handle& h, const std::string& what) {
    const py::array raw = py::array::ensure(h);
    if (!raw || (raw.dtype().kind() != 'i' && raw.dtype().kind() != 'u') || raw.ndim() != 1)
        fail(what + " must be an integer vector");
    const auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(raw);
    std::vector<std::int32_t> out(a.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::int64_t v = a.data()[i];
        if (v < 0 || v > std::numeric_limits<std::int32_t>::max()) fail(what + " holds " + std::to_string(v));
        out[i] = static_cast<std::int32_t>(v);
    }
    return out;
}

// A start's mu: positive and finite (the barrier re-centres it; it stays the caller's where that solve fails).
void check_mu(double mu, const std::string& what) {
    if (!(mu > 0.0 && std::isfinite(mu))) fail(what + " must be positive and finite, got " + std::to_string(mu));
}

py::tuple sdp_point(const lipmiq::SdpPoint& x) {
    py::array_t<double> tt(x.t.size());
    std::copy(x.t.begin(), x.t.end(), tt.mutable_data());
    return py::make_tuple(x.rho, tt, x.mu);
}

// A solution's point, warm point, dual matrix and Newton steps into `out`.
void put_solution(const lipmiq::SdpSolution& sol, std::size_t N, py::dict& out) {
    out["point"] = sdp_point(sol.point);
    out["warm"] = sdp_point(sol.warm);
    out["dual"] = to_array(sol.dual, N, N);
    out["newton"] = sol.newton;
}

py::dict py_sdp_barrier(std::size_t n0, const py::handle& index, const py::handle& rows, const py::handle& gram,
                        double rho, const py::handle& t, double mu, double rtol, double shrink, double centered,
                        double armijo, double rounding_gap, double warm_gap, int max_newton, int max_centering,
                        double target, double coarse_rtol, double time_limit) {
    std::vector<darray> keep;
    const lipmiq::SdpModel model = sdp_model(n0, index, rows, gram, keep);
    check_mu(mu, "mu");
    lipmiq::SdpPoint start;
    start.rho = rho;
    start.mu = mu;
    start.t = vec1(t, model.index.size(), "t", false);
    const lipmiq::SdpBarrierOptions opt{shrink,     centered,      armijo, rtol,   rounding_gap,
                                        warm_gap,   max_newton,    max_centering, target, coarse_rtol};
    lipmiq::SdpSolution sol;
    bool raised = false;
    const lipmiq::Deadline deadline = signal_deadline(time_limit, raised);
    {
        py::gil_scoped_release nogil;
        sol = lipmiq::sdp_barrier_solve(model, start, opt, deadline);
    }
    if (raised) throw py::error_already_set();
    py::dict out;
    put_solution(sol, model.size, out);
    out["started"] = sol.started;
    return out;
}

py::object py_sdp_start(std::size_t n0, const py::handle& index, const py::handle& rows, const py::handle& gram,
                        const py::handle& norms, const py::handle& layer) {
    std::vector<darray> keep;
    const lipmiq::SdpModel model = sdp_model(n0, index, rows, gram, keep);
    const std::vector<std::int32_t> lv = int32_vector(layer, "layer");
    if (lv.size() != model.index.size()) fail("layer must hold the free neurons' hidden layers, one per index entry");
    const darray nrm = as_double(norms, "norms");
    if (nrm.ndim() != 1) fail("norms must be a vector of the layers' spectral norms");
    const std::vector<double> nv(nrm.data(), nrm.data() + nrm.size());
    for (std::int32_t k : lv)
        if (k < 0 || static_cast<std::size_t>(k) + 1 >= nv.size()) fail("layer holds a layer without a next layer");
    lipmiq::SdpPoint point;
    bool found = false;
    {
        py::gil_scoped_release nogil;
        found = lipmiq::sdp_start(nv, model, lv, point);
    }
    if (!found) return py::none();
    return sdp_point(point);
}

py::tuple py_sdp_barrier_derivatives(std::size_t n0, const py::handle& index, const py::handle& rows,
                                     const py::handle& gram, double rho, const py::handle& t, double mu) {
    std::vector<darray> keep;
    const lipmiq::SdpModel model = sdp_model(n0, index, rows, gram, keep);
    const std::size_t K = model.index.size() + 1;
    const lipmiq::SdpDerivatives d =
        lipmiq::sdp_barrier_derivatives(model, rho, vec1(t, K - 1, "t", false), mu);
    if (d.gradient.empty()) return py::make_tuple(d.value, py::none(), py::none());
    py::array_t<double> g(K), H({K, K});
    std::copy(d.gradient.begin(), d.gradient.end(), g.mutable_data());
    std::copy(d.hessian.begin(), d.hessian.end(), H.mutable_data());
    return py::make_tuple(d.value, g, H);
}

// Slope codes per hidden layer of `weights` (integer vectors of -1 free, 0, 1), checked before narrowing and
// copied, so that nothing the caller owns is read without the GIL.
std::vector<std::vector<std::int8_t>> slope_codes(const py::list& slopes, const std::vector<lipmiq::Matrix>& W) {
    if (slopes.size() + 1 != W.size())
        fail("slopes has " + std::to_string(slopes.size()) + " layers, expected " + std::to_string(W.size() - 1) +
             " (one per hidden layer)");
    std::vector<std::vector<std::int8_t>> out;
    for (std::size_t k = 0; k < slopes.size(); ++k) {
        const py::array raw = py::array::ensure(slopes[k]);
        if (!raw || (raw.dtype().kind() != 'i' && raw.dtype().kind() != 'u'))
            fail("slopes[" + std::to_string(k) + "] must be an integer vector of slope codes -1, 0, 1");
        const auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(raw);
        if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != W[k].rows)
            fail("slopes[" + std::to_string(k) + "] has shape " + shape_str(raw) + ", expected (" +
                 std::to_string(W[k].rows) + ",)");
        std::vector<std::int8_t> codes(W[k].rows);
        for (std::size_t i = 0; i < codes.size(); ++i) {
            const std::int64_t v = a.data()[i];
            if (v < -1 || v > 1) fail("slopes[" + std::to_string(k) + "] holds a code outside -1, 0, 1");
            codes[i] = static_cast<std::int8_t>(v);
        }
        out.push_back(std::move(codes));
    }
    return out;
}

py::dict py_sdp_slope_model(const py::list& weights, const py::list& slopes) {
    const Network net = to_network(weights, py::none());
    const auto codes = slope_codes(slopes, net.W);
    std::vector<const lipmiq::Matrix*> W;
    for (const auto& M : net.W) W.push_back(&M);
    std::vector<const std::int8_t*> S;
    for (const auto& c : codes) S.push_back(c.data());
    lipmiq::SdpSlopeModel m;
    {
        py::gil_scoped_release nogil;
        m = lipmiq::sdp_slope_model(W, S);
    }
    const std::size_t N = m.size, k = m.index.size();
    py::array_t<std::int64_t> index(k), layer(k), row(k);
    for (std::size_t j = 0; j < k; ++j) {
        index.mutable_data()[j] = static_cast<std::int64_t>(m.index[j]);
        layer.mutable_data()[j] = m.layer[j];
        row.mutable_data()[j] = m.row[j];
    }
    py::dict out;
    out["n0"] = m.n0;
    out["index"] = index;
    out["layer"] = layer;
    out["row"] = row;
    out["rows"] = to_array(m.rows, k, N);
    out["rows_abs"] = to_array(m.rows_abs, k, N);
    out["gram"] = to_array(m.gram, N, N);
    out["gram_abs"] = to_array(m.gram_abs, N, N);
    out["depth"] = m.depth;
    return out;
}

double py_sdp_certified_rho(std::size_t n0, const py::handle& index, const py::handle& rows, const py::handle& gram,
                            const py::handle& rows_abs, const py::handle& gram_abs, std::size_t depth,
                            const py::handle& t) {
    std::vector<darray> keep, keep_abs;
    const lipmiq::SdpModel model = sdp_model(n0, index, rows, gram, keep);
    const lipmiq::SdpModel majorant = sdp_model(n0, index, rows_abs, gram_abs, keep_abs, "rows_abs", "gram_abs");
    if (majorant.size != model.size) fail("gram_abs has the shape of a different model than gram");
    std::vector<double> tt = vec1(t, model.index.size(), "t", false);
    py::gil_scoped_release nogil;
    return lipmiq::sdp_certified_rho(model, majorant, depth, std::move(tt));
}

py::list py_sdp_settle(const py::list& weights, const py::list& slopes) {
    const Network net = to_network(weights, py::none());
    auto codes = slope_codes(slopes, net.W);
    {
        py::gil_scoped_release nogil;
        lipmiq::sdp_settle(net.W, codes);
    }
    py::list out;
    for (const auto& c : codes) {
        py::array_t<std::int8_t> a(c.size());
        std::copy(c.begin(), c.end(), a.mutable_data());
        out.append(a);
    }
    return out;
}

py::dict py_sdp_node(const Network& weights, const Network& solving, const py::handle& scale, const py::handle& norms,
                     const py::list& slopes, const py::object& warm, double rtol, double shrink, double centered,
                     double armijo, double rounding_gap, double warm_gap, int max_newton, int max_centering,
                     double target, double coarse_rtol, double time_limit) {
    if (weights.W.size() != solving.W.size()) fail("solving has a different number of layers than weights");
    for (std::size_t k = 0; k < weights.W.size(); ++k)
        if (weights.W[k].rows != solving.W[k].rows || (k > 0 && weights.W[k].cols != solving.W[k].cols))
            fail("solving's layer " + std::to_string(k) + " has another shape than the network's");
    const std::size_t hidden = weights.W.size() - 1;
    lipmiq::SdpInstance net;
    net.weights = &weights;
    net.solving = &solving;
    net.scale = vec1(scale, hidden, "scale", false);
    net.norms = vec1(norms, hidden + 1, "norms", false);
    auto codes = slope_codes(slopes, weights.W);
    lipmiq::SdpWarm parent;
    const bool has_warm = !warm.is_none();
    if (has_warm) {
        const py::tuple w = warm.cast<py::tuple>();
        if (w.size() != 5) fail("warm must be (layer, row, rho, t, mu)");
        parent.layer = int32_vector(w[0], "warm's layer");
        parent.row = int32_vector(w[1], "warm's row");
        if (parent.row.size() != parent.layer.size()) fail("warm's layer and row differ in length");
        parent.point.rho = w[2].cast<double>();
        parent.point.t = vec1(w[3], parent.layer.size(), "warm's t", false);
        parent.point.mu = w[4].cast<double>();
        check_mu(parent.point.mu, "warm's mu");
    }
    const lipmiq::SdpBarrierOptions opt{shrink,   centered,   armijo,        rtol,   rounding_gap,
                                        warm_gap, max_newton, max_centering, target, coarse_rtol};
    bool raised = false;
    const lipmiq::Deadline deadline = signal_deadline(time_limit, raised);
    lipmiq::SdpNode node;
    {
        py::gil_scoped_release nogil;
        node = lipmiq::sdp_node(net, std::move(codes), has_warm ? &parent : nullptr, opt, deadline);
    }
    if (raised) throw py::error_already_set();
    const lipmiq::SdpSlopeModel& m = node.model;
    const std::size_t k = m.index.size();
    py::array_t<std::int64_t> index(k);
    py::array_t<std::int32_t> layer(k), row(k);
    for (std::size_t j = 0; j < k; ++j) {
        index.mutable_data()[j] = static_cast<std::int64_t>(m.index[j]);
        layer.mutable_data()[j] = m.layer[j];
        row.mutable_data()[j] = m.row[j];
    }
    py::dict out;
    out["index"] = index;
    out["layer"] = layer;
    out["row"] = row;
    out["rows"] = to_array(m.rows, k, m.size);
    out["solved"] = node.solved;
    out["rho"] = node.rho;
    if (node.solved) put_solution(node.solution, m.size, out);
    return out;
}

// The keyword arguments of a barrier path, in the order of SdpBarrierOptions' reasons (python/lipmiq/sdp/barrier.py,
// path_options), shared by sdp_barrier and sdp_node.
#define LIPMIQ_PATH_ARGS                                                                                              \
    "rtol"_a, "shrink"_a, "centered"_a, "armijo"_a, "rounding_gap"_a, "warm_gap"_a, "max_newton"_a,                   \
        "max_centering"_a, "target"_a = -kInf, "coarse_rtol"_a = 1e-3, "time_limit"_a = kInf

void register_sdp_barrier(py::module_& mod) {
    using namespace pybind11::literals;
    mod.def("sdp_barrier_derivatives", &py_sdp_barrier_derivatives, "n0"_a, "index"_a, "rows"_a, "gram"_a, "rho"_a,
            "t"_a, "mu"_a,
            "(value, gradient, Hessian) over (rho, t) of LipSDP's barrier rho / mu - log det(-M(rho, t)) - sum log t "
            "(the model as in sdp_barrier); value inf and no derivatives outside its domain.");
    mod.def("sdp_slope_model", &py_sdp_slope_model, "weights"_a, "slopes"_a,
            "LipSDP's model of the network `weights` whose hidden neurons have slope codes `slopes` (per hidden layer, "
            "-1 free in [0, 1], 0 or 1 fixed): {n0, index: z-coordinates of the free neurons, layer, row: their (hidden "
            "layer, row), rows: their pre-activations over z, rows_abs: the |W| chains' majorant of |rows|, gram: U^T U "
            "of the output map U, gram_abs: |U|^T |U| of its majorant, depth: float operations on the longest chain}.");
    mod.def("sdp_certified_rho", &py_sdp_certified_rho, "n0"_a, "index"_a, "rows"_a, "gram"_a, "rows_abs"_a,
            "gram_abs"_a, "depth"_a, "t"_a,
            "The smallest rho (up to a small step) with M(rho, t) <= 0 proved in float64 with a rounding allowance "
            "(the model as sdp_slope_model returns it; negative t read as 0); NaN when none is proved.");
    mod.def("sdp_settle", &py_sdp_settle, "weights"_a, "slopes"_a,
            "The slope codes with every free neuron whose pre-activation is identically 0 over z fixed at 0, decided "
            "on |W| (left free, nothing would bound its multiplier).");
    mod.def("sdp_start", &py_sdp_start, "n0"_a, "index"_a, "rows"_a, "gram"_a, "norms"_a, "layer"_a,
            "A strictly feasible (rho, t, mu) for the model (as in sdp_barrier) of a network whose layers have "
            "spectral norms `norms`, `layer` each free neuron's hidden layer (layer multipliers that make M "
            "block-diagonally dominant, grown until the core's test passes); None when none is found.");
    mod.def("sdp_node", &py_sdp_node, "weights"_a, "solving"_a, "scale"_a, "norms"_a, "slopes"_a, "warm"_a,
            LIPMIQ_PATH_ARGS,
            "One node of LipSDP's search on the network `weights` (a Net) with slope codes `slopes`: settled "
            "(sdp_settle), modelled on `solving` (the solver's form of the weights: scale takes its multipliers "
            "back per hidden layer, norms are its layers' spectral norms), solved by sdp_barrier from `warm` (a "
            "parent's (layer, row, rho, t, mu), used when its free neurons include the node's; else from "
            "sdp_start; both its lists and the node's are in z order: by layer, then row) and certified on `weights` "
            "(never swap the two: the bound would be certified on the solver's form). Returns {index, layer, row, "
            "rows: the solver's model's free neurons, solved: a path ran, rho: the "
            "certified rho (NaN: none), and when solved point, warm, dual, newton as sdp_barrier}.");
    mod.def("sdp_barrier", &py_sdp_barrier, "n0"_a, "index"_a, "rows"_a, "gram"_a, "rho"_a, "t"_a, "mu"_a,
            LIPMIQ_PATH_ARGS,
            "LipSDP's primal barrier: from the strictly feasible (rho, t), with mu moved to where it is best centred "
            "(mu > 0: the caller's guess), follows the central path "
            "of min rho s.t. -M(rho, t) > 0, t > 0 (M = gram - rho E_0 + sum_j t_j (e_j w_j^T + w_j e_j^T - "
            "2 e_j e_j^T), e_j the z-coordinate index[j], w_j = rows[j]) until the gap is rtol * rho, the path "
            "stalls, max_newton steps or time_limit seconds; with a `target`, also once an iterate has rho <= target or, at a "
            "centred point, the gap is coarse_rtol * rho with rho - gap > target. Returns {point: (rho, t, mu), warm: the first point "
            "with gap <= warm_gap * rho (else the last), dual: mu Z^-1 at the last Newton step, newton: steps, "
            "started: False when the start was not strictly feasible (then nothing ran)}. "
            "Proposes multipliers only: certify them (sdp/certify.py).");
}
#undef LIPMIQ_PATH_ARGS

}  // namespace

#define LIPMIQ_THREADS_DOC \
    " threads: of the matrix products (default: LIPMIQ_THREADS, else min(2, available CPUs)); the " \
    "result does not depend on it."

PYBIND11_MODULE(_core, mod) {
    using namespace pybind11::literals;
    // dgemm runs on the thread that calls it: gemm_gather splits products over threads of its own,
    // started per call, so OpenBLAS's pool stays idle.  This OpenBLAS (scipy-openblas32) is
    // lipmiq's own copy: numpy and scipy bundle theirs, whose settings this does not touch.
    scipy_openblas_set_num_threads(1);
    mod.doc() = "lipmiq C++ core: interval/symbolic bounds, forward passes, Jacobians, operator norms";
    py::class_<Network>(mod, "Net",
                        "A network held by the core: x_k = relu(W_k x_{k-1} + b_k), f = W_L x_{L-1} + b_L, "
                        "float64, validated and copied once (build it once per network and pass it to every "
                        "kernel). biases=None: zero biases (only the shapes matter, e.g. for Jacobians).")
        .def(py::init(&to_network), "weights"_a, "biases"_a = py::none())
        .def_property_readonly("sizes", [](const Network& net) {
            std::vector<std::size_t> sizes{net.in_dim()};
            for (const auto& W : net.W) sizes.push_back(W.rows);
            return sizes;
        }, "[n_0, n_1, ..., n_L]: the input size and every layer's width.");
    mod.def("interval_bounds", &py_interval_bounds, "net"_a, "lo"_a, "hi"_a,
            "Interval bounds (l_k, u_k) of the pre-activations of every layer k = 1..L over the "
            "box lo <= x <= hi.");
    mod.def("symbolic_bounds", &py_symbolic_bounds, "net"_a, "lo"_a, "hi"_a,
            "center"_a = py::none(), "radius"_a = 0.0, "ball_norm"_a = kInf,
            "prior"_a = py::none(), "threads"_a = py::none(),
            "DeepPoly/CROWN back-substitution bounds of every layer's pre-activations over the box "
            "[lo, hi] (intersected with the ball ||x - center||_ball_norm <= radius when center "
            "is given), intersected with interval bounds and with `prior`." LIPMIQ_THREADS_DOC);
    mod.def("forward", &py_forward, "net"_a, "X"_a, "threads"_a = py::none(),
            "Pre-activations z_k (B, n_k), k = 1..L, for inputs X (B, n)." LIPMIQ_THREADS_DOC);
    mod.def("jacobians", &py_jacobians, "net"_a, "masks"_a, "batch"_a = py::none(),
            "threads"_a = py::none(),
            "Jacobians (B, m, n) W_L diag(g_{L-1}) ... diag(g_1) W_1 for activation masks." LIPMIQ_THREADS_DOC);
    mod.def("gemm_gather", &py_gemm_gather, "R"_a, "M"_a, "out"_a, "rows"_a = py::none(),
            "ridx"_a = py::none(), "midx"_a = py::none(), "accumulate"_a = false, "group"_a = 0,
            "threads"_a = py::none(),
            "A copy of `out` with out[r] (=|+=) sum_t R[r, ridx[t]] M[midx[t]] for the rows r in `rows` "
            "(default all rows of R; ridx, midx default to 0..); `group` rows share a zero pattern. "
            "The product kernel of the core, as its C++ callers use it." LIPMIQ_THREADS_DOC);
    mod.def("operator_norms", &py_operator_norms, "J"_a, "p"_a, "q"_a, "max_enum"_a = 20,
            "restarts"_a = 8, "seed"_a = 0,
            "(norms, V, exact): per matrix an achieved ||J v||_q / ||v||_p and its direction; "
            "exact when it is the operator norm ||J||_{p->q}.");
    register_patterns(mod);
    register_gradient_bounds(mod);
    register_relaxed_lp(mod);
    register_region_lp(mod);
    register_sdp_barrier(mod);
}
