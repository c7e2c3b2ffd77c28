// One node of LipSDP's slope branch-and-bounds (python/lipmiq/sdp/search.py `evaluate` drives it): the slope codes
// settled, the model built on the network's weights (for the certificate) and on the solver's form of them, the
// central path from the parent's warm point (else from the layer start), and rho certified on the network's
// weights.  One call without the GIL: in Python the steps around the solve cost about as much as the solve
// (0.4 ms a node on [8, 20, 20, 1]), and held the GIL while the engine's other thread wanted it.
#include <cmath>
#include <limits>
#include <vector>

#include "core.hpp"

namespace lipmiq {

namespace {

// The core's view of a slope model's matrices (the majorant's with `magnitude`).
SdpModel view(const SdpSlopeModel& m, bool magnitude) {
    SdpModel v;
    v.n0 = m.n0;
    v.size = m.size;
    v.index = m.index;
    v.rows = (magnitude ? m.rows_abs : m.rows).data();
    v.gram = (magnitude ? m.gram_abs : m.gram).data();
    return v;
}

// The parent's warm point restricted to the model's free neurons, when they are among the parent's (both lists in z
// order: by layer, then row): still strictly feasible in exact arithmetic, since fixing slopes compresses Z (the
// barrier checks it).  False otherwise.
bool restrict_warm(const SdpWarm& warm, const SdpSlopeModel& m, SdpPoint& out) {
    const std::size_t k = m.layer.size();
    out.rho = warm.point.rho;
    out.mu = warm.point.mu;
    out.t.assign(k, 0.0);
    std::size_t p = 0;
    for (std::size_t j = 0; j < k; ++j) {
        while (p < warm.layer.size() &&
               (warm.layer[p] < m.layer[j] || (warm.layer[p] == m.layer[j] && warm.row[p] < m.row[j])))
            ++p;
        if (p == warm.layer.size() || warm.layer[p] != m.layer[j] || warm.row[p] != m.row[j]) return false;
        out.t[j] = warm.point.t[p];
    }
    return true;
}

std::vector<const Matrix*> pointers(const std::vector<Matrix>& W) {
    std::vector<const Matrix*> out;
    for (const Matrix& M : W) out.push_back(&M);
    return out;
}

}  // namespace

void sdp_settle(const std::vector<Matrix>& W, std::vector<std::vector<std::int8_t>>& slopes) {
    std::vector<char> reach(W.empty() ? 0 : W[0].cols, 1), next;
    for (std::size_t k = 0; k + 1 < W.size(); ++k) {
        const Matrix& M = W[k];
        next.assign(M.rows, 0);
        for (std::size_t i = 0; i < M.rows; ++i) {
            bool live = false;
            for (std::size_t j = 0; j < M.cols && !live; ++j) live = reach[j] && std::fabs(M.row(i)[j]) > 0.0;
            if (slopes[k][i] == kSdpFree && !live) slopes[k][i] = 0;
            next[i] = live && slopes[k][i] != 0;
        }
        reach.swap(next);
    }
}

SdpNode sdp_node(const SdpInstance& net, std::vector<std::vector<std::int8_t>> slopes, const SdpWarm* warm,
                 const SdpBarrierOptions& opt, const Deadline& deadline) {
    constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    SdpNode out;
    sdp_settle(net.weights->W, slopes);
    std::vector<const std::int8_t*> codes;
    for (const auto& s : slopes) codes.push_back(s.data());
    const SdpSlopeModel model = sdp_slope_model(pointers(net.weights->W), codes);
    if (model.index.empty()) {  // every slope fixed: rho = ||J||^2 needs no multiplier
        out.model = model;
        out.rho = sdp_certified_rho(view(model, false), view(model, true), model.depth, {});
        return out;
    }
    out.model = sdp_slope_model(pointers(net.solving->W), codes);
    const SdpModel solving = view(out.model, false);
    SdpPoint start;
    if (warm != nullptr && restrict_warm(*warm, out.model, start)) {
        out.solution = sdp_barrier_solve(solving, start, opt, deadline);
        out.solved = out.solution.started;
    }
    if (!out.solved && sdp_start(net.norms, solving, out.model.layer, start)) {
        out.solution = sdp_barrier_solve(solving, start, opt, deadline);
        out.solved = out.solution.started;  // not expected to fail: sdp_start applied the same test
    }
    if (!out.solved) {
        out.rho = kNone;
        return out;
    }
    std::vector<double> t = out.solution.point.t;
    for (std::size_t j = 0; j < t.size(); ++j) t[j] *= net.scale[static_cast<std::size_t>(out.model.layer[j])];
    out.rho = sdp_certified_rho(view(model, false), view(model, true), model.depth, std::move(t));
    return out;
}

}  // namespace lipmiq
