// Deliberately broken references: lint.references_checker_catches_violations expects exactly
// the number of problems its pass expression in tests/CMakeLists.txt names, one per line below
// (two for the broken link in README.md, one in the fixture catalogue).
// see ../shared/notes.txt
// see /work/notes.txt
// STEPS.md level 3
// style-study §8.4
// libraries-and-conventions §1.5
// hostile-inputs #12
// hostile #43
// a bare catalogue tag (§I.67)
// issue #4
// docs/missing.md
// docs/hostile-inputs.md #99
// docs/hostile-inputs.md #1, #98
// docs/hostile-inputs.md §Z
// docs/architecture.md "No such section"
// docs/levels.md level 9
// docs/levels.md step 14
// Lines that resolve and must not be counted:
// docs/hostile-inputs.md #1 and docs/hostile-inputs.md §A
// docs/architecture.md "Errors", docs/levels.md level 1, docs/levels.md step 1
int main() { return 0; }
