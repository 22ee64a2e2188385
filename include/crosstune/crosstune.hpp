// crosstune/crosstune.hpp — umbrella header: everything but the CUDA parts (crosstune/cuda/).
//
// Include the single headers you use to keep compile times down; this one is for quick starts.
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

#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"
#include "crosstune/io/record_format.hpp"
#include "crosstune/io/record_parser.hpp"

#include "crosstune/data/log_summary.hpp"
#include "crosstune/data/workload_info.hpp"
