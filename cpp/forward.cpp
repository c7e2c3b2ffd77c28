// Batched forward pass (pre-activations) and batched Jacobians for given activation masks.
//
// forward: Z_k = X_{k-1} W_k^T + b_k, one gemm_nt per layer (zero activations, inactive ReLUs,
// are skipped where they fill most blocks of rows).
// jacobians: J_b = W_L G_{L-1} W_{L-1} ... G_1 W_1 built from the smaller side: from the
// output side when m <= n0 (only active rows of each W_j are read), otherwise from the input
// side (only active rows of each intermediate product are computed).
#include <algorithm>
#include <cstring>

#include "core.hpp"

namespace lipmiq {

std::vector<Matrix> forward(const Network& net, const double* X, std::size_t batch,
                            unsigned threads) {
    const std::size_t L = net.depth();
    std::vector<Matrix> Z(L);
    Matrix act(batch, net.in_dim());
    std::copy(X, X + batch * net.in_dim(), act.data.begin());
    for (std::size_t k = 0; k < L; ++k) {
        const Matrix& W = net.W[k];
        const std::size_t nout = W.rows;
        Matrix& z = Z[k];
        z = Matrix(batch, nout);
        for (std::size_t s = 0; s < batch; ++s) std::copy(net.b[k].begin(), net.b[k].end(), z.row(s));
        gemm_nt(act.data.data(), act.cols, batch, W.data.data(), W.cols, nout, W.cols, z.data.data(),
                nout, true, threads);
        if (k + 1 < L) {
            act = z;
            for (double& v : act.data) v = v > 0 ? v : 0.0;
        }
    }
    return Z;
}

void jacobians(const Network& net, const std::vector<const std::uint8_t*>& masks,
               std::size_t batch, double* out, unsigned threads) {
    const std::size_t L = net.depth();
    const std::size_t m = net.out_dim(), n0 = net.in_dim();
    if (batch == 0) return;
    if (L == 1) {
        for (std::size_t s = 0; s < batch; ++s)
            std::copy(net.W[0].data.begin(), net.W[0].data.end(), out + s * m * n0);
        return;
    }
    if (m <= n0) {
        // Output side, whole batch at once: T (B*m x n_j) holds W_L G_{L-1} ... W_{j+1} G_j
        // for every sample (rows s*m .. s*m+m-1), with the columns of inactive units zeroed.
        // T <- T W_j is one grouped product; zero columns (inactive units) are skipped per sample.
        std::size_t nj = net.W[L - 1].cols;
        Block T(batch * m * nj), U;
        for (std::size_t s = 0; s < batch; ++s) {
            const std::uint8_t* g = masks[L - 2] + s * nj;
            for (std::size_t r = 0; r < m; ++r) {
                const double* w = net.W[L - 1].row(r);
                double* t = T.data() + (s * m + r) * nj;
                for (std::size_t i = 0; i < nj; ++i) t[i] = g[i] ? w[i] : 0.0;
            }
        }
        for (std::size_t j = L - 1; j-- > 0;) {
            const Matrix& Wj = net.W[j];
            const std::size_t nprev = Wj.cols;
            double* dst;
            if (j == 0) {
                dst = out;
            } else {
                U.assign(batch * m * nprev, 0.0);
                dst = U.data();
            }
            gemm_gather(T.data(), nj, nullptr, batch * m, nullptr, nullptr, nj, Wj.data.data(),
                        nprev, nprev, dst, nprev, false, m, threads);
            if (j != 0) {
                for (std::size_t s = 0; s < batch; ++s) {
                    const std::uint8_t* g = masks[j - 1] + s * nprev;
                    for (std::size_t r = 0; r < m; ++r) {
                        double* u = U.data() + (s * m + r) * nprev;
                        for (std::size_t i = 0; i < nprev; ++i)
                            if (!g[i]) u[i] = 0.0;
                    }
                }
                std::swap(T, U);
                nj = nprev;
            }
        }
        return;
    }
    // Input side (m > n0), per sample: T (n_1 x n0) = G_1 W_1 (rows outside A_1 never read),
    // T <- G_j W_j[:, A_{j-1}] T[A_{j-1}, :] computing only the active rows,
    // finally J = W_L[:, A_{L-1}] T[A_{L-1}, :].
    std::vector<std::vector<std::int32_t>> active(L - 1);
    Block T, U;
    for (std::size_t s = 0; s < batch; ++s) {
        double* J = out + s * m * n0;
        for (std::size_t k = 0; k + 1 < L; ++k) {
            const std::size_t nk = net.W[k].rows;
            const std::uint8_t* g = masks[k] + s * nk;
            auto& a = active[k];
            a.clear();
            for (std::size_t i = 0; i < nk; ++i)
                if (g[i]) a.push_back(static_cast<std::int32_t>(i));
        }
        const double* cur = net.W[0].data.data();
        for (std::size_t j = 1; j < L; ++j) {
            const Matrix& Wj = net.W[j];
            const auto& a = active[j - 1];
            double* dst;
            const std::int32_t* rows = nullptr;
            std::size_t nrows = Wj.rows;
            if (j == L - 1) {
                dst = J;
            } else {
                U.assign(Wj.rows * n0, 0.0);
                dst = U.data();
                rows = active[j].data();
                nrows = active[j].size();
            }
            if (a.empty()) {  // no active unit: this factor (and the product) is zero
                if (j == L - 1) std::fill(J, J + m * n0, 0.0);
            } else {
                gemm_gather(Wj.data.data(), Wj.cols, rows, nrows, a.data(), a.data(), a.size(),
                            cur, n0, n0, dst, n0, false, 0, threads);
            }
            if (j != L - 1) {
                std::swap(T, U);
                cur = T.data();
            }
        }
    }
}

}  // namespace lipmiq
