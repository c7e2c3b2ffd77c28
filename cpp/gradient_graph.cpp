// Certified linear relaxation of the backward graph (see gradient_graph.hpp): the Heaviside lines and
// the product planes are built so that the stored floats give valid inequalities (intercepts rounded
// outward at the points where the relaxed function minus the line is extreme), and the substitutions
// are those of sound_linear.cpp, which pay for their own rounding.
#include "gradient_graph.hpp"

#include <algorithm>
#include <cmath>

#include "rounding.hpp"

namespace lipmiq {

using rnd::mul_down;
using rnd::mul_up;
using rnd::sub_down;
using rnd::sub_up;

namespace {

struct StepLines {
    std::vector<double> su, tu, sl, tl;
    std::size_t stride = 0;
};

// d = H(z) on z in [l, u]: d <= su z + tu, d >= sl z + tl.  Free (l < 0 < u), su = tau / -l >= 0:
// below 0, d - su z = -su z <= su (-l); at 0, d <= 1; above 0, d - su z <= 1: so tu = max(1, su (-l))
// rounded up.  sl = tau / u >= 0: below 0, d - sl z >= 0; at 0, d >= 0; above 0, d - sl z >= 1 - sl u:
// so tl = min(0, 1 - sl u) rounded down.  Stable neurons: the constant 0 or 1.  One set per slope row.
StepLines step_lines(const SoundLayer& H, const Slopes& slopes, std::size_t k) {
    const std::size_t n = H.status.size(), nf = H.free.size(), rows = slopes.rows;
    StepLines D;
    D.stride = rows > 1 ? n : 0;
    std::vector<double> base(n, 0.0);
    for (std::size_t j = 0; j < n; ++j)
        if (H.status[j] == kOn) base[j] = 1.0;
    D.su.assign(rows * n, 0.0);
    D.sl.assign(rows * n, 0.0);
    D.tu.resize(rows * n);
    D.tl.resize(rows * n);
    for (std::size_t r = 0; r < rows; ++r) {
        std::copy(base.begin(), base.end(), D.tu.begin() + r * n);
        std::copy(base.begin(), base.end(), D.tl.begin() + r * n);
        for (std::size_t t = 0; t < nf; ++t) {
            const std::size_t j = H.free[t], e = r * n + j;
            const double l = H.lo[j], u = H.hi[j];
            D.su[e] = slopes.step_upper[k - 1][r * nf + t] / (-l);
            D.tu[e] = std::max(1.0, mul_up(D.su[e], -l));
            D.sl[e] = slopes.step_lower[k - 1][r * nf + t] / u;
            D.tl[e] = std::min(0.0, sub_down(1.0, mul_up(D.sl[e], u)));
        }
    }
    return D;
}

// max / min of phi(d, u) = d u - a u - c d over the four vertices of [0, 1] x [ul, uh] (phi is bilinear, so
// these are its extremes on the box), rounded outward; NaN (infinite bounds) gives +-inf.
double vertex_max(double a, double c, double ul, double uh) {
    const double v = std::max({mul_up(-a, ul), mul_up(-a, uh), sub_up(sub_up(ul, mul_down(a, ul)), c),
                               sub_up(sub_up(uh, mul_down(a, uh)), c)});
    return std::isnan(v) ? rnd::kInf : v;
}
double vertex_min(double a, double c, double ul, double uh) {
    const double v = std::min({mul_down(-a, ul), mul_down(-a, uh), sub_down(sub_down(ul, mul_up(a, ul)), c),
                               sub_down(sub_down(uh, mul_up(a, uh)), c)});
    return std::isnan(v) ? -rnd::kInf : v;
}

// v = d u: kOff v = 0, kOn v = u, free: the plane mixes (any a, c with the vertex intercept is valid;
// a = beta, c = beta ul + (1 - beta) uh reproduces the McCormick mix).  One set per slope row.
Planes product_planes(const SoundLayer& H, const LayerBounds& u, const Slopes& slopes, std::size_t k) {
    const std::size_t n = H.status.size(), nf = H.free.size(), rows = slopes.rows;
    Planes P;
    P.stride = rows > 1 ? n : 0;
    for (auto* v : {&P.au, &P.cu, &P.eu, &P.al, &P.cl, &P.el}) v->assign(rows * n, 0.0);
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t j = 0; j < n; ++j)
            if (H.status[j] == kOn) P.au[r * n + j] = P.al[r * n + j] = 1.0;
        for (std::size_t t = 0; t < nf; ++t) {
            const std::size_t j = H.free[t], e = r * n + j;
            const double ul = u.lo[j], uh = u.hi[j];
            const double b = slopes.prod_upper[k - 1][r * nf + t];
            P.au[e] = b;
            P.cu[e] = b * ul + (1.0 - b) * uh;
            P.eu[e] = vertex_max(P.au[e], P.cu[e], ul, uh);
            const double bl = slopes.prod_lower[k - 1][r * nf + t];
            P.al[e] = 1.0 - bl;
            P.cl[e] = bl * ul + (1.0 - bl) * uh;
            P.el[e] = vertex_min(P.al[e], P.cl[e], ul, uh);
        }
    }
    return P;
}

