// Unicode and Markdown helpers (convert/text.hpp) and inline rendering (convert/inline.hpp).
#include <catch2/catch.hpp>

#include "convert/inline.hpp"
#include "convert/text.hpp"

using namespace quire::convert;

TEST_CASE("combining marks compose with their letter (NFC)") {
  CHECK(text::compose('e', 0x301) == 0xE9);  // é
  CHECK(text::compose('n', 0x303) == 0xF1);  // ñ
  CHECK(text::compose('S', 0x30C) == 0x160); // Š
  CHECK(text::compose('q', 0x301) == 0);     // no such letter
}

TEST_CASE("keys and signatures for matching titles and running headers") {
  CHECK(text::key("  Chapter 3: The  Détour! ") == "chapter 3 the détour");
  CHECK(text::signature("Page 12 of 40") == text::signature("Page 3 of 40"));
  CHECK(text::signature("Page 12 of 40") != text::signature("Part 12 of 40"));
}

TEST_CASE("sentence ends") {
  CHECK(text::ends_sentence("It rained."));
  CHECK(text::ends_sentence("Did it rain?\u201D"));
  CHECK_FALSE(text::ends_sentence("and the"));
}

TEST_CASE("Markdown specials are escaped, block starts only at the start of a block") {
  CHECK(text::escape_markdown("a*b [c] `d`", false) == "a\\*b [c] \\`d\\`");
  CHECK(text::escape_markdown("refill_rate and _x_", false) == "refill_rate and \\_x\\_");
  CHECK(text::escape_markdown("# not a heading", true) == "\\# not a heading");
  CHECK(text::escape_markdown("1. not a list", true) == "1\\. not a list");
  CHECK(text::escape_markdown("1. inside", false) == "1. inside");
}

TEST_CASE("only what a Markdown parser would misread is escaped") {
  // citations, paths, lone operators and words that merely start with '#' or '-' stay as they are
  CHECK(text::escape_markdown("as shown in [1] and [2, 3].", false) == "as shown in [1] and [2, 3].");
  CHECK(text::escape_markdown("C:\\Users\\me and 2 * 3", false) == "C:\\Users\\me and 2 * 3");
  CHECK(text::escape_markdown("#include <stdio.h> is read", true) == "#include \\<stdio.h> is read");
  CHECK(text::escape_markdown("--verbose prints more", true) == "--verbose prints more");
  CHECK(text::escape_markdown("a _ b", false) == "a _ b");
  // what would become a link, a footnote reference, emphasis, a heading, a list or a rule is escaped
  CHECK(text::escape_markdown("[text](url) and [^1]", false) == "[text\\](url) and \\[^1]");
  CHECK(text::escape_markdown("[ref]: target", true) == "[ref\\]: target");
  CHECK(text::escape_markdown("a *b* c", false) == "a \\*b\\* c");
  CHECK(text::escape_markdown("x \\*", false) == "x \\\\\\*");
  CHECK(text::escape_markdown("## two", true) == "\\## two");
  CHECK(text::escape_markdown("* starred", true) == "\\* starred");
  CHECK(text::escape_markdown("12) twelve", true) == "12\\) twelve");
  CHECK(text::escape_markdown("- - -", true) == "\\- - -");
  CHECK(text::escape_markdown("***", true) == "\\*\\*\\*");
  // inside a link's text every bracket is escaped (the brackets must balance)
  CHECK(text::escape_markdown("see [1", false, true) == "see \\[1");
}

TEST_CASE("inline rendering: emphasis hugs the words, code, links, footnote references") {
  auto sp = [](std::string t, bool b = false, bool i = false, bool m = false, int link = -1) {
    layout::span s;
    s.text = std::move(t);
    s.bold = b;
    s.italic = i;
    s.mono = m;
    s.link = link;
    return s;
  };
  std::vector<layout::link> links{{{}, "https://example.com/a"}};
  std::vector<layout::span> spans{sp("Use "), sp("bold words ", true), sp("and "), sp("code()", false, false, true),
                                  sp(" or "), sp("this page", false, true, false, 0), sp(".")};
  layout::span ref = sp("2");
  ref.superscript = true;
  spans.push_back(ref);
  std::set<std::string> refs;
  inline_options o;
  CHECK(render_inline(spans, links, o, &refs) ==
        "Use **bold words** and `code()` or [*this page*](https://example.com/a).[^2]");
  CHECK(refs.count("2") == 1);
}
