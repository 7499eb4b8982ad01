// Small Unicode and Markdown helpers shared by the pipeline stages (UTF-8 in, UTF-8 out).
// Letter case covers Latin, Greek and Cyrillic, which is what the heuristics need.
#pragma once

#include <string>
#include <string_view>

namespace quire::convert::text {

// Decodes the code point at s[i] and advances i; invalid bytes decode as U+FFFD.
int next_cp(std::string_view s, size_t& i);
// The last code point of s (0 when empty).
int last_cp(std::string_view s);
int first_cp(std::string_view s);
void append_cp(std::string& s, int c);

// The precomposed letter for base + combining mark (e + U+0301 → é), or 0 when there is none.
int compose(int base, int mark);

bool is_space(int c);
bool is_digit(int c);
bool is_upper(int c);
bool is_lower(int c);
bool is_alpha(int c);
int to_lower(int c);

std::string_view trim(std::string_view s);
// Lower-cased letters and digits, other runs collapsed to one space: for matching titles/signatures.
std::string key(std::string_view s);
// Like key(), but every digit run becomes '#' (page numbers differ from page to page).
std::string signature(std::string_view s);

// `s` without a trailing continuation mark: a counter ("– 2/13", "(1/2)", "Step 3/4", "1/3") or
// "(cont.)", "(continued)", "(cont'd)", and the dash or comma before it; `s` itself without one.
// Slides repeat a frame's title with such a mark on each of its pages.
std::string_view without_continuation(std::string_view s);

// "Figure 3:", "Fig. 2.1", "Table 4 –", "Listing 7." ...: the label a caption starts with (the
// word in any case, then a number, a capital letter or a roman numeral; "Table of Contents" is not
// one). headings.cpp keeps such lines from becoming headings; render.cpp makes them captions.
bool is_caption_label(const std::string& plain);

// True when s ends a sentence: . ! ? : (optionally followed by closing quotes or brackets).
bool ends_sentence(std::string_view s);

// Escapes what a Markdown parser would read as syntax in plain text, and nothing else (a citation
// "[1]" stays as it is). `line_start` also escapes what would start a block (#, >, list markers,
// ...); `in_link` escapes every bracket (the text goes inside a link's brackets).
std::string escape_markdown(std::string_view s, bool line_start, bool in_link = false);

}  // namespace quire::convert::text