// The mix that cancels d (Shi et al.'s relaxation, v between min(u, 0) and max(u, 0) on their secants).
double cancelling_beta(double ul, double uh) {
    if (!(uh > ul)) return 1.0;
    return std::clamp(uh / (uh - ul), 0.0, 1.0);
}

void finish_backward_layer(BackwardGraph& G, Slopes& slopes, std::size_t k) {
    const SoundLayer& H = G.S->hidden[k - 1];
    const LayerBounds& u = G.u[k];
    const std::size_t n = u.lo.size();
    G.Xu[k].resize(n);
    std::vector<double> Xv(n, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        G.Xu[k][j] = std::max(std::fabs(u.lo[j]), std::fabs(u.hi[j]));
        if (H.status[j] != kOff) Xv[j] = G.Xu[k][j];
    }
    const Matrix& Wt = (*G.Wt)[k - 1];
    G.Tmag[k - 1] = magnitude(Wt.data.data(), Wt.cols, Wt.rows, Wt.cols, Xv.data());
    G.Tmass[k - 1] = mass(Xv);
    for (std::size_t t = 0; t < H.free.size(); ++t) {
        const std::size_t j = H.free[t];
        const double b = cancelling_beta(u.lo[j], u.hi[j]);
        slopes.prod_upper[k - 1][t] = b;
        slopes.prod_lower[k - 1][t] = b;
    }
}

}  // namespace

Slopes repeat_rows(const Slopes& s, std::size_t rows) {
    Slopes out;
    out.rows = rows;
    std::vector<std::vector<double>> Slopes::*const families[] = {
        &Slopes::relu_lower, &Slopes::step_upper, &Slopes::step_lower, &Slopes::prod_upper, &Slopes::prod_lower};
    for (auto f : families) {
        std::vector<std::vector<double>>& dst = out.*f;
        dst.resize((s.*f).size());
        for (std::size_t k = 0; k < dst.size(); ++k) {
            const std::vector<double>& src = (s.*f)[k];
            dst[k].resize(rows * src.size());
            for (std::size_t r = 0; r < rows; ++r) std::copy(src.begin(), src.end(), dst[k].begin() + r * src.size());
        }
    }
    return out;
}

std::vector<double> backward_values(const BackwardGraph& G, std::size_t level, Forms F, const Slopes& slopes,
                                    BackwardTrace* trace) {
    const SoundNetwork& S = *G.S;
    const std::size_t L1 = S.hidden.size();
    std::vector<Forms> phi(L1);
    if (trace) {
        trace->v.assign(L1, {});
        trace->d.assign(L1, {});
    }
    std::vector<double> consts;
    for (std::size_t k = level;; ++k) {
        const SoundLayer& H = S.hidden[k - 1];
        if (trace) trace->v[k - 1].assign(F.A.begin(), F.A.end());
        const Planes P = product_planes(H, G.u[k], slopes, k);
        Forms Fu, Fd;
        substitute_planes(F, P, G.Xu[k].data(), Fu, Fd);
        const StepLines D = step_lines(H, slopes, k);
        substitute_lines(Fd, Lines{D.su.data(), D.tu.data(), D.sl.data(), D.tl.data(), D.stride, D.stride},
                         H.Xz.data(), trace ? &trace->d[k - 1] : nullptr);
        for (std::size_t r = 0; r < Fu.rows; ++r) Fu.c[r] = rnd::add_up(Fu.c[r], Fd.c[r]);
        std::fill(Fd.c.begin(), Fd.c.end(), 0.0);
        phi[k - 1] = std::move(Fd);
        if (k == L1) {
            if (trace) trace->top.assign(Fu.A.begin(), Fu.A.end());
            consts = concretise_box(Fu, G.top_lo.data(), G.top_hi.data());
            break;
        }
        // u_k = W_{k+1}^T v_{k+1}; only live neurons of layer k carry a coefficient (v_k = 0 elsewhere).
        const Matrix& Wt = (*G.Wt)[k];
        AffineMap m;
        m.M = Wt.data.data();
        m.ldm = Wt.cols;
        m.nx = Wt.cols;
        m.idx = H.live.data();
        m.nidx = H.live.size();
        m.Mmag = G.Tmag[k].data();
        m.xmass = G.Tmass[k];
        m.work = &S.work;
        substitute_affine(Fu, m);
        F = std::move(Fu);
    }
    Forms Fz = std::move(phi[L1 - 1]);
    phi[L1 - 1] = Forms();
    Fz.c = consts;
    through_layer(S, L1, Fz);
    to_input(S, L1 - 1, Fz, &phi, &slopes.relu_lower, trace ? &trace->relu : nullptr);
    return concretise_input(Fz, *S.dom, S.in_lo, S.in_hi, trace ? &trace->x : nullptr);
}

