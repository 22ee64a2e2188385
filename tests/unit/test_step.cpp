#include "crosstune/core/step.hpp"

#include <doctest/doctest.h>

#include <array>
#include <unordered_set>
#include <vector>

using namespace crosstune;

namespace {
StepSequence every_kind(StepSequence s = {}) {
  const std::array<std::int64_t, 3> lengths{2, 1, 4};
  const std::array<std::int64_t, 2> ids{0, 1};
  s.add_annotation(4, 0, IteratorAnnotation::parallel);
  s.add_fuse(4, ids);
  s.add_pragma(2, 0, "auto_unroll_max_step$16");
  s.add_reorder(2, std::array<std::int64_t, 4>{0, 2, 1, 3});
  s.add_split(2, 0, 1024, lengths, true);
  s.add_follow_split(4, 0, 4, 2);
  s.add_follow_fused_split(4, 1, std::array<std::int64_t, 2>{7, 8}, 1, true);
  s.add_storage_align(3, 1, 32, 4);
  s.add_compute_at(2, 4, 3);
  s.add_compute_inline(1);
  s.add_compute_root(5);
  s.add_cache_read(1, "shared", std::array<std::int64_t, 1>{3});
  s.add_cache_write(3, "local");
  s.add_rfactor(2, 1, 0);
  return s;
}
}  // namespace

TEST_CASE("every Ansor step kind has its record prefix and back") {
  CHECK(step_kind_count == step_record_prefixes.size());
  for (std::size_t i = 0; i < step_kind_count; ++i) {
    const auto kind = static_cast<StepKind>(i);
    CHECK(step_kind_from_prefix(record_prefix(kind)) == kind);
  }
  CHECK(record_prefix(StepKind::follow_fused_split) == "FFSP");
  CHECK(record_prefix(StepKind::cache_read) == "CHR");
  CHECK_FALSE(step_kind_from_prefix("XX").has_value());
  CHECK_FALSE(step_kind_from_prefix("").has_value());
}

TEST_CASE("iterator annotations use Ansor's numbering") {
  CHECK(static_cast<int>(IteratorAnnotation::vectorize) == 2);
  CHECK(static_cast<int>(IteratorAnnotation::thread_x) == 6);
  CHECK(static_cast<int>(IteratorAnnotation::tensorize) == 11);
  CHECK(to_string(IteratorAnnotation::block_x) == "blockIdx.x");
  CHECK(iterator_annotation_from_number(11) == IteratorAnnotation::tensorize);
  CHECK_FALSE(iterator_annotation_from_number(12));
  CHECK_FALSE(iterator_annotation_from_number(-1));
}

TEST_CASE("a step sequence stores every field of every kind") {
  const StepSequence s = every_kind();
  REQUIRE(s.size() == 14);
  CHECK(s[0].annotation() == IteratorAnnotation::parallel);
  CHECK(s[0].iter_id() == 0);
  CHECK(std::vector<std::int64_t>(s[1].fused_ids().begin(), s[1].fused_ids().end()) ==
        std::vector<std::int64_t>{0, 1});
  CHECK(s[2].pragma_type() == "auto_unroll_max_step$16");
  CHECK(s[3].after_ids().size() == 4);
  CHECK(s[4].extent() == 1024);
  CHECK(s[4].lengths()[2] == 4);
  CHECK(s[4].inner_to_outer());
  CHECK(s[5].src_step_id() == 4);
  CHECK(s[5].n_split() == 2);
  CHECK(s[6].src_step_ids()[1] == 8);
  CHECK(s[6].level() == 1);
  CHECK(s[6].factor_or_nparts());
  CHECK(s[7].factor() == 32);
  CHECK(s[7].offset() == 4);
  CHECK(s[8].target_stage_id() == 4);
  CHECK(s[8].target_iter_id() == 3);
  CHECK(s[9].kind() == StepKind::compute_inline);
  CHECK(s[9].stage_id() == 1);
  CHECK(s[10].kind() == StepKind::compute_root);
  CHECK(s[11].scope_name() == "shared");
  CHECK(s[11].reader_stage_ids()[0] == 3);
  CHECK(s[12].scope_name() == "local");
  CHECK(s[13].factor_iter_id() == 0);
}

TEST_CASE("reading a field the step kind does not have throws StepKindMismatch") {
  const StepSequence s = every_kind();
  CHECK_THROWS_AS((void)s[0].lengths(), StepKindMismatch);
  CHECK_THROWS_AS((void)s[9].iter_id(), StepKindMismatch);
  CHECK_THROWS_WITH_AS((void)s[4].pragma_type(),
                       "step field 'pragma_type' read from a SP step, which has no such field",
                       StepKindMismatch);
  CHECK_THROWS_AS((void)s.at(14), std::out_of_range);
}

TEST_CASE("step sequences compare by content, iterate in order and clear") {
  StepSequence a = every_kind();
  StepSequence b = every_kind();
  CHECK(a == b);
  b.add_compute_inline(0);
  CHECK_FALSE(a == b);
  StepSequence c;
  c.add_split(2, 0, 1024, std::array<std::int64_t, 3>{2, 1, 8}, true);
  StepSequence d;
  d.add_split(2, 0, 1024, std::array<std::int64_t, 3>{2, 1, 4}, true);
  CHECK_FALSE(c == d);
  std::size_t n = 0;
  for (StepView step : a) {
    CHECK(step.kind() == static_cast<StepKind>(n));
    ++n;
  }
  CHECK(n == a.size());
  a.clear();
  CHECK(a.empty());
}

TEST_CASE("equal step sequences hash equal, also after a popped step; a changed field changes the hash") {
  const StepSequence a = every_kind();
  // The same steps built with spare capacity after a popped step (its list and text gone with it).
  StepSequence junk;
  junk.reserve(32, 64, 64);
  junk.add_cache_read(9, "global", std::array<std::int64_t, 2>{3, 3});
  junk.pop_back();
  const StepSequence b = every_kind(std::move(junk));
  REQUIRE(a == b);
  CHECK(hash_value(a) == hash_value(b));
  CHECK(std::hash<StepSequence>{}(a) == std::hash<StepSequence>{}(b));

  // Each single change: one field, one list value, one text byte, a list value moved across a step boundary.
  StepSequence c;
  c.add_split(2, 0, 1024, std::array<std::int64_t, 3>{2, 1, 8}, true);
  StepSequence d;
  d.add_split(2, 0, 1024, std::array<std::int64_t, 3>{2, 1, 4}, true);
  StepSequence e;
  e.add_split(2, 0, 1024, std::array<std::int64_t, 3>{2, 1, 4}, false);
  StepSequence f;
  f.add_pragma(2, 0, "auto_unroll_max_step$16");
  StepSequence g;
  g.add_pragma(2, 0, "auto_unroll_max_step$64");
  StepSequence h;  // {1, 2} then an empty list, against {1} then {2}
  h.add_reorder(0, std::array<std::int64_t, 2>{1, 2});
  h.add_reorder(0, std::span<const std::int64_t>{});
  StepSequence i;
  i.add_reorder(0, std::array<std::int64_t, 1>{1});
  i.add_reorder(0, std::array<std::int64_t, 1>{2});
  const std::vector<const StepSequence*> all{&a, &c, &d, &e, &f, &g, &h, &i};
  std::unordered_set<std::uint64_t> hashes;
  for (const StepSequence* s : all) hashes.insert(hash_value(*s));
  CHECK(hashes.size() == all.size());

  std::unordered_set<StepSequence> set{a, b, c, d};
  CHECK(set.size() == 3);
  CHECK(set.contains(every_kind()));
}
