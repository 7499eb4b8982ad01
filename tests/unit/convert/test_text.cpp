// Unicode and Markdown helpers (convert/detail/text.hpp) and inline rendering (convert/detail/inline.hpp).
#include <catch2/catch.hpp>

#include "convert/detail/inline.hpp"
#include "convert/detail/text.hpp"

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

TEST_CASE("a slide title's continuation counter or mark is set apart from the title") {
  CHECK(text::without_continuation("Example: DSP48_MACC \u2013 1/13") == "Example: DSP48_MACC");
  CHECK(text::without_continuation("Running the Script \u2013 Step 2/4") == "Running the Script");
  CHECK(text::without_continuation("Yosys Commands 1/3") == "Yosys Commands");
  CHECK(text::without_continuation("Projects using it \u2013 (1/2)") == "Projects using it");
  CHECK(text::without_continuation("The Cell Structure(2/2)") == "The Cell Structure");
  CHECK(text::without_continuation("Results (cont.)") == "Results");
  // no mark, or nothing but numbers: unchanged
  CHECK(text::without_continuation("Ratios and rates") == "Ratios and rates");
  CHECK(text::without_continuation("12/13") == "12/13");
  CHECK(text::without_continuation("Part 1/2 of the plan") == "Part 1/2 of the plan");
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

TEST_CASE("the gap a padded code box leaves before punctuation or after a bracket is no space") {
  auto sp = [](std::string t, bool m = false) {
    layout::span s;
    s.text = std::move(t);
    s.mono = m;
    return s;
  };
  const std::vector<layout::link> links;
  inline_options o;
  CHECK(render_inline({sp("syntax with "), sp("@VARIABLE@", true), sp(" .")}, links, o, nullptr) ==
        "syntax with `@VARIABLE@`.");
  CHECK(render_inline({sp("with "), sp("{% if %}", true), sp(" , "), sp("{% elif %}", true), sp(" blocks")}, links, o,
                      nullptr) == "with `{% if %}`, `{% elif %}` blocks");
  CHECK(render_inline({sp("the mode ( "), sp("-Dmode=developer", true), sp(" ) is")}, links, o, nullptr) ==
        "the mode (`-Dmode=developer`) is");
  // a space before a word, or a dot that starts a name, stays
  CHECK(render_inline({sp("run "), sp("make", true), sp(" .gitignore")}, links, o, nullptr) == "run `make` .gitignore");
  CHECK(render_inline({sp("run "), sp("make", true), sp(" now")}, links, o, nullptr) == "run `make` now");
  CHECK(render_inline({sp("numbered "), sp("%1, %2,", true), sp(" ... and")}, links, o, nullptr) ==
        "numbered `%1, %2,` ... and");
  CHECK(render_inline({sp("where "), sp("RB", true), sp(" : Reachable Bytes")}, links, o, nullptr) ==
        "where `RB` : Reachable Bytes");
}
