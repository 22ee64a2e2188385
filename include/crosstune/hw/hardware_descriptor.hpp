// crosstune/hw/hardware_descriptor.hpp — the HardwareDescriptor concept: what a description of a device
// must offer to the policies that take one (feature extractors, the Tuner).
//
// hw::HardwareParams is the canonical descriptor; an embedder's own type (with extra fields, or computed
// parameters) satisfies the concept with one member function and keeps its type all the way to the
// feature extractor: the Tuner hands the descriptor itself, not its HardwareParams, to an extractor that
// takes it (features/feature_extractor.hpp). See docs/policies/hardware-descriptor.md.
//
//   struct MyBoard { hw::HardwareParams base; double dram_gbps; hw::HardwareParams params() const { return base; } };
//   static_assert(crosstune::HardwareDescriptor<MyBoard>);
#pragma once

#include <concepts>
#include <string_view>

#include "crosstune/hw/hardware_params.hpp"

namespace crosstune {

/// A description of one device: `params()` returns its hw::HardwareParams (name and kind included).
/// `params()` must be usable in constant expressions when the descriptor is (presets are constexpr).
template <class H>
concept HardwareDescriptor = requires(const H& h) {
  { h.params() } -> std::convertible_to<hw::HardwareParams>;
  { h.params().name } -> std::convertible_to<std::string_view>;
  { h.params().kind } -> std::convertible_to<hw::DeviceKind>;
};

/// Checks a HardwareDescriptor with a readable message; use in functions taking any descriptor.
template <class H>
constexpr bool require_hardware_descriptor() {
  static_assert(HardwareDescriptor<H>,
                "crosstune: this type is not a HardwareDescriptor: it needs a const member function params() "
                "returning crosstune::hw::HardwareParams (see docs/policies/hardware-descriptor.md)");
  return HardwareDescriptor<H>;
}

/// The HardwareParams of any descriptor.
template <class H>
[[nodiscard]] constexpr hw::HardwareParams hardware_params_of(const H& descriptor) {
  static_assert(require_hardware_descriptor<H>());
  return descriptor.params();
}

}  // namespace crosstune
