// crosstune/version.hpp — the library version, for embedders that check it at compile time.
#pragma once

#define CROSSTUNE_VERSION_MAJOR 0
#define CROSSTUNE_VERSION_MINOR 1
#define CROSSTUNE_VERSION_PATCH 0

namespace crosstune {
inline constexpr int version_major = CROSSTUNE_VERSION_MAJOR;
inline constexpr int version_minor = CROSSTUNE_VERSION_MINOR;
inline constexpr int version_patch = CROSSTUNE_VERSION_PATCH;
inline constexpr const char* version_string = "0.1.0";
}  // namespace crosstune
