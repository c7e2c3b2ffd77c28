// The backward (gradient) graph of one output combination c and its certified linear relaxation
// (gradient_graph.cpp), with the slope optimisation of a final bound (gradient_slopes.cpp).
//
// Graph: u_{L-1} = W_L^T c (enclosed in [top_lo, top_hi]), and for k = L-1..1: d_k = H(z_k) (Heaviside,
// Clarke value [0, 1] at 0), v_k = d_k * u_k, u_{k-1} = W_k^T v_k; g = u_0 over the first n_dir inputs.
// Relaxations (every slope a float in [0, 1] after scaling, every intercept certified):
//   Heaviside on l < 0 < u:  d <= 1 + (tau / -l) z,  d >= (tau / u) z;
//   product v = d u, d in [0, 1], u in [ul, uh]: any mix of the two McCormick planes on each side,
//     upper beta (u + ul (d - 1)) + (1 - beta) uh d,  lower beta ul d + (1 - beta) (u + uh (d - 1));
//   relu on the forward side: the secant above, a z below (0 <= a <= 1).
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

#include "sound_network.hpp"

namespace lipmiq {

// Relaxation parameters of the free neurons, per hidden layer (index k - 1): `rows` x nfree_k values, row
// r's at r * nfree_k, entry t for the neuron free[t]; each in [0, 1].  rows = 1 shares them between the
// forms of a pass; otherwise every form (row) has its own.
struct Slopes {
    std::size_t rows = 1;
    std::vector<std::vector<double>> relu_lower;  // a
    std::vector<std::vector<double>> step_upper;  // tau of the Heaviside upper line
    std::vector<std::vector<double>> step_lower;  // tau of the Heaviside lower line
    std::vector<std::vector<double>> prod_upper;  // beta of the upper plane mix
    std::vector<std::vector<double>> prod_lower;  // beta of the lower plane mix
};

// One-row slopes repeated for `rows` rows.
Slopes repeat_rows(const Slopes& s, std::size_t rows);

struct BackwardGraph {
    const SoundNetwork* S = nullptr;
    Deadline deadline;                        // past it, bound_backward keeps interval bounds
    std::size_t block_entries = 0;            // GradientOptions::block_entries
    const std::vector<Matrix>* Wt = nullptr;  // Wt[k - 1] = W_k^T, k = 1..L-1
    std::size_t n_dir = 0;
    std::vector<double> top_lo, top_hi;       // u_{L-1}
    std::vector<LayerBounds> u;               // certified bounds of u_k, k = 0..L-1 (u_0: n_dir entries)
    std::vector<std::vector<double>> Xu;      // |u_k| <= Xu[k], k = 1..L-1
    // Affine step u_{k-1} = W_k^T v_k (index k - 1): Mmag[t] = sum_i |W_k[i, t]| |v_k,i|max, and the mass.
    std::vector<std::vector<double>> Tmag;
    std::vector<double> Tmass;
};

// The coefficients (rows x size, per row) that chose each line in a pass, and the concretising maximisers.
struct BackwardTrace {
    std::vector<std::vector<double>> v, d;  // per hidden layer: coefficient on v_k, on d_k
    std::vector<double> top;                // coefficient on u_{L-1}
    ReluTrace relu;
    std::vector<double> x;
};

// Certified bounds of u_{L-2}, ..., u_1 and of g (interval propagation intersected with back-substitution
// for the entries a relaxation needs: u_k where d_k is free, every entry of g; skipped past G.deadline), filling G.u, G.Xu,
// G.Tmag, and the default slopes (adaptive relu slopes, Heaviside tau = step_init, and the McCormick mix
// that cancels d; with step_init = 0 the relaxation of Shi et al.).
void bound_backward(BackwardGraph& G, double step_init, Slopes& slopes);

// Upper values of the forms F (over v_level) through the backward graph from layer `level` up, then
// the forward chain down to the input; slopes.rows is 1 or F.rows.
std::vector<double> backward_values(const BackwardGraph& G, std::size_t level, Forms F, const Slopes& slopes,
                                    BackwardTrace* trace);

// F (one row over g) -> the same row over v_1 (g = W_1^T v_1 restricted to the first n_dir inputs).
void gradient_to_v1(const BackwardGraph& G, Forms& F);

// Per row of F (over v_level), the smallest certified value seen while optimising that row's own slopes
// from `start` (one row) by `iterations` projected Adam steps (the value is linear in each slope for
// fixed line choices, with derivative the node's coefficient times its input evaluated through the
// chosen lines).  The steps stop early once every row's value is <= target.
std::vector<double> optimise_slopes(const BackwardGraph& G, std::size_t level, const Forms& F, const Slopes& start,
                                    int iterations, const GradientOptions& opt,
                                    double target = -std::numeric_limits<double>::infinity());

}  // namespace lipmiq
