// crosstune/core/rng.hpp — the one source of randomness, seeded explicitly and passed by reference.
//
// Every sampler, split, mutation and weight initialisation takes an `Rng&`, never a global, so a run is
// reproducible from its seed. The generator is xoshiro256** (Blackman & Vigna) seeded through SplitMix64;
// the distributions below are written out here (not std::uniform_*_distribution, whose output differs
// between standard libraries) so a seed gives the same numbers with every compiler.
//
//   crosstune::Rng rng(42);
//   auto i = rng.uniform_index(records.size());
//   auto child = rng.split();  // an independent stream, e.g. one per thread
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>

namespace crosstune {

class Rng {
  __extension__ using uint128 = unsigned __int128;  // GCC/Clang extension, silences -Wpedantic

 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed) noexcept { reseed(seed); }

  void reseed(std::uint64_t seed) noexcept {
    seed_ = seed;
    std::uint64_t sm = seed;
    for (auto& word : state_)
      word = splitmix64(sm);
  }

  /// The seed this generator was constructed or last reseeded with.
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  /// Next 64 random bits (satisfies std::uniform_random_bit_generator).
  result_type operator()() noexcept {
    const std::uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = std::rotl(state_[3], 45);
    return result;
  }

  /// Uniform integer in [0, bound), unbiased (Lemire's multiply-and-reject). bound must be > 0.
  [[nodiscard]] std::uint64_t uniform_index(std::uint64_t bound) noexcept {
    uint128 product = static_cast<uint128>((*this)()) * bound;
    auto low = static_cast<std::uint64_t>(product);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<uint128>((*this)()) * bound;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  /// Uniform integer in [low, high] (both inclusive); requires low <= high.
  [[nodiscard]] std::int64_t uniform_int(std::int64_t low, std::int64_t high) noexcept {
    const auto span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    if (span == std::numeric_limits<std::uint64_t>::max()) return static_cast<std::int64_t>((*this)());
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + uniform_index(span + 1));
  }

  /// Uniform double in [0, 1) with 53 random bits.
  [[nodiscard]] double uniform01() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// Uniform double in [low, high).
  [[nodiscard]] double uniform_real(double low, double high) noexcept {
    return low + (high - low) * uniform01();
  }

  /// Standard normal sample (Box–Muller; one of the pair is kept for the next call).
  [[nodiscard]] double normal() noexcept {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    double u1 = uniform01();
    while (u1 <= 0.0)
      u1 = uniform01();
    const double u2 = uniform01();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    constexpr double two_pi = 6.283185307179586476925286766559;
    spare_normal_ = radius * std::sin(two_pi * u2);
    has_spare_normal_ = true;
    return radius * std::cos(two_pi * u2);
  }

  [[nodiscard]] double normal(double mean, double stddev) noexcept { return mean + stddev * normal(); }

  /// True with probability p.
  [[nodiscard]] bool bernoulli(double p) noexcept { return uniform01() < p; }

  /// Fisher–Yates shuffle, the same permutation for the same seed everywhere.
  template <class T>
  void shuffle(std::span<T> items) noexcept {
    for (std::size_t i = items.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(uniform_index(i));
      using std::swap;
      swap(items[i - 1], items[j]);
    }
  }

  /// A new generator whose stream does not overlap this one's for 2^128 draws (xoshiro256's jump);
  /// this generator advances too, so successive split() calls give distinct streams.
  [[nodiscard]] Rng split() noexcept {
    Rng child = *this;
    child.jump();
    jump();
    jump();
    child.has_spare_normal_ = false;
    return child;
  }

 private:
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  void jump() noexcept {
    constexpr std::uint64_t jump_polynomial[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                                 0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    std::uint64_t s[4] = {0, 0, 0, 0};
    for (std::uint64_t word : jump_polynomial) {
      for (int bit = 0; bit < 64; ++bit) {
        if (word & (std::uint64_t{1} << bit)) {
          for (int k = 0; k < 4; ++k)
            s[k] ^= state_[k];
        }
        (void)(*this)();
      }
    }
    for (int k = 0; k < 4; ++k)
      state_[k] = s[k];
  }

  std::uint64_t state_[4]{};
  std::uint64_t seed_ = 0;
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace crosstune
