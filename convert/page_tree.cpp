// See page_tree.hpp. Written in C style on purpose: MuPDF unwinds with longjmp, so these frames
// hold only C data (pdf_obj references released in fz_always), never C++ objects.
#include "convert/detail/page_tree.hpp"

namespace quire::convert {
namespace {

constexpr int kMaxDepth = 32;  // real page trees are a handful of levels deep

bool is_type(fz_context* ctx, pdf_obj* obj, pdf_obj* type) {
  return pdf_name_eq(ctx, pdf_dict_get(ctx, obj, PDF_NAME(Type)), type);
}

// Groups the `n` children in `level` into new indirect /Pages nodes of at most kPageTreeFanout
// kids, pointing each child's /Parent at its group; returns the new array of groups (the caller
// owns it) and adds the number of groups made to *added.
pdf_obj* group_level(fz_context* ctx, pdf_document* doc, pdf_obj* node, pdf_obj* level, int* added) {
  const int n = pdf_array_len(ctx, level);
  const int groups = (n + kPageTreeFanout - 1) / kPageTreeFanout;
  pdf_obj* next = pdf_new_array(ctx, doc, groups);
  pdf_obj* group = nullptr;
  fz_var(group);
  fz_try(ctx) {
    for (int g = 0; g < groups; ++g) {
      group = pdf_add_new_dict(ctx, doc, 4);
      pdf_dict_put(ctx, group, PDF_NAME(Type), PDF_NAME(Pages));
      pdf_dict_put(ctx, group, PDF_NAME(Parent), node);  // re-pointed if a level above groups it
      pdf_obj* kids = pdf_dict_put_array(ctx, group, PDF_NAME(Kids), kPageTreeFanout);
      int count = 0;
      for (int i = g * kPageTreeFanout; i < n && i < (g + 1) * kPageTreeFanout; ++i) {
        pdf_obj* child = pdf_array_get(ctx, level, i);
        pdf_array_push(ctx, kids, child);
        pdf_dict_put(ctx, child, PDF_NAME(Parent), group);
        count += is_type(ctx, child, PDF_NAME(Pages)) ? pdf_dict_get_int(ctx, child, PDF_NAME(Count)) : 1;
      }
      pdf_dict_put_int(ctx, group, PDF_NAME(Count), count);
      pdf_array_push(ctx, next, group);
      pdf_drop_obj(ctx, group);
      group = nullptr;
      ++*added;
    }
  }
  fz_catch(ctx) {
    pdf_drop_obj(ctx, group);
    pdf_drop_obj(ctx, next);
    fz_rethrow(ctx);
  }
  return next;
}

// Regroups `node` (its kids are n > 2 × fanout page leaves) until it has at most fanout kids.
int regroup_node(fz_context* ctx, pdf_document* doc, pdf_obj* node) {
  int added = 0;
  pdf_obj* level = pdf_keep_obj(ctx, pdf_dict_get(ctx, node, PDF_NAME(Kids)));
  fz_var(level);
  fz_try(ctx) {
    while (pdf_array_len(ctx, level) > kPageTreeFanout) {
      pdf_obj* next = group_level(ctx, doc, node, level, &added);
      pdf_drop_obj(ctx, level);
      level = next;
    }
    pdf_dict_put(ctx, node, PDF_NAME(Kids), level);  // the new tree becomes visible only here
  }
  fz_always(ctx) { pdf_drop_obj(ctx, level); }
  fz_catch(ctx) { fz_rethrow(ctx); }
  return added;
}

int regroup(fz_context* ctx, pdf_document* doc, pdf_obj* node, int depth) {
  if (depth > kMaxDepth || !pdf_is_dict(ctx, node)) return 0;
  if (pdf_mark_obj(ctx, node)) return 0;  // a cycle: MuPDF reports it when it walks there
  int added = 0;
  fz_try(ctx) {
    pdf_obj* kids = pdf_dict_get(ctx, node, PDF_NAME(Kids));
    const int n = pdf_array_len(ctx, kids);
    int leaves = 0;
    for (int i = 0; i < n; ++i) {
      pdf_obj* kid = pdf_array_get(ctx, kids, i);
      if (is_type(ctx, kid, PDF_NAME(Pages)))
        added += regroup(ctx, doc, kid, depth + 1);
      else if (is_type(ctx, kid, PDF_NAME(Page)) && pdf_is_indirect(ctx, kid))
        ++leaves;
    }
    if (leaves == n && n > 2 * kPageTreeFanout && pdf_dict_get_int(ctx, node, PDF_NAME(Count)) == n)
      added += regroup_node(ctx, doc, node);
  }
  fz_always(ctx) { pdf_unmark_obj(ctx, node); }
  fz_catch(ctx) { fz_rethrow(ctx); }
  return added;
}

}  // namespace

page_tree_census census_page_tree(fz_context* ctx, pdf_document* doc, int limit) {
  page_tree_census out;
  const int n = pdf_xref_len(ctx, doc);
  unsigned char* seen = nullptr;  // by object number: every object is entered at most once
  pdf_obj** stack = nullptr;      // so the stack never holds more than n + 1 nodes
  fz_var(seen);
  fz_var(stack);
  fz_try(ctx) {
    seen = static_cast<unsigned char*>(fz_calloc(ctx, static_cast<size_t>(n) + 1, 1));
    stack = static_cast<pdf_obj**>(fz_calloc(ctx, static_cast<size_t>(n) + 1, sizeof(pdf_obj*)));
    int top = 0;
    pdf_obj* root = pdf_dict_getp(ctx, pdf_trailer(ctx, doc), "Root/Pages");
    if (pdf_is_dict(ctx, root)) {
      const int num = pdf_to_num(ctx, root);
      if (num > 0 && num <= n) seen[num] = 1;
      stack[top++] = root;
    }
    while (top > 0 && out.leaves <= limit) {
      pdf_obj* node = stack[--top];
      pdf_obj* type = pdf_dict_get(ctx, node, PDF_NAME(Type));
      pdf_obj* kids = pdf_dict_get(ctx, node, PDF_NAME(Kids));
      // MuPDF's lookup: a /Pages node, or an untyped node with /Kids, is inner; anything else a page.
      if (!(pdf_name_eq(ctx, type, PDF_NAME(Pages)) || (!type && kids))) {
        ++out.leaves;
        continue;
      }
      // Kids pushed in reverse would keep document order; the census only counts.
      for (int i = 0, k = pdf_array_len(ctx, kids); i < k; ++i) {
        pdf_obj* kid = pdf_array_get(ctx, kids, i);
        if (!pdf_is_dict(ctx, kid)) continue;
        const int num = pdf_to_num(ctx, kid);
        if (num <= 0 || num > n) {  // a direct object cannot be shared or cycle: count it as it is
          if (!pdf_dict_get(ctx, kid, PDF_NAME(Kids))) ++out.leaves;
          continue;
        }
        if (seen[num]) {
          ++out.repeats;
          continue;
        }
        seen[num] = 1;
        stack[top++] = kid;
      }
    }
  }
  fz_always(ctx) {
    fz_free(ctx, stack);
    fz_free(ctx, seen);
  }
  fz_catch(ctx) { fz_rethrow(ctx); }
  return out;
}

int regroup_flat_page_tree(fz_context* ctx, pdf_document* doc) {
  return regroup(ctx, doc, pdf_dict_getp(ctx, pdf_trailer(ctx, doc), "Root/Pages"), 0);
}

}  // namespace quire::convert
