// The fuzz targets' driver when they are not built with libFuzzer (the
// normal gcc build, so that every CI run has a smoke run): runs each input
// file (or every file of a directory) through the target, then mutants of
// each made by a fixed-seed generator. A crash, a sanitizer report or a
// hang is the test's failure; finishing prints what ran.
#include "FuzzInput.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string readAll(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void run(const std::string &bytes) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()),
                         bytes.size());
}

/// One of libFuzzer's simpler mutations: flip, overwrite with an
/// interesting byte, erase, insert, duplicate a chunk, truncate.
std::string mutate(std::string s, std::mt19937_64 &rng) {
  auto pick = [&](size_t n) {
    return n ? std::uniform_int_distribution<size_t>(0, n - 1)(rng) : 0;
  };
  const char interesting[] = {0, 1, 0x7f, '\xff', '(', ')', '{', '}', ',',
                              '"', '\'', '%', '9', '-', '\n', ' '};
  int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    switch (pick(6)) {
    case 0:
      if (!s.empty())
        s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
      break;
    case 1:
      if (!s.empty())
        s[pick(s.size())] = interesting[pick(sizeof interesting)];
      break;
    case 2:
      if (!s.empty()) {
        size_t at = pick(s.size());
        s.erase(at, 1 + pick(std::min<size_t>(16, s.size() - at)));
      }
      break;
    case 3:
      s.insert(pick(s.size() + 1), 1 + pick(8),
               interesting[pick(sizeof interesting)]);
      break;
    case 4:
      if (!s.empty()) {
        size_t at = pick(s.size()), n = 1 + pick(std::min<size_t>(64, s.size() - at));
        s.insert(pick(s.size() + 1), s.substr(at, n));
      }
      break;
    default:
      s.resize(pick(s.size() + 1));
    }
  }
  return s;
}

} // namespace

int main(int argc, char **argv) {
  const char *env = std::getenv("ATTNC_FUZZ_MUTANTS");
  const int mutants = env ? std::atoi(env) : 200;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto &e : fs::directory_iterator(p))
        if (e.is_regular_file())
          files.push_back(e.path());
    } else {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s FILE|DIR... (no inputs found)\n", argv[0]);
    return 2;
  }
  std::mt19937_64 rng(0x5eed);
  size_t inputs = 0;
  for (const fs::path &p : files) {
    std::string seed = readAll(p);
    run(seed), ++inputs;
    for (int m = 0; m < mutants; ++m)
      run(mutate(seed, rng)), ++inputs;
  }
  std::printf("%s: %zu inputs (%zu seeds, %d mutants each), no crash\n",
              argv[0], inputs, files.size(), mutants);
  return 0;
}
