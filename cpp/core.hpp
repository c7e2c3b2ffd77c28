// lipmiq C++ core: plain data types and the free functions that work on them.
//
// Network convention: x_k = relu(W_k x_{k-1} + b_k) for k = 1..L-1, f(x) = W_L x_{L-1} + b_L,
// W_k row-major of shape (out, in).  Pre-activations z_k = W_k x_{k-1} + b_k, k = 1..L.
// No global state; every function is re-entrant.  Functions taking `threads` run their matrix
// products on up to that many threads (the caller's and threads - 1 started for each product), with
// the same result for any thread count; the others are single-threaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace lipmiq {

// ---- memory.cpp ---------------------------------------------------------------------------
// Blocks of 4 MB and more are 2 MB aligned and advised to use transparent huge pages, as numpy
// does for its arrays: first touching fresh 4 KB pages cost about 1 ms per MB on the (virtualised)
// benchmark machine, as much as the products in the matrices they hold; with huge pages, 0.1 ms.
void* allocate_block(std::size_t bytes);
void free_block(void* p, std::size_t bytes) noexcept;

template <class T>
struct BlockAllocator {
    using value_type = T;
    BlockAllocator() = default;
    template <class U>
    BlockAllocator(const BlockAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(allocate_block(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { free_block(p, n * sizeof(T)); }
    // Default-initialises: `Block b(n)` and `b.resize(n)` leave the doubles unset, for blocks that are
    // written in full before they are read (packed gemm operands, transposes, product outputs); a block
    // that must start at zero says so (`Block b(n, 0.0)`, `assign(n, 0.0)`).  The zero fill of such
    // blocks took ~7 % of a gradient_bounds call on 784-256-256-1.
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    template <class U>
    bool operator==(const BlockAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const BlockAllocator<U>&) const noexcept { return false; }
};

// Storage of matrices and of other large float64 temporaries.
using Block = std::vector<double, BlockAllocator<double>>;

// Dense row-major matrix.
struct Matrix {
    std::size_t rows = 0, cols = 0;
    Block data;

    Matrix() = default;
    Matrix(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c, 0.0) {}
    double* row(std::size_t i) { return data.data() + i * cols; }
    const double* row(std::size_t i) const { return data.data() + i * cols; }
};

struct Network {
    std::vector<Matrix> W;               // W[k] : (n_{k+1}, n_k), k = 0..L-1
    std::vector<std::vector<double>> b;  // b[k] : (n_{k+1},)
    // Set once from W by derive_weights (the constructor of `_core.Net` calls it) and only read afterwards,
    // so concurrent calls on one network share them: Wt[k] = W[k]^T for the hidden layers k = 0..L-2, and
    // absW[k] = |W[k]| for k = 1..L-2 (absW[0] empty).  The gradient engine used to build both on every
    // call (a branch-and-bound makes thousands of calls on one network).
    std::vector<Matrix> Wt, absW;
    std::size_t depth() const { return W.size(); }
    std::size_t in_dim() const { return W.front().cols; }
    std::size_t out_dim() const { return W.back().rows; }
};

// Fills net.Wt and net.absW from net.W.
void derive_weights(Network& net);

// Per-layer bounds on the pre-activations (lower, upper).
struct LayerBounds {
    std::vector<double> lo, hi;
};

// Input set: box [lo, hi], optionally intersected with the ball ||x - center||_p <= radius.
struct InputDomain {
    std::vector<double> lo, hi;
    bool has_ball = false;
    std::vector<double> center;
    double radius = 0.0;
    double ball_norm = 0.0;  // 1, 2 or +inf
};

// ---- bounds.cpp ---------------------------------------------------------------------------
// Interval arithmetic over the box [lo, hi]; one entry per layer k = 1..L.
std::vector<LayerBounds> interval_bounds(const Network& net, const std::vector<double>& lo,
                                         const std::vector<double>& hi);

// DeepPoly / CROWN back-substitution.  `prior` is empty or has one entry per layer; an entry
// whose `lo` is empty means "no prior for this layer".
std::vector<LayerBounds> symbolic_bounds(const Network& net, const InputDomain& dom,
                                         const std::vector<LayerBounds>& prior,
                                         unsigned threads = 1);

// ---- forward.cpp --------------------------------------------------------------------------
// X: (B, n0) row-major.  Returns z_k of shape (B, n_k) for k = 1..L.
std::vector<Matrix> forward(const Network& net, const double* X, std::size_t batch,
                            unsigned threads = 1);

// masks[k] : (B, n_{k+1}) bytes (nonzero = active), k = 0..L-2.  out : (B, m, n0) row-major.
void jacobians(const Network& net, const std::vector<const std::uint8_t*>& masks,
               std::size_t batch, double* out, unsigned threads = 1);

// ---- opnorm.cpp ---------------------------------------------------------------------------
// J : (B, m, n) row-major.  norms : (B,), V : (B, n), exact : (B,).
void operator_norms(const double* J, std::size_t batch, std::size_t m, std::size_t n, double p,
                    double q, int max_enum, int restarts, std::uint64_t seed, double* norms,
                    double* V, std::uint8_t* exact);

// Gram matrix of the smaller side of A (m x n): A A^T if m <= n, else A^T A (row-major).
std::vector<double> smaller_gram(const double* A, std::size_t m, std::size_t n);

// ---- jacobian_bounds.cpp ------------------------------------------------------------------
// A read-only view of a row-major matrix owned by the caller.
struct MatrixRef {
    const double* data = nullptr;
    std::size_t rows = 0, cols = 0;
};

// Upper bound on ||J(g)||_{p->q} over the activation patterns g with g_kj fixed where
// state[k][j] is 1 (active) or 0 (inactive) and free where it is -1: interval arithmetic on
// W_L D_{L-1} ... D_1 W_1 (D = {0}, {1} or [0, 1]), then the exact p->q norm of the nonnegative
// entrywise majorant.  With every neuron decided, min with the operator norm of J(g) where exact.
// W: the L layers (W[0] = W_1, input columns), state: L-1 arrays of the hidden sizes.
// Float64 rounding of the products is covered by an absolute term gamma * || |W_L| D ... |W_1| ||;
// the norms themselves are not rounded outward: callers inflate by a relative 1e-9.
double pattern_norm_bound(const std::vector<MatrixRef>& W, const std::vector<const std::int8_t*>& state,
                          double p, double q);

// ---- gradient_bounds.cpp ------------------------------------------------------------------
// Certified upper bounds on the local Lipschitz constant by linear bound propagation through the
// network and its backward (gradient) graph (Shi et al., NeurIPS 2022), float64 rounding included.
// A wall-clock deadline on the steady clock (never, by default): the engine's optimisation loops stop at it.
// `stop`, if set, is also asked (at most every 20 ms) whether to stop now: the bindings poll Python's signals
// through it, since a long solve with the GIL released would otherwise hold Ctrl-C back until it returns.
struct Deadline {
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::time_point::max();
    std::function<bool()> stop;
    mutable std::chrono::steady_clock::time_point next_poll{};
    mutable bool stopped = false;
    // `seconds` from now (infinite or huge: never).
    static Deadline after(double seconds) {
        Deadline d;
        if (seconds < 1e9) {
            const double s = seconds > 0.0 ? seconds : 0.0;
            d.at = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
        }
        return d;
    }
    bool passed() const {
        const bool timed = at != std::chrono::steady_clock::time_point::max();
        if (!timed && !stop) return false;
        const auto now = std::chrono::steady_clock::now();
        if (timed && now >= at) return true;
        if (stop && !stopped && now >= next_poll) {
            next_poll = now + std::chrono::milliseconds(20);
            stopped = stop();
        }
        return stopped;
    }
};

struct GradientOptions {
    // Past this, every optimisation loop stops and the bound certified so far is returned (each iterate's
    // bound is certified; CROWN passes not yet run fall back to interval bounds); the forward slope steps stop
    // at half of the time left at the call's start, so the backward pass gets the rest.
    Deadline deadline;
    int forward_iterations = 20;  // Adam steps on each unstable pre-activation bound's own relu slopes
    int coordinate_iterations = 20;  // Adam steps on the bounds of the gradient coordinates below
    int max_coordinates = 64;  // gradient coordinates whose bounds are optimised (largest secant excess first;
                               // p = 1: largest bound first),
    double coordinate_work = 2e9;  // at most this many multiply-adds in that stage (fewer coordinates on big nets)
    int iterations = 40;       // projected-gradient (Adam) steps on the relaxation slopes of each final bound
    double step = 0.25;        // initial Adam step on slopes scaled to [0, 1], decayed by `decay` per step
    double decay = 0.95;
    int max_sign_outputs = 4;  // q in {1, 2}: with 2 <= m <= this outputs, also max_s ||J^T s||_{p*}, s in {+-1}^m
    double step_init = 0.0;    // start of the Heaviside slopes tau in [0, 1] (0: d in [0, 1] as Shi et al.)
    // Entries (doubles) of one block of forms where a pass has more rows or columns than fit: the backward
    // graph's rows (gradient_graph.cpp) and the interval Jacobian's columns (gradient_bounds.cpp) go through in
    // blocks of about this size over the widest layer. The bounds do not depend on it (each row and each column
    // is computed on its own); only the peak memory and the products' shapes do. Whole, both passes held about
    // 1.3 GB of a root call on the CIFAR-sized CNN.
    std::size_t block_entries = std::size_t(1) << 22;
    // p = inf with q = inf or one output: per direction input, +1 / -1 fixes the sign v_i of the vertex v of
    // the l-inf ball (0 or empty: free), so row i's bound is on max over those v of g^T v: s_i g_i in place of
    // |g_i|, linear instead of a secant.  The maximum over a split's branches is the unsplit bound's quantity.
    std::vector<std::int8_t> signs;
    // The caller's use for the bound (a branch and bound drops a node whose bound is at most its incumbent):
    // once every output row's bound is <= target (where the result is their maximum: q = inf, one output or
    // signs), optimising it further buys nothing, so the final slope steps stop there.  The result holds
    // either way.  (Skipping the forward optimisation until a first pass without it stays above target cost
    // more than it saved on the width series: few nodes fall below target without it.)
    double target = -std::numeric_limits<double>::infinity();
};

struct RowGradientBounds {
    std::vector<LayerBounds> backward;  // u_k = d(c^T f)/d x_k, k = 1..L-1 (index k - 1)
    LayerBounds gradient;               // g = d(c^T f)/dx over the first n_dir inputs
    double upper = 0.0;                 // certified bound on ||g||_{p*} over the (sub)domain
};

struct GradientResult {
    double upper = 0.0;                   // certified bound on L(p, q) over the (sub)domain
    bool empty = false;                   // the partial pattern contradicts the domain: upper = 0
    bool stopped = false;                 // the deadline (or the forward steps' share of it) cut some
                                          // optimisation short (the bound still holds)
    std::vector<LayerBounds> forward;     // certified pre-activation bounds z_k, k = 1..L-1
    // Per hidden layer, per neuron: the dual norm of the interval enclosure of d z_kj / dx (how far the
    // gradient can move when neuron j's derivative flips, per unit of d f / d x_kj): branching scores.
    // Empty when the deadline passed first.
    std::vector<std::vector<double>> sensitivity;
    std::vector<RowGradientBounds> rows;  // one per output row c = e_i
    double work = 0.0;                    // multiply-adds of the call's dense products (bench/bench_core.py)
};

// max over x in the input set (and the activation regions with interior meeting it whose pattern agrees
// with `state`: -1 free, 0 inactive, 1 active per hidden neuron; empty = all free) of ||J(x)||_{p->q},
// J restricted to the first n_dir input columns; an upper bound that holds despite float64 rounding.
// `prior` (empty, or one entry per hidden layer) holds certified bounds of the pre-activations valid on the
// (sub)domain and pattern, e.g. a branch-and-bound parent's: they are intersected with the interval bounds
// before CROWN, and neurons they prove stable skip it.
GradientResult gradient_bounds(const Network& net, const InputDomain& dom,
                               const std::vector<const std::int8_t*>& state, double p, double q,
                               std::size_t n_dir, const GradientOptions& opt,
                               const std::vector<LayerBounds>& prior = {});

// A branch-and-bound node's view of an engine result, per hidden layer: each neuron's status (a split's side
// from `state`, else 1 / 0 where the forward bounds prove it active / inactive, -1 open) and, for the open
// neurons, the branching score of python/lipmiq/methods/bab.py's docstring, U * move * gap * (1 - gap)^P (U: the
// largest |d f / d x_kj| bound over the output rows, move: the sensitivity (1 without), gap: min(-l, u) / (u - l),
// P: 8 with at most two hidden layers, 4 deeper; non-finite scores become the largest float); -1 for the
// others. `sign_excess`, per direction input: the largest excess over the output rows of the secant of |g_i|
// on the gradient bounds (abs_secant_excess), 0 where `signs` (the call's vertex signs, empty: all free) fixes
// it; p = inf branches the loosest one (bab.py).
struct NodeScores {
    std::vector<std::vector<std::int8_t>> status;
    std::vector<std::vector<double>> score;
    std::vector<double> sign_excess;
};
NodeScores node_scores(const GradientResult& res, const std::vector<const std::int8_t*>& state,
                       const std::vector<std::int8_t>& signs);

// ---- relaxed_lp.cpp -------------------------------------------------------------------------
struct RelaxedVerdict {
    bool empty = false;  // proved: no activation region with interior below the node
    int reason = 0;      // 1: max s <= 0 by weak duality, 2: the relaxation is empty (Farkas), 0: no proof
    int iterations = 0;  // dual simplex iterations
    double s = std::numeric_limits<double>::quiet_NaN();  // the LP's max s when solved to optimality
};

// The triangle relaxation of a node's splits in the hidden layers <= last over the box [lo, hi]
// (python/lipmiq/certify/relaxed.py): empty only when weak duality on the multipliers a dense dual simplex
// proposes proves max s <= 0 or no point at all, float64 rounding covered.  `status`: the node's neurons
// (1 active, 0 inactive, -1 open) per hidden layer; `states`: its splits (-1: none); `forward`: certified
// pre-activation bounds on the node for the layers <= last.  Past the deadline: no proof.
RelaxedVerdict relaxed_lp_empty(const Network& net, const double* lo, const double* hi,
                                const std::vector<const std::int8_t*>& status,
                                const std::vector<const std::int8_t*>& states,
                                const std::vector<LayerBounds>& forward, std::size_t last, double interior_tol,
                                const Deadline& deadline);

struct RelaxedBounds {
    bool empty = false;              // proved: no point of the relaxation (a Farkas ray, or bounds that cross)
    std::vector<LayerBounds> bounds;  // `forward`, with the open neurons of layers >= first tightened
    int solves = 0, iterations = 0;  // LPs solved (at most two per neuron) and their simplex iterations
};

// Certified bounds on the pre-activations of the node's open neurons in the hidden layers first..last (the layers
// `forward` has), min and max of z over the node's triangle relaxation with closed splits (z >= 0, z <= 0)
// through the last of those layers (python/lipmiq/certify/relaxed.py), from `form_bounds` (dense_lp.hpp): each
// by weak duality on the simplex's multipliers, float64 rounding covered, never looser than `forward`.  Through
// the first layer alone the LP is x's box and the split neurons' rows w_i.x (relaxed_lp.cpp, first_layer_lp).
RelaxedBounds relaxed_lp_bounds(const Network& net, const double* lo, const double* hi,
                                const std::vector<const std::int8_t*>& status,
                                const std::vector<const std::int8_t*>& states,
                                const std::vector<LayerBounds>& forward, std::size_t first, bool signs,
                                const Deadline& deadline);

// ---- region_lp.cpp --------------------------------------------------------------------------
struct RegionVerdict {
    int verdict = 0;     // 1: a point with interior margin, 2: proved no interior in the box, 0: neither
    int reason = 0;      // empty: 1 max s <= 0 by weak duality, 2 no point (Farkas), 3 a constant neuron's sign
    int iterations = 0;  // dual simplex iterations
    double margin = std::numeric_limits<double>::quiet_NaN();  // x's margin, re-checked in float64
    std::vector<double> x;                                     // the point (verdict 1)
    std::vector<std::pair<std::size_t, std::size_t>> proof;    // (layer, neuron) of the rows a proof uses
};

// The region of a partial pattern in the box [lo, hi]: `pattern[k]` (k = 0..K) gives each neuron's side (1 on,
// 0 off) for the layers before K, all decided, and -1 (no row) or a side for layer K; `skip[k]` (k < skip.size(),
// nonzero: no row) names neurons with their side on the whole box.  An interior point with margin > interior_tol,
// a proof that no point of the box has every row strictly on its side, or neither (region_lp.cpp).
RegionVerdict region_lp_box(const Network& net, const double* lo, const double* hi,
                            const std::vector<const std::int8_t*>& pattern,
                            const std::vector<const std::uint8_t*>& skip, double interior_tol,
                            const Deadline& deadline);

// ---- gemm.cpp -----------------------------------------------------------------------------
// out[r, :] (=|+=) sum_t R[r, rc(t)] * M[mr(t), :]  for the rows r listed in `rows`
// (or 0..nrows-1 when rows == nullptr), where rc(t) = ridx ? ridx[t] : t and
// mr(t) = midx ? midx[t] : t, t = 0..nidx-1.  Zero coefficients cost nothing where they fill
// blocks: (4-row block, t) blocks when they are most of the product (a register-tiled kernel skips
// them), else whole columns of R (dropped before OpenBLAS's dgemm); see gemm.cpp.
// Row r of R is at R + r*ldr, row i of M at M + i*ldm, row r of out at out + r*ldo.
// `group` > 0: rows are blocked only within consecutive groups of that many rows (e.g. the m
// rows of one sample, whose zero pattern is shared), 0: no grouping.
void gemm_gather(const double* R, std::size_t ldr, const std::int32_t* rows, std::size_t nrows,
                 const std::int32_t* ridx, const std::int32_t* midx, std::size_t nidx,
                 const double* M, std::size_t ldm, std::size_t ncols, double* out,
                 std::size_t ldo, bool accumulate, std::size_t group = 0, unsigned threads = 1);

// out[r, :] (=|+=) sum_t R[r, t] * W[:, t]  (out = R W^T) for r < nrows, t < inner, W of shape
// (ncols, inner): dense products with weights as stored, e.g. activations through a layer.  dgemm
// reads W transposed; where the zero coefficients of R fill most 4-row blocks, W is transposed and
// the tiled kernel skips them.
void gemm_nt(const double* R, std::size_t ldr, std::size_t nrows, const double* W, std::size_t ldw,
             std::size_t ncols, std::size_t inner, double* out, std::size_t ldo, bool accumulate,
             unsigned threads = 1);

// A^T (cols x rows, row-major) of A (rows x cols, row i at A + i*lda), in 32 x 32 tiles.
Block transpose(const double* A, std::size_t lda, std::size_t rows, std::size_t cols, unsigned threads = 1);

// ---- linalg.cpp ---------------------------------------------------------------------------
// Reductions with 8 independent partial sums (vectorisable without -ffast-math).
double dot(const double* a, const double* b, std::size_t n);
double asum(const double* a, std::size_t n);  // sum |a_i|
double amax(const double* a, std::size_t n);  // max |a_i|

// Symmetric eigen-decomposition by cyclic Jacobi: A (k x k, row-major, destroyed);
// on return evals[i] and column i of evecs (row-major k x k) are the eigen-pairs.
void jacobi_eigen(std::vector<double>& A, std::size_t k, std::vector<double>& evals,
                  std::vector<double>& evecs);

// ---- lipsdp_barrier.cpp -------------------------------------------------------------------
// LipSDP's M(rho, t) = gram - rho E_0 + sum_j t_j (e_j w_j^T + w_j e_j^T - 2 e_j e_j^T) over z in R^N
// (python/lipmiq/sdp/model.py): z[:n0] is the input, z[index[j]] free neuron j's output.
struct SdpModel {
    std::size_t n0 = 0, size = 0;     // input dimension, N
    std::vector<std::size_t> index;   // z-coordinate of each free neuron (m)
    const double* rows = nullptr;     // w_j (m x N, row-major)
    const double* gram = nullptr;     // U^T U (N x N)
};

struct SdpPoint {                     // a strictly feasible (rho, t) and its mu
    double rho = 0.0, mu = 0.0;
    std::vector<double> t;
};

struct SdpBarrierOptions {            // the constants' reasons are in python/lipmiq/sdp/barrier.py
    double shrink = 0.3, centered = 1e-6, armijo = 0.25, rtol = 1e-9, rounding_gap = 1e-6, warm_gap = 1e-2;
    int max_newton = 400, max_centering = 40;
    // A caller that only compares sqrt(rho) with a threshold: the path stops once an iterate has rho <= target
    // (its t then proves about that much), or once the gap is coarse_rtol * rho with rho - gap > target (the
    // optimum is above the target).  -inf: no target.
    double target = -std::numeric_limits<double>::infinity(), coarse_rtol = 1e-3;
};

struct SdpSolution {
    SdpPoint point;                   // the last iterate
    SdpPoint warm;                    // the first iterate with gap <= warm_gap (else the last)
    std::vector<double> dual;         // mu Z^-1 at the last Newton step (N x N)
    int newton = 0;                   // Newton steps taken
    bool started = true;              // false: the start was not strictly feasible (nothing ran; point = start)
};

struct SdpDerivatives {
    double value = 0.0;               // rho / mu - log det Z - sum log t (inf outside the domain)
    std::vector<double> gradient;     // over (rho, t); empty outside the domain
    std::vector<double> hessian;      // (m + 1) x (m + 1)
};

// The barrier's value and the derivatives its Newton steps use, at (rho, t) for mu (tests check them
// against finite differences).
SdpDerivatives sdp_barrier_derivatives(const SdpModel& model, double rho, const std::vector<double>& t, double mu);

// Follows the central path from the strictly feasible `start` until the gap nu mu is rtol * rho, the
// path stalls in rounding, the Newton budget ends or the deadline passes.
SdpSolution sdp_barrier_solve(const SdpModel& model, SdpPoint start, const SdpBarrierOptions& opt,
                              const Deadline& deadline);

// A strictly feasible start for the model of a network whose layers (the model's weights) have spectral norms
// `norms` (at least a hidden layer), `layer` the hidden layer of each free neuron; false when none is found.
bool sdp_start(const std::vector<double>& norms, const SdpModel& model, const std::vector<std::int32_t>& layer,
               SdpPoint& out);

// ---- lipsdp_model.cpp ---------------------------------------------------------------------
constexpr std::int8_t kSdpFree = -1;  // a neuron's slope set [0, 1]; 0 and 1 are fixed slopes

// LipSDP's model of a network whose hidden neurons have slope codes (python/lipmiq/sdp/model.py, `SlopeModel`).
struct SdpSlopeModel {
    std::size_t n0 = 0, size = 0;          // input dimension, N
    std::vector<std::size_t> index;        // z-coordinate of each free neuron (m)
    std::vector<std::int32_t> layer, row;  // (hidden layer, row) of each free neuron, in z order
    std::vector<double> rows, rows_abs;    // w_j over z (m x N) and the |W| chains' majorant of |w_j|
    std::vector<double> gram, gram_abs;    // U^T U and |U|^T |U| from U's majorant (N x N)
    std::size_t depth = 0;                 // float operations on the longest chain (rounding allowance)
};

// The model of the network with these weights (W_k of shape (out, in)) and slope codes per hidden layer.
SdpSlopeModel sdp_slope_model(const std::vector<const Matrix*>& weights, const std::vector<const std::int8_t*>& slopes);

// M(rho, t) (row-major N x N); with `magnitude`, the same sum in magnitudes (|rho|, |t|) over a majorant's rows and
// Gram matrix (the certificate's rounding allowance scales with it).
void sdp_matrix(const SdpModel& model, double rho, const std::vector<double>& t, bool magnitude, std::vector<double>& M);

// The smallest rho (up to a small step) with M(rho, t) <= 0 proved in float64 for the multipliers t (negative
// entries read as 0), or NaN when none is proved; `majorant` holds the |W| chains' rows and Gram matrix (the
// model's rows_abs and gram_abs), `depth` the float operations on the longest chain.
double sdp_certified_rho(const SdpModel& model, const SdpModel& majorant, std::size_t depth, std::vector<double> t);

// ---- lipsdp_node.cpp ----------------------------------------------------------------------
// Free neurons whose pre-activation is identically 0 over z fixed at 0, decided on |W| (no cancellation makes a live
// neuron look dead): left free, nothing would bound its multiplier and the barrier would run off to t_j -> inf.
void sdp_settle(const std::vector<Matrix>& weights, std::vector<std::vector<std::int8_t>>& slopes);

struct SdpInstance {                    // a network as LipSDP's search sees it (python/lipmiq/sdp/search.py, Instance)
    const Network* weights = nullptr;   // its weights (the certificate)
    const Network* solving = nullptr;   // the solver's form of them (sdp/model.py, for_solver)
    std::vector<double> scale;          // per hidden layer: the factor taking the solver's multipliers back
    std::vector<double> norms;          // the spectral norms of the solver's layers (sdp_start)
};

struct SdpWarm {                        // a parent node's free neurons (z order) and its warm point
    std::vector<std::int32_t> layer, row;
    SdpPoint point;
};

struct SdpNode {
    SdpSlopeModel model;                // the node's model in the solver's form (the network's when no neuron is free)
    SdpSolution solution;               // meaningful when `solved`
    bool solved = false;                // a path ran: false with no free neuron, or when no start was found
    double rho = 0.0;                   // certified on the network's weights (sdp_certified_rho); NaN: none proved
};

// The node of these slope codes: settled, solved from `warm` when its free neurons include the node's (else from
// sdp_start), certified.
SdpNode sdp_node(const SdpInstance& net, std::vector<std::vector<std::int8_t>> slopes, const SdpWarm* warm,
                 const SdpBarrierOptions& opt, const Deadline& deadline);

// ---- patterns.cpp -------------------------------------------------------------------------
struct PatternResult {
    double value = 0.0;              // max found of ||s0 + sum g_i a_i||_r
    std::vector<std::uint8_t> g;     // its pattern (meaningful when `improved`)
    std::uint64_t nodes = 0;
    bool complete = false;           // the search finished: value is the maximum
    bool improved = false;           // value beats the incumbent passed in
};

// max over g in {0,1}^n of ||s0 + sum_i g_i A[i, :]||_r (r in {1, 2, inf}) by branch and bound;
// A : (n, d) row-major.  Subtrees that cannot beat `incumbent` are cut.
PatternResult pattern_max(const double* A, std::size_t n, std::size_t d, const double* s0,
                          double r, double incumbent, std::uint64_t node_limit,
                          double time_limit);

// Indices of the unstable neurons (lo < 0 < hi), most promising for an LP first (|lo| * hi).
std::vector<std::int32_t> obbt_order(const double* lo, const double* hi, std::size_t n);

}  // namespace lipmiq
