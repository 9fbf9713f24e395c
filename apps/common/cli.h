// What every program shares: one command-line convention, the --device and
// --threads flags' effect, and turning any error into one line on stderr with
// a non-zero exit.
//
// The convention (improved-diffusion's and diffusers' where they agree):
//   --steps         training steps (train_mnist); sampling steps are
//                   --sample-steps in every program (sample and evaluate
//                   also take --steps for it, as improved-diffusion's
//                   respacing does)
//   --data          the dataset: mnist, fashion or a directory of IDX files
//   --out           the output folder; files in it have fixed names
//                   (samples.png, samples.safetensors, ...)
//   -n, --batch     images drawn or scored, images per step or model call,
//                   within kMaxImages and kMaxBatch
// Flags renamed by this convention stay as hidden flags whose use is a
// one-line error naming the new one.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "autograd/device.h"

namespace apps {

// The most images per training step or model call (--batch, --batches), and
// the most images a program draws or scores (-n, --sample-n): MNIST's test
// split holds 10,000.
constexpr int64_t kMaxBatch = 4096;
constexpr int64_t kMaxImages = 10000;

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
// --seed: all digits, at most 2^64 - 1 (CLI11 itself reads -1 into a
// uint64_t as 2^64 - 1).
extern const CLI::Validator kSeed;
// Command-line errors print one line, "<program>: error: <what> (see --help)",
// and CLI11_PARSE returns CLI11's non-zero exit code.
void one_line_parse_errors(CLI::App& app, const char* program);
// A hidden flag `old_name` (with or without a value) whose use fails with
// "<old_name> is now <now>", e.g. add_renamed_flag(app, "--dataset", "--data").
void add_renamed_flag(CLI::App& app, const std::string& old_name, const std::string& now);
// A switch that writes `file` into the --out folder; given a value (the file
// name it once took), it fails with "<flag> takes no file now: it writes
// <file> in --out".
CLI::Option* add_output_switch(CLI::App& app, const std::string& flag, bool& on,
                               const std::string& file, const std::string& help);
// Throws "<flag> <dir>: <why>" unless `dir` is a folder that exists or can be
// created, and creates it; for --out, a name ending in .png (the file --out
// once named in sample) gets "--out is a folder now".
void require_output_dir(const std::string& dir, const std::string& flag = "--out");
// Throws "<flag> <path>: <why>" unless the file `path` could be written: its
// directory exists and is writable, and `path` is not a directory. Checked
// before long work, so that it is not done for nothing, and before any output
// is written, so that a bad later path does not leave a half-done set of
// files. An empty path (the flag not given) passes.
void require_output_file(const char* flag, const std::string& path);
// Runs body with stdout line-buffered (so it interleaves with progress bars on
// stderr) and SIGXFSZ ignored (so a write past ulimit -f fails like one to a
// full disk); an exception prints "<program>: error: <what>" and returns 1.
// Under mpirun it is one rank of a data-parallel run (ag::dist::init): ranks
// other than 0 print nothing to stdout, and an exception on any rank ends
// every rank with that one line and a non-zero exit (ag::dist::abort_run).
int run_reporting_errors(const char* program, const std::function<int()>& body);

}  // namespace apps
