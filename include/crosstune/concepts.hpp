// crosstune/concepts.hpp — every policy concept of crosstune, gathered in one place.
//
// A tuning loop is put together from policies chosen at compile time. Each concept lives beside its layer
// and is required where it is used, with a static_assert whose message says what is missing:
//
//   HardwareDescriptor                   hw/hardware_descriptor.hpp        a device's parameters
//   FeatureExtractor(For<H>), Mixed...   features/feature_extractor.hpp    records → model input
//   Sampler                              data/sampler.hpp                  which records to train on
//   CostModel                            model/cost_model_concept.hpp      ranks candidates, learns
//   model::Network                       model/network.hpp                 what the trainer trains
//   Measurer                             measure/measurer.hpp              builds, checks, times
//   search::SearchPolicy                 search/search_policy.hpp          proposes candidates (ask/tell)
//
// search::Tuner (search/tuner.hpp) takes six of them; docs/policies/ has a page per concept showing the
// smallest type that satisfies it.
#pragma once

#include "crosstune/data/sampler.hpp"
#include "crosstune/features/feature_extractor.hpp"
#include "crosstune/hw/hardware_descriptor.hpp"
#include "crosstune/measure/measurer.hpp"
#include "crosstune/model/cost_model_concept.hpp"
#include "crosstune/model/network.hpp"
#include "crosstune/search/search_policy.hpp"
