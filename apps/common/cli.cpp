#include "apps/common/cli.h"

#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "autograd/device.h"

namespace apps {

ag::Device require_device(const std::string& device) {
  if (device == "cpu") return ag::Device::CPU;
  if (device != "cuda")
    throw std::runtime_error("--device " + device + ": unknown device (choose cpu or cuda)");
  try {
    ag::check_available(ag::Device::CUDA);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("--device cuda: ") + e.what());
  }
  return ag::Device::CUDA;
}

namespace {

// A finite number for which `ok` holds, else "<requirement>, got <input>".
CLI::Validator finite_number(bool (*ok)(double), const char* requirement, const char* name) {
  return CLI::Validator(
      [ok, requirement](std::string& input) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(input, v) || !std::isfinite(v))
          return "not a finite number: " + input;
        if (ok(v)) return {};
        return std::string(requirement) + ", got " + input;
      },
      name);
}

}  // namespace

const CLI::Validator kNonNegative =
    finite_number([](double v) { return v >= 0; }, "must be >= 0", "NONNEGATIVE");
const CLI::Validator kPositive =
    finite_number([](double v) { return v > 0; }, "must be > 0", "POSITIVE");
const CLI::Validator kUnitInterval =
    finite_number([](double v) { return v >= 0 && v <= 1; }, "must be in [0, 1]", "[0, 1]");

void one_line_parse_errors(CLI::App& app, const char* program) {
  app.failure_message([program](const CLI::App*, const CLI::Error& e) {
    return std::string(program) + ": error: " + e.what() + " (see --help)\n";
  });
}

void require_output_file(const char* flag, const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(std::string(flag) + " " + path + ": " + why);
  };
  const fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir)) fail("directory " + dir.string() + " does not exist");
  if (access(dir.empty() ? "." : dir.c_str(), W_OK) != 0)
    fail("directory " + (dir.empty() ? std::string(".") : dir.string()) + " is not writable");
  if (fs::is_directory(path)) fail("is a directory");
}

void add_device_flags(CLI::App& app, std::string& device, int64_t& threads) {
  app.add_option("--device", device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: all cores)")->check(kNonNegative);
}

void set_threads(int64_t threads) {
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
}

int run_reporting_errors(const char* program, const std::function<int()>& body) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace apps
