// Tensor storage: where every tensor's buffer comes from and goes back to.
//
// Buffers of kCachedMin bytes and more are 64-byte aligned and rounded up to a size class (four
// per power of two, so at most 25% is wasted); a freed one is kept in the freeing thread's own
// free list for its class and handed back to the next request of that class on that thread.
// A training step allocates and frees the same shapes every step, so from the second step on its
// large buffers never reach malloc: without this, glibc's default mmap threshold makes every
// large temporary an mmap, page faults and an munmap, and the engine's speed depended on a
// mallopt() in each main(). The per-thread cache holds at most cache_cap() bytes; a buffer
// freed past the cap goes back to malloc at once, so peak memory is bounded by live + cap per
// thread. Smaller buffers go straight to malloc (glibc's own per-thread cache serves them well).
//
// Under AddressSanitizer the cache is off (cache_enabled() is false): a reused buffer would
// hide a use-after-free from ASan, which must see every free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lz::storage {

inline constexpr size_t kCachedMin = 4096;

// malloc'd memory of at least `bytes`; 64-byte aligned when bytes >= kCachedMin. Never null
// (throws std::bad_alloc).
void* acquire(size_t bytes);
// Gives back a buffer from acquire(bytes), with the same `bytes`. Any thread may release it.
void release(void* p, size_t bytes) noexcept;

// The bytes acquire(bytes) really reserves (the size class), and whether the cache is compiled in.
size_t class_bytes(size_t bytes);
bool cache_enabled();

// The per-thread cap on cached (freed, kept) bytes; applies to every thread's next release.
// Default 256 MiB: with it, bench_vae's VAE step takes 24 of its 72,668 timed large-buffer
// requests from malloc, and the IWAE-50 step peaks at 316 MB against 335-348 MB without the cache.
size_t cache_cap();
void set_cache_cap(size_t bytes);

struct CacheStats {
  size_t cached_bytes = 0;  // held by this thread's free lists now
  uint64_t hits = 0;        // acquires served from this thread's free lists
  uint64_t misses = 0;      // acquires of cached sizes that went to malloc
};
CacheStats thread_stats();
// Frees everything this thread's free lists hold back to malloc.
void trim_thread_cache() noexcept;

}  // namespace lz::storage
