#include "tensor/storage.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <new>

#include "tensor/profile.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define LZ_STORAGE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LZ_STORAGE_ASAN 1
#endif
#endif

namespace lz::storage {
namespace {

// Class c covers (2^p, 2^p + j 2^(p-2)] with p = c / 4 + 11, j = c % 4 + 1; the first class
// is 4096 bytes. Every class size is a multiple of 512, as aligned_alloc(64, .) requires.
constexpr int kMinPow = 11;
constexpr int kClasses = 4 * (48 - kMinPow);  // up to 2^48 bytes

int class_of(size_t bytes) {
  const int p = std::bit_width(bytes - 1) - 1;  // 2^p < bytes <= 2^(p+1)
  const size_t quarter = size_t{1} << (p - 2);
  const size_t j = (bytes - (size_t{1} << p) + quarter - 1) / quarter;  // 1..4
  return (p - kMinPow) * 4 + static_cast<int>(j) - 1;
}

size_t size_of_class(int c) {
  const int p = c / 4 + kMinPow;
  return (size_t{1} << p) + static_cast<size_t>(c % 4 + 1) * (size_t{1} << (p - 2));
}

std::atomic<size_t> g_cap{size_t{256} << 20};

// A freed buffer's first bytes link it to the next one of its class: the lists need no memory
// of their own, so a release never allocates.
struct Node {
  Node* next;
};

struct Cache {
  std::array<Node*, kClasses> head{};
  CacheStats stats;
  void trim() noexcept {
    for (Node*& h : head)
      while (h) {
        Node* n = h->next;
        std::free(h);
        h = n;
      }
    stats.cached_bytes = 0;
  }
  ~Cache();
};

// Trivially destructible, so still readable while thread_local destructors run: a tensor freed
// after this thread's cache was destroyed (a static Tensor at exit) goes straight to free().
thread_local bool t_cache_gone = false;
thread_local Cache t_cache;
Cache::~Cache() {
  trim();
  t_cache_gone = true;
}

#ifdef LZ_STORAGE_ASAN
constexpr bool kCache = false;
#else
constexpr bool kCache = true;
#endif

}  // namespace

bool cache_enabled() { return kCache; }
size_t cache_cap() { return g_cap.load(std::memory_order_relaxed); }
void set_cache_cap(size_t bytes) { g_cap.store(bytes, std::memory_order_relaxed); }

size_t class_bytes(size_t bytes) { return bytes < kCachedMin ? std::max<size_t>(bytes, 1) : size_of_class(class_of(bytes)); }

void* acquire(size_t bytes) {
  const profile::Scope scope(profile::Cat::Alloc);
  if (bytes < kCachedMin) {
    void* p = std::malloc(std::max<size_t>(bytes, 1));
    if (!p) throw std::bad_alloc();
    return p;
  }
  const int c = class_of(bytes);
  if (c >= kClasses) throw std::bad_alloc();
  if (kCache && !t_cache_gone) {
    Cache& k = t_cache;
    if (Node* n = k.head[c]) {
      k.head[c] = n->next;
      k.stats.cached_bytes -= size_of_class(c);
      ++k.stats.hits;
      return n;
    }
    ++k.stats.misses;
  }
  void* p = std::aligned_alloc(64, size_of_class(c));
  if (!p) throw std::bad_alloc();
  return p;
}

void release(void* p, size_t bytes) noexcept {
  if (!p) return;
  const profile::Scope scope(profile::Cat::Alloc);
  if (kCache && bytes >= kCachedMin && !t_cache_gone) {
    Cache& k = t_cache;
    const int c = class_of(bytes);
    const size_t s = size_of_class(c);
    if (k.stats.cached_bytes + s <= cache_cap()) {
      Node* n = static_cast<Node*>(p);
      n->next = k.head[c];
      k.head[c] = n;
      k.stats.cached_bytes += s;
      return;
    }
  }
  std::free(p);
}

CacheStats thread_stats() { return t_cache_gone ? CacheStats{} : t_cache.stats; }
void trim_thread_cache() noexcept {
  if (!t_cache_gone) t_cache.trim();
}

}  // namespace lz::storage
