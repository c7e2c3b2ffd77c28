// A network with certified pre-activation bounds over an input set (optionally restricted by a partial
// activation pattern), and the certified substitution of its forward layers (sound_forward.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core.hpp"
#include "sound_linear.hpp"

namespace lipmiq {

// Neuron status on the (sub)domain.  kOff: z <= 0 there (relu(z) = 0; the Clarke derivative is taken as 0,
// which changes no region's Jacobian: a region with interior where z_j = 0 at an interior point has
// z_j constant on it, so neuron j's derivative multiplies a zero gradient).  kOn: z >= 0 (relu(z) = z,
// derivative 1, same argument).  kFree: l < 0 < u.
enum : std::int8_t { kOff = 0, kOn = 1, kFree = 2 };

// Hidden layer k (1-based; stored at index k - 1).
struct SoundLayer {
    std::vector<double> lo, hi;         // certified bounds of z_k
    std::vector<std::int8_t> status;
    std::vector<std::int32_t> live;     // status != kOff, increasing
    std::vector<std::int32_t> free;     // status == kFree, increasing
    std::vector<double> Xz, Xa;         // |z_k| <= Xz, 0 <= relu(z_k) <= Xa
    // relu(z) <= su z + tu and relu(z) >= sl z + tl, valid for the stored floats on [lo, hi]:
    // identity / zero on stable neurons, the secant and the adaptive CROWN slope on free ones.
    std::vector<double> su, tu, sl, tl;
    // Split neurons: forced by the pattern where interval bounds cross 0.  Their constraints
    // (z_j >= 0 for side 1, z_j <= 0 for side 0) may enter a form with a multiplier (`SplitMultipliers`).
    std::vector<std::int32_t> split;
    std::vector<std::int8_t> split_side;
};

struct SoundNetwork {
    const Network* net = nullptr;
    const InputDomain* dom = nullptr;
    std::vector<double> in_lo, in_hi, Xin;  // box hull of the input set, |x| <= Xin
    std::vector<SoundLayer> hidden;         // L - 1 layers
    // Affine step through W_k (k = 1..L-1, index k - 1): Mmag[t] = sum_i |W_k[t, i]| X_i, X the magnitude
    // of layer k's input; xmass = sum_i X_i.
    std::vector<std::vector<double>> Wmag;
    std::vector<double> xmass;
    bool empty = false;  // some forced sign contradicts the domain: no region with interior meets it
    bool stopped = false;  // the deadline, or the steps' share of it, skipped CROWN passes or slope steps (sound)
    // Multiply-adds of the dense products done on this network so far (the forward pass and every later step
    // that reads it): what bench/bench_core.py divides by an engine call's time. Counted, never read back.
    mutable double work = 0.0;
};

// Certified bounds of every hidden layer over dom, with state[k][j] in {-1 free, 0 forced z <= 0,
// 1 forced z >= 0} (state may be empty: all free).  Interval bounds intersected with `prior` (empty or one
// certified entry per hidden layer) and with CROWN back-substitution for the neurons still unstable, whose
// bounds still crossing 0 are then tightened by optimising their own relu slopes (opt.forward_iterations
// steps, as alpha-CROWN does per bound); past opt.deadline the remaining CROWN passes are skipped, and the steps
// stop once they have used half of the time the call had left at its start (sound_forward.cpp, kForwardStepShare).
// Returns early with empty = true.
SoundNetwork sound_forward(const Network& net, const InputDomain& dom, const std::vector<const std::int8_t*>& state,
                           const GradientOptions& opt, const std::vector<LayerBounds>& prior = {});

// The coefficients (rows x n_k) on x_k = relu(z_k) when the chain of `to_input` passed layer k (which relu
// line each entry used), per hidden layer; empty for layers not passed.
struct ReluTrace {
    std::vector<std::vector<double>> coef;
};

// Lower relu slopes of the free neurons, per hidden layer: nfree_k values shared by all rows, or
// rows x nfree_k values (row r's at r * nfree_k; entry t for neuron free[t]).  Entries in [0, 1]:
// relu(z) >= a z holds for every z then, with intercept exactly 0.
using LowerSlopes = std::vector<std::vector<double>>;

// Multipliers of the split constraints, per hidden layer: rows x nsplit_k values >= 0 (row r's at
// r * nsplit_k; entry t for neuron split[t]), as beta-CROWN: a row maximised over the node's set may add
// beta * z_j (side 1, z_j >= 0 there) or beta * (-z_j) (side 0), which is >= 0 on the set.  The stored
// coefficient fl(a + beta) >= a (fl(a - beta) <= a) by monotone rounding, so the multiplier actually applied
// is >= 0 too and no allowance is needed.
using SplitMultipliers = std::vector<std::vector<double>>;

// F over x_j (post-activation of hidden layer j; j = 0: F over the input) -> F over the input: through
// the relu lines and the affine layers j, j - 1, ..., 1.  `phi` (optional, L - 1 entries, empty Forms
// or forms with F's rows over z_i) is added to F when the chain reaches z_i.  `lower_slopes` (optional)
// replaces the adaptive lower relu slopes; `betas` (optional; rows that are maximised) adds the split
// constraints.
void to_input(const SoundNetwork& S, std::size_t j, Forms& F, const std::vector<Forms>* phi,
              const LowerSlopes* lower_slopes, ReluTrace* trace, const SplitMultipliers* betas = nullptr);

// F over z_k (k = 1..L-1) -> F over x_{k-1}.
void through_layer(const SoundNetwork& S, std::size_t k, Forms& F);

}  // namespace lipmiq
