// Calibration profiles: the statistics of one calibration run, as a JSON file
// that merges with the profiles of other shards of the same data.
//
// File layout (version 1):
//   {
//     "format": "qcc-calibration-profile", "version": 1,
//     "model": {"file": "model.onnx", "graph_hash": "<16 hex digits>"},
//     "samples": 500, "method": "entropy", "percentile": 99.999,
//     "bins": 2048,
//     "tensors": {
//       "<value name>": {"range": [lo, hi], "min": m, "max": M, "count": n,
//                        "exponent": e, "hist": [...]},
//       ...
//     }
//   }
// "hist" is the |x| histogram of calib/TensorStats.h over [0, 2^e), run-length
// coded: a count >= 0 is one bin, a negative -k stands for k empty bins, and
// bins after the last entry are empty. "range" is the calibrated [lo, hi] for
// "method" (and "percentile"), written for people and other tools; qcc itself
// recomputes ranges from the histograms (rangesFor), for any method.
//
// The model is identified by graph_hash, a hash of the loaded graph's
// structure (inputs, op types, value names, shapes); "file" is informational,
// so shards may come from copies of the model at different paths.
#pragma once

#include "calib/Methods.h"
#include "calib/TensorStats.h"
#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qcc {

struct Profile {
  std::string modelFile;                    ///< file name of the model (informational)
  std::string graphHash;                    ///< identity of the model, see graphHash()
  int64_t samples = 0;                      ///< calibration samples observed
  CalibMethod method = CalibMethod::MinMax; ///< method of the ranges written to the file
  double percentile = kDefaultPercentile;
  std::map<std::string, TensorStats> tensors; ///< by value name
};

/// 16 hex digits identifying the graph's structure: inputs, nodes (domain, op,
/// input and output value names with their types) and outputs. Weights are
/// not part of it.
std::string graphHash(const Graph &g);

/// Writes atomically (a temporary file renamed over `path`).
llvm::Error writeProfile(const Profile &p, const std::string &path);
/// Reads and validates a profile; errors name the file and the bad field.
llvm::Expected<Profile> readProfile(const std::string &path);

/// Sums shards of one model: counts and histograms add, min of mins, max of
/// maxes. `paths` name the shards in errors. The method (and percentile) is
/// `method` if given, else the shards' common one; shards that disagree and no
/// `method` is an error.
llvm::Expected<Profile> mergeProfiles(const std::vector<Profile> &shards, const std::vector<std::string> &paths,
                                      std::optional<CalibMethod> method = std::nullopt,
                                      std::optional<double> percentile = std::nullopt);

/// Fails unless the profile was made for a graph with g's structure.
llvm::Error checkProfileMatches(const Profile &p, const Graph &g, const std::string &profilePath);

/// Per-tensor calibrated ranges [lo, hi] by value name, for `method` (and
/// `percentile`, which must be in (0, 100]).
llvm::Expected<std::map<std::string, std::pair<float, float>>> rangesFor(const Profile &p, CalibMethod method,
                                                                         double percentile = kDefaultPercentile);

} // namespace qcc