void gradient_to_v1(const BackwardGraph& G, Forms& F) {
    const Matrix& Wt = (*G.Wt)[0];
    AffineMap m;
    m.M = Wt.data.data();
    m.ldm = Wt.cols;
    m.nx = Wt.cols;
    m.nidx = G.n_dir;
    m.Mmag = G.Tmag[0].data();
    m.xmass = G.Tmass[0];
    m.work = &G.S->work;
    substitute_affine(F, m);
}

void bound_backward(BackwardGraph& G, double step_init, Slopes& slopes) {
    const SoundNetwork& S = *G.S;
    const std::size_t L1 = S.hidden.size();
    slopes.rows = 1;
    slopes.relu_lower.resize(L1);
    slopes.step_upper.resize(L1);
    slopes.step_lower.resize(L1);
    slopes.prod_upper.resize(L1);
    slopes.prod_lower.resize(L1);
    for (std::size_t k = 0; k < L1; ++k) {
        const SoundLayer& H = S.hidden[k];
        const std::size_t nf = H.free.size();
        slopes.relu_lower[k].resize(nf);
        for (std::size_t t = 0; t < nf; ++t) slopes.relu_lower[k][t] = H.sl[H.free[t]];
        slopes.step_upper[k].assign(nf, step_init);
        slopes.step_lower[k].assign(nf, step_init);
        slopes.prod_upper[k].assign(nf, 1.0);
        slopes.prod_lower[k].assign(nf, 1.0);
    }
    G.u.assign(L1 + 1, LayerBounds());
    G.Xu.assign(L1 + 1, {});
    G.Tmag.assign(L1, {});
    G.Tmass.assign(L1, 0.0);
    G.u[L1].lo = G.top_lo;
    G.u[L1].hi = G.top_hi;
    finish_backward_layer(G, slopes, L1);
    std::size_t widest = S.in_lo.size();
    for (const SoundLayer& H : S.hidden) widest = std::max(widest, H.lo.size());
    // Rows (every free neuron's two sides, or every gradient coordinate's) in blocks of about G.block_entries over
    // the widest layer: each row is substituted on its own with the same relaxations.
    const std::size_t block = std::max<std::size_t>(1, G.block_entries / (2 * widest));
    for (std::size_t k = L1; k-- > 0;) {
        // Interval step u_k = W_{k+1}^T v_{k+1}, v = d u with d in {0}, {1} or [0, 1].
        const SoundLayer& Hn = S.hidden[k];
        const LayerBounds& un = G.u[k + 1];
        const std::size_t nn = un.lo.size();
        std::vector<double> vl(nn, 0.0), vh(nn, 0.0);
        for (std::size_t j = 0; j < nn; ++j) {
            if (Hn.status[j] == kOn) {
                vl[j] = un.lo[j];
                vh[j] = un.hi[j];
            } else if (Hn.status[j] == kFree) {
                vl[j] = std::min(un.lo[j], 0.0);
                vh[j] = std::max(un.hi[j], 0.0);
            }
        }
        const Matrix& Wt = (*G.Wt)[k];
        const std::size_t rows = k >= 1 ? Wt.rows : G.n_dir;
        LayerBounds& u = G.u[k];
        interval_affine_sound(Wt.data.data(), Wt.cols, rows, Wt.cols, nullptr, vl.data(), vh.data(), u.lo, u.hi);
        // Back-substitution for the entries a relaxation needs.
        std::vector<std::int32_t> idx;
        if (k >= 1) {
            idx = S.hidden[k - 1].free;
        } else {
            for (std::size_t i = 0; i < G.n_dir; ++i) idx.push_back(static_cast<std::int32_t>(i));
        }
        // Past the deadline the layer keeps its interval bounds; once begun, every block runs (stopping between
        // them left the CIFAR-sized CNN's 6 s root call at 96.3 instead of 36.7, 2 s sooner).
        const bool substitute = !G.deadline.passed();
        for (std::size_t first = 0; substitute && first < idx.size(); first += block) {
            const std::size_t R = std::min(block, idx.size() - first);
            Forms F(2 * R, Wt.cols);
            for (std::size_t r = 0; r < R; ++r) {
                const double* w = Wt.row(idx[first + r]);
                double* up = F.row(r);
                double* dn = F.row(R + r);
                for (std::size_t i = 0; i < Wt.cols; ++i) up[i] = w[i], dn[i] = -w[i];
            }
            const std::vector<double> val = backward_values(G, k + 1, std::move(F), slopes, nullptr);
            for (std::size_t r = 0; r < R; ++r) {
                const std::size_t j = idx[first + r];
                u.hi[j] = rnd::min_upper(u.hi[j], val[r]);
                u.lo[j] = rnd::max_lower(u.lo[j], -val[R + r]);
            }
        }
        if (k >= 1) finish_backward_layer(G, slopes, k);
    }
}

}  // namespace lipmiq
