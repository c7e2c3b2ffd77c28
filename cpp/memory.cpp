// Storage of large float64 blocks (see BlockAllocator in core.hpp).
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core.hpp"

namespace lipmiq {

namespace {

constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kHugeFrom = std::size_t(4) << 20;  // numpy's threshold for the same advice

#if defined(__linux__) && defined(MADV_HUGEPAGE)
constexpr bool kAdviseHuge = true;
#else
constexpr bool kAdviseHuge = false;
#endif

bool huge(std::size_t bytes) { return kAdviseHuge && bytes >= kHugeFrom; }
std::size_t whole_pages(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

}  // namespace

void* allocate_block(std::size_t bytes) {
    if (!huge(bytes)) return ::operator new(bytes);
    void* p = std::aligned_alloc(kHugePage, whole_pages(bytes));
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, whole_pages(bytes), MADV_HUGEPAGE);  // advice: without huge pages nothing changes
#endif
    return p;
}

void free_block(void* p, std::size_t bytes) noexcept {
    if (huge(bytes))
        std::free(p);
    else
        ::operator delete(p);
}

}  // namespace lipmiq
