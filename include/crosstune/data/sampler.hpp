// crosstune/data/sampler.hpp — the Sampler concept: which records of a Dataset to train on.
//
// `select(dataset, rng)` returns a data::Selection (records sorted by task and record, and the kept
// fraction); randomness only through the Rng, so a seed gives the same selection. The samplers of
// data/samplers.hpp satisfy it; the Tuner uses one to choose the records of each online model update.
// See docs/policies/sampler.md.
//
//   struct KeepAll { data::Selection select(const data::Dataset& ds, Rng&) const; };
//   static_assert(crosstune::Sampler<KeepAll>);
#pragma once

#include <concepts>

#include "crosstune/core/rng.hpp"
#include "crosstune/data/dataset.hpp"
#include "crosstune/data/samplers.hpp"

namespace crosstune {

template <class S>
concept Sampler = requires(const S& s, const data::Dataset& ds, Rng& rng) {
  { s.select(ds, rng) } -> std::convertible_to<data::Selection>;
};

/// Checks a Sampler with a readable message.
template <class S>
constexpr bool require_sampler() {
  static_assert(Sampler<S>,
                "crosstune: this type is not a Sampler: it needs a const member function "
                "select(const crosstune::data::Dataset&, crosstune::Rng&) returning crosstune::data::Selection "
                "(see docs/policies/sampler.md)");
  return Sampler<S>;
}

/// Runs any sampler (checked with a readable message).
template <class S>
[[nodiscard]] data::Selection sample_records(const S& sampler, const data::Dataset& ds, Rng& rng) {
  static_assert(require_sampler<S>());
  return sampler.select(ds, rng);
}

}  // namespace crosstune
