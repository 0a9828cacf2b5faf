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

/// And the other way: every message the rulebook quotes is one a test in
/// invalid.mlir triggers, so the rulebook cannot promise a rule that the
/// verifier does not enforce.
TEST(Docs, EveryRulebookMessageIsTested) {
  std::string doc = slurp(std::string(ATTNC_SOURCE_DIR) + "/docs/dialect.md");
  std::string tests =
      slurp(std::string(ATTNC_SOURCE_DIR) + "/test/Dialect/invalid.mlir");
  size_t begin = doc.find("## The rulebook"), end = doc.find("\n## ", begin + 1);
  ASSERT_NE(begin, std::string::npos);
  std::string rulebook = doc.substr(begin, end - begin);
  std::regex item(R"(\n- `([^`]+)`(?=\n))");
  int messages = 0;
  for (auto it = std::sregex_iterator(rulebook.begin(), rulebook.end(), item);
       it != std::sregex_iterator(); ++it, ++messages)
    EXPECT_NE(tests.find("{{" + (*it)[1].str() + "}}"), std::string::npos)
        << "test/Dialect/invalid.mlir does not trigger: " << (*it)[1].str();
  EXPECT_GT(messages, 50);
}

TEST(Docs, EveryRegionOpIsDocumented) {
  std::string doc = slurp(std::string(ATTNC_SOURCE_DIR) + "/docs/dialect.md");
  for (llvm::StringRef op : mlir::attn::modRegionOps())
    EXPECT_NE(doc.find("`" + op.str() + "`"), std::string::npos)
        << "docs/dialect.md does not list the region op " << op.str();
}

} // namespace
