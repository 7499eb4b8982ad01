// page_tree: keeps page lookup cheap on documents whose page tree is flat.
//
// MuPDF 1.21 finds page N by walking the page tree from the root, skipping whole subtrees by their
// /Count. A /Pages node that holds thousands of page leaves directly (many generators write one)
// makes every lookup step over up to N kids: O(N²) over the document (pages 9,001-10,000 of a flat
// 10,000-page file took 10x the time of pages 1-1,000). MuPDF's own page-map cache would fix it but
// leaks in 1.21 (docs/reliability.md). So the engine regroups such a node, in memory only, into
// /Pages nodes of at most `kPageTreeFanout` kids, level by level, so a lookup costs
// O(fanout · depth). Nothing is written back to the file. Page order is unchanged, attributes that
// pages inherit (/Resources, /MediaBox, /Rotate) still reach them through the /Parent chain (the new
// nodes carry none), and page numbers found upward (pdf_lookup_page_number: links, outlines) stay
// right because every new node has the exact /Count of its leaves.
#pragma once

extern "C" {
#include <mupdf/pdf.h>
}

namespace quire::convert {

inline constexpr int kPageTreeFanout = 32;

// Regroups every /Pages node whose kids are all /Page leaves, more than 2 × kPageTreeFanout of
// them, and whose /Count agrees; anything else (mixed or inconsistent nodes, cycles, depth > 32)
// is left exactly as it is. Returns the number of /Pages nodes added. MuPDF errors propagate as
// fz_throw: call it inside fz_try, from a frame that holds only C data.
int regroup_flat_page_tree(fz_context* ctx, pdf_document* doc);

// What the page tree really holds, as opposed to its root's /Count (which is what
// fz_count_pages reports, and which a hostile file sets to anything: a tree that cycles back to
// its root claimed a million pages). Counts the page leaves reachable from the catalog, each
// object once, stopping once past `limit`; `repeats` counts kids that were seen before (a cycle
// or a node listed twice). Same leaf rule as MuPDF's page lookup. fz_throw on MuPDF errors.
struct page_tree_census {
  int leaves = 0;
  int repeats = 0;
};
page_tree_census census_page_tree(fz_context* ctx, pdf_document* doc, int limit);

}  // namespace quire::convert
