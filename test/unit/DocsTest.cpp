// The dialect's documentation does not drift from the dialect: every
// verifier message that test/Dialect/invalid.mlir triggers, and every op a
// mask or score region may hold, is on docs/dialect.md.
#include "dialect/AttnOps.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace {

std::string slurp(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Docs, EveryVerifierMessageIsDocumented) {
  std::string doc = slurp(std::string(ATTNC_SOURCE_DIR) + "/docs/dialect.md");
  std::string tests =
      slurp(std::string(ATTNC_SOURCE_DIR) + "/test/Dialect/invalid.mlir");
  ASSERT_FALSE(doc.empty());
  std::regex expected(R"(expected-error[^{]*\{\{(.*?)\}\})");
  int messages = 0;
  for (auto it = std::sregex_iterator(tests.begin(), tests.end(), expected);
       it != std::sregex_iterator(); ++it, ++messages)
    EXPECT_NE(doc.find((*it)[1].str()), std::string::npos)
        << "docs/dialect.md lacks the message: " << (*it)[1].str();
  EXPECT_GT(messages, 50);
}

TEST(Docs, EveryRegionOpIsDocumented) {
  std::string doc = slurp(std::string(ATTNC_SOURCE_DIR) + "/docs/dialect.md");
  for (llvm::StringRef op : mlir::attn::modRegionOps())
    EXPECT_NE(doc.find("`" + op.str() + "`"), std::string::npos)
        << "docs/dialect.md does not list the region op " << op.str();
}

} // namespace
