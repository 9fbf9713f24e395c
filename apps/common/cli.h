// What every program shares: the --device and --threads flags' effect, and
// turning any error into one line on stderr with a non-zero exit.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace apps {

// "cpu" passes; "cuda" throws a one-line explanation (no device, or no CUDA
// backend in this build).
void require_device(const std::string& device);
// Sets the OpenMP thread count when threads > 0.
void set_threads(int64_t threads);
// Runs body with stdout line-buffered (so it interleaves with progress bars on
// stderr); an exception prints "<program>: error: <what>" and returns 1.
int run_reporting_errors(const char* program, const std::function<int()>& body);

}  // namespace apps
