#pragma once
// KAA_TEST_SANITIZED: 1 in an ASan or TSan build (g++ or clang++), else 0. Tests whose subject
// the sanitizers change (the frame arena is off under ASan; they need free fds of their own)
// skip or scale themselves with it.

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KAA_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KAA_TEST_SANITIZED 1
#endif
#endif
#ifndef KAA_TEST_SANITIZED
#define KAA_TEST_SANITIZED 0
#endif
