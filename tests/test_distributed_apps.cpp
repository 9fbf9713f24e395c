// The programs under `mpirun -np 2` (one thread each) against one process:
// data-parallel training takes the same steps (the same loss at every step,
// the same final weights up to float32 summation order), resumes with any
// number of processes, and sharded sampling and bounds give one process's
// answers. Built only where MPI is (tests/CMakeLists.txt).
#include <cmath>
#include <sstream>
#include <string>

#include "app_helpers.h"
#include "io/safetensors.h"

namespace distributed_apps_test {

using namespace apps_test;

// Root in CI's containers; more ranks than cores where a machine has fewer;
// shared memory without the cross-process copies (CMA) that containers
// without ptrace rights refuse.
std::string mpirun(int np, const char* exe) {
  return std::string(MPIEXEC_EXE) +
         " --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none -np " +
         std::to_string(np) + " " + exe;
}

// Runs `exe args` in np processes (np 1: alone, without mpirun).
int run_np(int np, const char* exe, const std::string& args, const fs::path& log) {
  return np == 1 ? run_exe(exe, args, log) : run_exe(mpirun(np, exe).c_str(), args, log);
}

struct TrainRun {
  fs::path dir, log;
};

// `steps` steps of a tiny model on the synthetic digits, in np processes:
// kSmall's run with a batch of 8 unless flags say otherwise.
TrainRun train(int np, const std::string& name, const std::string& flags, int steps = 20) {
  static const fs::path data = make_dataset("dist_digits", 40);
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  const TrainRun run{dir, dir.string() + ".log"};
  EXPECT_EQ(run_np(np, TRAIN_MNIST_EXE,
                   "--data " + data.string() +
                       " --T 20 --sample-n 4 --sample-steps 2 --sample-every 0 --threads 1" +
                       " --steps " + std::to_string(steps) + " --out " + dir.string() +
                       (flags.find("--batch") == std::string::npos ? " --batch 8 " : " ") + flags,
                   run.log),
            0)
      << read(run.log);
  return run;
}

std::vector<double> losses(const fs::path& csv) {
  std::vector<double> v;
  std::istringstream in(read(csv));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) v.push_back(std::stod(line.substr(line.find(',') + 1)));
  return v;
}

// Every tensor of two safetensors files within float32 summation-order
// tolerance of each other, and the files hold the same names.
void expect_same_tensors(const fs::path& a, const fs::path& b, double tol) {
  const io::SafetensorsFile fa = io::load_safetensors(a.string()),
                            fb = io::load_safetensors(b.string());
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    ASSERT_EQ(fa.tensors[i].first, fb.tensors[i].first);
    const ag::Tensor x = fa.tensors[i].second.to(ag::DType::F64),
                     y = fb.tensors[i].second.to(ag::DType::F64);
    const std::vector<double> u = x.to_vector<double>(), v = y.to_vector<double>();
    ASSERT_EQ(u.size(), v.size()) << fa.tensors[i].first;
    for (size_t j = 0; j < u.size(); ++j)
      ASSERT_NEAR(u[j], v[j], tol * (1 + std::abs(u[j]))) << fa.tensors[i].first << "[" << j << "]";
  }
}

void expect_same_training(const TrainRun& one, const TrainRun& two) {
  const std::vector<double> l1 = losses(one.dir / "loss.csv"), l2 = losses(two.dir / "loss.csv");
  ASSERT_EQ(l1.size(), 20u);
  ASSERT_EQ(l2.size(), 20u) << "rank 0 alone writes loss.csv, one row a step";
  for (size_t i = 0; i < l1.size(); ++i)
    EXPECT_NEAR(l2[i], l1[i], 1e-5 * std::abs(l1[i])) << "step " << i + 1;
  expect_same_tensors(one.dir / "ckpt.safetensors", two.dir / "ckpt.safetensors", 1e-4);
  expect_same_tensors(one.dir / "samples.safetensors", two.dir / "samples.safetensors", 1e-3);
}

TEST(DataParallel, TwoProcessesTrainAsOne) {
  // batch 7: ranks of 4 and 3 rows
  const std::string flags = " --batch 7 --final-sampler ddpm";
  const TrainRun one = train(1, "dp_one", flags), two = train(2, "dp_two", flags);
  expect_same_training(one, two);
  const std::string out = read(two.log);
  EXPECT_NE(out.find("in each of 2 processes"), std::string::npos) << out;
  EXPECT_EQ(out.find("[train] loading"), out.rfind("[train] loading")) << "rank 0 alone prints";
}

TEST(DataParallel, ConditionalLearnedVarianceRunsTrainAsOne) {
  // labels and their dropout, L_vlb with importance-sampled t (the bound's
  // history gathered from every rank)
  const std::string flags = " --cond --var learned --loss vlb --t-sampler importance";
  expect_same_training(train(1, "dp_cond_one", flags), train(2, "dp_cond_two", flags));
}

