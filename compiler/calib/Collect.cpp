#include "calib/Collect.h"

#include "calib/Observer.h"
#include "support/Error.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace qcc {

llvm::Expected<std::map<std::string, TensorStats>>
collectStatistics(const Graph &g, int64_t batches, const std::function<std::vector<Tensor>(int64_t)> &batch,
                  const CollectOptions &opts) {
  unsigned threads = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = unsigned(std::clamp<int64_t>(int64_t(threads), 1, std::max<int64_t>(batches, 1)));

  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  int64_t errorBatch = batches; // the lowest failing batch wins, so the message is deterministic
  std::string errorMsg;
  std::vector<std::map<std::string, TensorStats>> results(threads);

  auto work = [&](unsigned t) {
    auto fail = [&](int64_t b, llvm::Error e) {
      std::lock_guard<std::mutex> lock(mu);
      std::string msg = llvm::toString(std::move(e));
      if (b < errorBatch) {
        errorBatch = b;
        errorMsg = msg;
      }
      failed = true;
    };
    auto interp = Interpreter::create(g);
    if (!interp)
      return fail(0, interp.takeError());
    CalibrationObserver observer(g);
    observer.attach(*interp);
    for (int64_t b; !failed && (b = next++) < batches;) {
      std::vector<Tensor> in = batch(b);
      llvm::Error e = observer.observeInputs(in);
      if (!e) {
        auto outs = interp->run(in);
        e = outs ? observer.takeError() : outs.takeError();
      }
      if (e)
        return fail(b, std::move(e));
      ++done;
      if (t == 0 && opts.progress)
        opts.progress(done);
    }
    results[t] = observer.release();
  };

  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work, t);
  work(0);
  for (auto &th : pool)
    th.join();
  if (failed)
    return makeError("calibration batch {}: {}", errorBatch, errorMsg);
  if (opts.progress)
    opts.progress(done);

  std::map<std::string, TensorStats> merged = std::move(results[0]);
  for (unsigned t = 1; t < threads; ++t)
    for (auto &[name, s] : results[t])
      merged[name].merge(s);
  return merged;
}

} // namespace qcc
