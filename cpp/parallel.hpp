// The one way the core uses threads: indices handed out from a shared counter.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace lipmiq {

// Run f(i) for i = 0..n-1 on the caller and up to workers - 1 threads started for this call, each
// taking the next index from a shared counter (so a worker slowed by another process takes fewer).
// The first exception is rethrown once every thread has joined; a thread that cannot be started
// leaves its share to the others.
template <class F>
void parallel_for(std::size_t n, unsigned workers, F&& f) {
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        try {
            for (std::size_t i; (i = next.fetch_add(1)) < n;) f(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            next.store(n);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < workers && t < n; ++t) {
        try {
            pool.emplace_back(work);
        } catch (const std::system_error&) {
            break;
        }
    }
    work();
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

// Loops over fewer matrix entries than this stay on one thread: starting one costs about 50 us.
constexpr double kParallelEntries = 262144.0;

// f(i0, i1) for consecutive blocks [i0, i1) of `block` indices covering [0, n), on `threads`
// workers when the loop covers at least kParallelEntries entries (`per_index` per index).
template <class F>
void parallel_blocks(std::size_t n, std::size_t block, std::size_t per_index, unsigned threads, F&& f) {
    const bool big = static_cast<double>(n) * static_cast<double>(per_index) >= kParallelEntries;
    parallel_for((n + block - 1) / block, big ? threads : 1u, [&](std::size_t b) {
        f(b * block, b * block + block < n ? b * block + block : n);
    });
}

}  // namespace lipmiq
