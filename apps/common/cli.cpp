#include "apps/common/cli.h"

#include <omp.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "autograd/device.h"
#include "autograd/distributed.h"

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

const CLI::Validator kSeed(
    [](std::string& input) -> std::string {
      uint64_t seed = 0;
      const char* end = input.data() + input.size();
      const auto [stop, err] = std::from_chars(input.data(), end, seed);
      if (input.empty() || input[0] == '-' || err != std::errc() || stop != end)
        return "a seed is a whole number in [0, 2^64 - 1], got " + input;
      return {};
    },
    "SEED");

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

void add_renamed_flag(CLI::App& app, const std::string& old_name, const std::string& now) {
  app.add_option_function<std::string>(old_name,
                                       [old_name, now](const std::string&) {
                                         throw CLI::ValidationError(old_name + " is now " + now);
                                       })
      ->expected(0, 1)
      ->group("");
}

CLI::Option* add_output_switch(CLI::App& app, const std::string& flag, bool& on,
                               const std::string& file, const std::string& help) {
  return app
      .add_option_function<std::string>(
          flag,
          [&on, flag, file](const std::string& value) {
            if (!value.empty())
              throw CLI::ValidationError(flag + " takes no file now: it writes " + file +
                                         " in --out");
            on = true;
          },
          help + " (" + file + " in --out)")
      ->expected(0, 1)
      ->type_name("");
}

void require_output_dir(const std::string& dir, const std::string& flag) {
  namespace fs = std::filesystem;
  if (dir.empty()) throw std::runtime_error(flag + " must name a folder");
  if (flag == "--out" && fs::path(dir).extension() == ".png")
    throw std::runtime_error("--out " + dir +
                             ": --out is a folder now (the grid is <folder>/samples.png)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw std::runtime_error(flag + " " + dir + ": not a folder that can be created (" +
                             (ec ? ec.message() : std::string("a file is in the way")) + ")");
  if (access(dir.c_str(), W_OK) != 0) throw std::runtime_error(flag + " " + dir + ": not writable");
}

void add_device_flags(CLI::App& app, std::string& device, int64_t& threads) {
  app.add_option("--device", device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: all cores)")
      ->check(kNonNegative)
      ->capture_default_str();
}

void set_threads(int64_t threads) {
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
}

int run_reporting_errors(const char* program, const std::function<int()>& body) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, which
  // io::AtomicFile reports and cleans up after, as it does for a full disk;
  // the signal's default action would kill the program and leave its
  // temporary file behind.
  std::signal(SIGXFSZ, SIG_IGN);
  // Under mpirun: one run of size() ranks, rank 0 alone printing; an error
  // on any rank ends them all (abort_run).
  ag::dist::init();
  if (!ag::dist::is_main() && std::freopen("/dev/null", "w", stdout) == nullptr)
    ag::dist::abort_run("cannot silence the output of rank " + std::to_string(ag::dist::rank()));
  int rc = 1;
  try {
    rc = body();
  } catch (const std::exception& e) {
    if (ag::dist::size() > 1) ag::dist::abort_run(std::string(program) + ": " + e.what());
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  }
  ag::dist::finalize();
  return rc;
}

}  // namespace apps
