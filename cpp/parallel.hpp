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

}  // namespace lipmiq