TEST(DataParallel, ResumesWithAnyNumberOfProcesses) {
  const TrainRun whole = train(1, "dp_whole", "");
  for (int first : {1, 2}) {  // 10 steps in `first` processes, 10 more in the other number
    const int then = 3 - first;
    const TrainRun half = train(first, "dp_half" + std::to_string(first), "", 10);
    const fs::path log = half.dir.string() + "_resume.log";
    ASSERT_EQ(run_np(then, TRAIN_MNIST_EXE,
                     "--resume " + (half.dir / "ckpt.safetensors").string() + " --steps 20", log),
              0)
        << read(log);
    expect_same_training(whole, half);
  }
}

TEST(DataParallel, ShardedSamplingAndBoundsMatchOneProcess) {
  const TrainRun model = train(1, "dp_model", "");
  const std::string ckpt = (model.dir / "ckpt.safetensors").string();
  const fs::path dir = model.dir;
  for (int np : {1, 2}) {
    const std::string n = std::to_string(np);
    EXPECT_EQ(run_np(np, SAMPLE_EXE,
                     "--ckpt " + ckpt + " -n 5 --sampler ddpm --save-tensor --out " +
                         (dir / ("s" + n)).string(),
                     dir / ("s" + n + ".log")),
              0)
        << read(dir / ("s" + n + ".log"));
    EXPECT_EQ(run_np(np, EVALUATE_EXE,
                     "--nll --ckpt " + ckpt + " --data " + (dir / "..").string() +
                         "/dist_digits -n 7 --batch 3",  // a last batch of 1: rank 1 idles
                     dir / ("nll" + n + ".log")),
              0)
        << read(dir / ("nll" + n + ".log"));
  }
  expect_same_tensors(dir / "s1" / "samples.safetensors", dir / "s2" / "samples.safetensors", 1e-4);
  auto bound = [&](const char* log) {
    const std::string s = read(dir / log);
    const size_t at = s.find("NLL bound");
    EXPECT_NE(at, std::string::npos) << s;
    return at == std::string::npos ? NAN : std::stod(s.substr(at + 9));
  };
  EXPECT_NEAR(bound("nll2.log"), bound("nll1.log"), 1e-4);
}

// SIGTERM to the ranks (what a scheduler or mpirun sends) stops them at one
// step: rank 0 leaves a whole checkpoint of that step (no temporary file)
// and the command that goes on.
TEST(DataParallel, SigtermStopsEveryRankWithAWholeCheckpoint) {
  static const fs::path data = make_dataset("dist_digits", 40);
  const fs::path dir = fs::path(::testing::TempDir()) / "dp_sigterm", log = dir.string() + ".log";
  fs::remove_all(dir);
  // --minutes 1: a run that the signal missed ends by itself, and fails below
  const std::string train = mpirun(2, TRAIN_MNIST_EXE) + " --data " + data.string() +
                            " --T 20 --batch 8 --threads 1 --sample-every 0 --minutes 1" +
                            " --out " + dir.string() + " > " + log.string() + " 2>&1";
  // the ranks' command lines start with the program, mpirun's with mpirun
  // (found in /proc: no procps needed)
  const std::string ranks = std::string("^") + TRAIN_MNIST_EXE + " .*--out " + dir.string();
  const std::string term =
      "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '" + ranks +
      "' && kill -TERM ${p#/proc/}; done";
  std::system((train + " & sleep 4; " + term + "; wait").c_str());
  const std::string printed = read(log);
  ASSERT_NE(printed.find("[train] interrupted; to go on: "), std::string::npos) << printed;
  const std::vector<double> l = losses(dir / "loss.csv");
  ASSERT_FALSE(l.empty());
  const io::SafetensorsFile ckpt = io::load_safetensors((dir / "ckpt.safetensors").string());
  EXPECT_EQ(ckpt.metadata.at("step"), std::to_string(l.size()));
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST(DataParallel, AnErrorOnAnyRankEndsTheRunWithOneLine) {
  const TrainRun model = train(1, "dp_err_model", "");
  const fs::path log = model.dir.string() + "_err.log";
  EXPECT_NE(run_np(2, SAMPLE_EXE,
                   "--ckpt " + (model.dir / "ckpt.safetensors").string() + " -n 1 --out " +
                       (model.dir / "one").string(),
                   log),
            0);
  EXPECT_NE(read(log).find("error: sample: -n 1: fewer samples than the 2 processes"),
            std::string::npos)
      << read(log);
  EXPECT_FALSE(fs::exists(model.dir / "one" / "samples.png"));
  const fs::path batch_log = model.dir.string() + "_batch.log";
  EXPECT_NE(run_np(2, TRAIN_MNIST_EXE,
                   "--data " + (model.dir / "..").string() + "/dist_digits --batch 1 --out " +
                       (model.dir / "b1").string(),
                   batch_log),
            0);
  EXPECT_NE(read(batch_log).find("--batch 1: fewer images than the 2 processes"), std::string::npos)
      << read(batch_log);
  EXPECT_FALSE(fs::exists(model.dir / "b1" / "ckpt.safetensors"));
}

}  // namespace distributed_apps_test
