// crosstune/crosstune.hpp — umbrella header: every public part of the library, for quick starts.
//
// Two parts stay out, since they need more than crosstune::crosstune links: the XGBoost baseline
// (crosstune/model/xgboost.hpp, target crosstune::xgboost) and the CUDA kernels (crosstune/cuda/, target
// crosstune::cuda). crosstune/hw/cuda_probe.hpp is in: it compiles without CUDA and then reports so.
// detail/ is internal and comes along only as the public headers use it.
//
// Include the single headers you use to keep compile times down; this one pulls in Eigen, xtensor and TBB.
//
//   #include <crosstune/crosstune.hpp>
//   auto records = crosstune::io::read_log_file("tuning.json.gz");
#pragma once

#include "crosstune/version.hpp"

#include "crosstune/core/error_code.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/core/step.hpp"
#include "crosstune/core/target.hpp"
#include "crosstune/core/task.hpp"
#include "crosstune/core/workload_key.hpp"

#include "crosstune/io/atomic_file.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"
#include "crosstune/io/npy_writer.hpp"
#include "crosstune/io/record_format.hpp"
#include "crosstune/io/record_parser.hpp"

#include "crosstune/hw/cuda_probe.hpp"
#include "crosstune/hw/hardware_descriptor.hpp"
#include "crosstune/hw/hardware_params.hpp"
#include "crosstune/hw/host_probe.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/hw/target_string.hpp"

#include "crosstune/data/dataset.hpp"
#include "crosstune/data/export.hpp"
#include "crosstune/data/log_summary.hpp"
#include "crosstune/data/sampler.hpp"
#include "crosstune/data/samplers.hpp"
#include "crosstune/data/splits.hpp"
#include "crosstune/data/workload_info.hpp"

#include "crosstune/metrics/ranking.hpp"

#include "crosstune/features/any_extractor.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/features/feature_extractor.hpp"
#include "crosstune/features/kernel_features.hpp"
#include "crosstune/features/launch_features.hpp"
#include "crosstune/features/loop_analysis.hpp"
#include "crosstune/features/loop_features.hpp"
#include "crosstune/features/step_encoding.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/features/workload_features.hpp"

#include "crosstune/ir/dag.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/expr.hpp"
#include "crosstune/ir/networks.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/reference.hpp"
#include "crosstune/ir/workloads.hpp"

#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/schedule/replay.hpp"
#include "crosstune/schedule/state.hpp"

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/eigen_reference.hpp"
#include "crosstune/codegen/interpret.hpp"
#include "crosstune/codegen/lower.hpp"

#include "crosstune/measure/builder.hpp"
#include "crosstune/measure/callable_measurer.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/measure/kernel.hpp"
#include "crosstune/measure/local_measurer.hpp"
#include "crosstune/measure/measurer.hpp"
#include "crosstune/measure/measurement.hpp"
#include "crosstune/measure/provenance.hpp"
#include "crosstune/measure/runner.hpp"
#include "crosstune/measure/timing.hpp"
#include "crosstune/measure/verify.hpp"

#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/cost_model.hpp"
#include "crosstune/model/cost_model_concept.hpp"
#include "crosstune/model/layers.hpp"
#include "crosstune/model/lstm.hpp"
#include "crosstune/model/matrix.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/model/model_card.hpp"
#include "crosstune/model/network.hpp"
#include "crosstune/model/one_of.hpp"
#include "crosstune/model/optim.hpp"
#include "crosstune/model/parallel.hpp"
#include "crosstune/model/parameter.hpp"
#include "crosstune/model/pooling.hpp"
#include "crosstune/model/serialization.hpp"
#include "crosstune/model/trainer.hpp"

#include "crosstune/search/evolutionary_search.hpp"
#include "crosstune/search/search_policy.hpp"
#include "crosstune/search/simulated_annealing.hpp"
#include "crosstune/search/task_scheduler.hpp"
#include "crosstune/search/transfer_tuning.hpp"
#include "crosstune/search/tuner.hpp"

#include "crosstune/concepts.hpp"
