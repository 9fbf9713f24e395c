// What every program shares: the --device and --threads flags' effect, and
// turning any error into one line on stderr with a non-zero exit.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "autograd/device.h"

namespace apps {

// The device named by --device: "cpu", or "cuda" where this build has a CUDA
// backend and the machine a CUDA device; otherwise throws a one-line
// explanation beginning "--device <name>:".
ag::Device require_device(const std::string& device);
// The --device (cpu or cuda) and --threads flags every program has.
void add_device_flags(CLI::App& app, std::string& device, int64_t& threads);
// Sets the OpenMP thread count when threads > 0.
void set_threads(int64_t threads);
// Numeric checks whose errors read "must be >= 0, got -1" (CLI11's own
// NonNegativeNumber and PositiveNumber print DBL_MAX as their upper bound).
// NaN and inf are refused ("not a finite number"; CLI::Range lets NaN pass).
extern const CLI::Validator kNonNegative;
extern const CLI::Validator kPositive;
extern const CLI::Validator kUnitInterval;  // [0, 1]
// Command-line errors print one line, "<program>: error: <what> (see --help)",
// and CLI11_PARSE returns CLI11's non-zero exit code.
void one_line_parse_errors(CLI::App& app, const char* program);
// Throws "<flag> <path>: <why>" unless the file `path` could be written: its
// directory exists and is writable, and `path` is not a directory. Checked
// before long work, so that it is not done for nothing, and before any output
// is written, so that a bad later path does not leave a half-done set of
// files. An empty path (the flag not given) passes.
void require_output_file(const char* flag, const std::string& path);
// Runs body with stdout line-buffered (so it interleaves with progress bars on
// stderr); an exception prints "<program>: error: <what>" and returns 1.
int run_reporting_errors(const char* program, const std::function<int()>& body);

}  // namespace apps
