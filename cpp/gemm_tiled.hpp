// The register-tiled product behind gemm_gather (core.hpp) for coefficient blocks with many zeros.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lipmiq {

// The arguments of gemm_gather, as documented in core.hpp.
struct GemmArgs {
    const double* R;
    std::size_t ldr;
    const std::int32_t* rows;
    std::size_t nrows;
    const std::int32_t* ridx;
    const std::int32_t* midx;
    std::size_t nidx;
    const double* M;
    std::size_t ldm;
    std::size_t ncols;
    double* out;
    std::size_t ldo;
    bool accumulate;
    std::size_t group;
};

// Columns of M (and of out) per packed panel: nidx x 144 doubles stay in L2.
constexpr std::size_t kTiledPanel = 144;

// Columns [c0, c1) of the product for every listed row; (4-row block, inner index) pairs whose
// coefficients are all zero (blocks stay within a group) are skipped.  c0 is a multiple of
// kTiledPanel, so splitting the columns at panel boundaries changes no rounding.
void gemm_tiled(const GemmArgs& g, std::size_t c0, std::size_t c1);

}  // namespace lipmiq
