// Counts the threads this process starts, to show that a "two threads" test really ran on two.
// Include in exactly one file of a test executable: it interposes pthread_create (every
// std::thread goes through it; the executable's definition wins over libc's), counts, and calls
// the next definition (libc's, or the sanitizer's interceptor).
#pragma once

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>

namespace lz::test {
inline std::atomic<int> threads_started{0};
}

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) noexcept {
  using Fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const Fn next = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "pthread_create"));
  lz::test::threads_started.fetch_add(1);
  return next(thread, attr, start, arg);
}
