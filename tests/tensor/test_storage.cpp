// The tensor storage cache (tensor/storage.hpp): size classes, reuse of a freed buffer of the
// same class, the per-thread cap, and two threads allocating and freeing at once. Under
// AddressSanitizer the cache is compiled out, and the tests check that nothing is kept instead.
#define BOOST_TEST_MODULE tensor_storage
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "tensor/storage.hpp"
#include "tensor/tensor.hpp"

using namespace lz;
namespace st = lz::storage;

namespace {
// Each test starts from an empty cache on this thread and the default cap, and leaves it so.
struct Fresh {
  size_t cap = st::cache_cap();
  Fresh() { st::trim_thread_cache(); }
  ~Fresh() {
    st::set_cache_cap(cap);
    st::trim_thread_cache();
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(size_classes_cover_the_request_with_at_most_a_quarter_wasted) {
  BOOST_TEST(st::class_bytes(100) == 100u);  // below the cached minimum: malloc as asked
  BOOST_TEST(st::class_bytes(4096) == 4096u);
  BOOST_TEST(st::class_bytes(4097) == 5120u);
  BOOST_TEST(st::class_bytes(128 * 784 * 4) == 458752u);  // 401408 -> 2^18 * 1.75
  for (size_t b = 4096; b < (size_t{1} << 26); b = b * 9 / 7 + 13) {
    const size_t c = st::class_bytes(b);
    BOOST_TEST_REQUIRE(c >= b);
    BOOST_TEST_REQUIRE(c * 4 < b * 5 + 4 * 1024);  // < 1.25 b, plus rounding at the smallest classes
    BOOST_TEST_REQUIRE(c % 512 == 0u);
    BOOST_TEST_REQUIRE(st::class_bytes(c) == c);  // a class size is its own class
  }
}

BOOST_AUTO_TEST_CASE(a_freed_buffer_is_reused_by_the_next_request_of_its_class) {
  Fresh f;
  void* p = st::acquire(100000);
  BOOST_TEST(reinterpret_cast<uintptr_t>(p) % 64 == 0u);
  st::release(p, 100000);
  const st::CacheStats s0 = st::thread_stats();
  void* q = st::acquire(100500);  // same class (2^16 * 1.75 = 114688)
  const st::CacheStats s1 = st::thread_stats();
  if (st::cache_enabled()) {
    BOOST_TEST(s0.cached_bytes == st::class_bytes(100000));
    BOOST_TEST(q == p);
    BOOST_TEST(s1.hits == s0.hits + 1);
    BOOST_TEST(s1.cached_bytes == 0u);
  } else {
    BOOST_TEST(s0.cached_bytes == 0u);
    BOOST_TEST(s1.hits == 0u);
  }
  // Another class is not served from this one's list.
  st::release(q, 100500);
  void* r = st::acquire(300000);
  BOOST_TEST(r != q);
  BOOST_TEST(st::thread_stats().cached_bytes == (st::cache_enabled() ? st::class_bytes(100000) : 0u));
  st::release(r, 300000);
}

BOOST_AUTO_TEST_CASE(tensors_reuse_storage_through_the_cache) {
  Fresh f;
  const float* first = nullptr;
  {
    TensorF a({128, 784});
    first = a.data();
  }
  TensorF b({128, 784});  // zero-filled even when the buffer is a reused one
  BOOST_TEST((b.data() == first) == st::cache_enabled());
  float mx = 0;
  for (int64_t i = 0; i < b.numel(); ++i) mx = std::max(mx, std::abs(b[i]));
  BOOST_TEST(mx == 0.0f);
}

BOOST_AUTO_TEST_CASE(the_cap_bounds_the_cached_bytes_and_the_rest_goes_back_to_malloc) {
  Fresh f;
  const size_t cls = st::class_bytes(512 * 1024);
  st::set_cache_cap(3 * cls + cls / 2);  // room for three buffers of the class, not four
  std::vector<void*> ps;
  for (int i = 0; i < 6; ++i) ps.push_back(st::acquire(512 * 1024));
  for (void* p : ps) st::release(p, 512 * 1024);
  const size_t held = st::thread_stats().cached_bytes;
  BOOST_TEST(held == (st::cache_enabled() ? 3 * cls : 0u));
  BOOST_TEST(held <= st::cache_cap());
  // Nothing is cached with a zero cap.
  st::trim_thread_cache();
  st::set_cache_cap(0);
  void* p = st::acquire(512 * 1024);
  st::release(p, 512 * 1024);
  BOOST_TEST(st::thread_stats().cached_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(two_threads_allocate_and_free_concurrently_without_sharing_buffers) {
  Fresh f;
  // Each thread fills every buffer it holds with its own tag and checks it before freeing: a
  // buffer handed to both threads at once would show the other's tag.
  constexpr int kIters = 3000;
  bool ok[2] = {true, true};
  st::CacheStats stats[2];
  auto work = [&](int id) {
    std::vector<std::pair<uint32_t*, size_t>> held;
    uint32_t seed = 12345u + static_cast<uint32_t>(id);
    for (int it = 0; it < kIters; ++it) {
      seed = seed * 1664525u + 1013904223u;
      const size_t n = 1024 + (seed >> 8) % 60000;  // 4 KiB .. 244 KiB, many classes
      auto* p = static_cast<uint32_t*>(st::acquire(n * 4));
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint32_t>(id) * 0x9E3779B9u + static_cast<uint32_t>(i);
      held.emplace_back(p, n);
      if (held.size() > 8 || (seed & 1)) {
        auto [q, m] = held[(seed >> 4) % held.size()];
        for (size_t i = 0; i < m; i += 97)
          if (q[i] != static_cast<uint32_t>(id) * 0x9E3779B9u + static_cast<uint32_t>(i)) ok[id] = false;
        st::release(q, m * 4);
        held.erase(std::find(held.begin(), held.end(), std::make_pair(q, m)));
      }
    }
    for (auto [q, m] : held) st::release(q, m * 4);
    stats[id] = st::thread_stats();
    st::trim_thread_cache();
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  BOOST_TEST(ok[0]);
  BOOST_TEST(ok[1]);
  for (const auto& s : stats) {
    BOOST_TEST(s.cached_bytes <= st::cache_cap());
    if (st::cache_enabled()) BOOST_TEST(s.hits > uint64_t{kIters / 4});  // each thread reuses its own frees
  }
  // This thread's cache saw none of it.
  BOOST_TEST(st::thread_stats().cached_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(a_buffer_freed_on_another_thread_lands_in_that_threads_cache) {
  Fresh f;
  void* p = st::acquire(200000);
  size_t other_cached = 0;
  std::thread t([&] {
    st::release(p, 200000);
    other_cached = st::thread_stats().cached_bytes;
  });  // the thread's cache frees it at thread exit
  t.join();
  BOOST_TEST(other_cached == (st::cache_enabled() ? st::class_bytes(200000) : 0u));
  BOOST_TEST(st::thread_stats().cached_bytes == 0u);
}
