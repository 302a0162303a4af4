# Writes the manual pages from the programs' own option tables (PROGRAM --help-man), so a page
# cannot disagree with --help. Run by the man_pages target:
#   cmake -DBIN=<dir of ustack, minibrowser> -DOUT=<dir> -P man_pages.cmake
file(MAKE_DIRECTORY ${OUT})
set(PAGES ustack minibrowser ustack-ping ustack-dhcp ustack-resolve ustack-serve ustack-get ustack-up ustack-explain ustack-echo)
foreach(page IN LISTS PAGES)
  string(REPLACE "-" ";" argv ${page})
  list(POP_FRONT argv program)
  execute_process(COMMAND ${BIN}/${program} ${argv} --help-man
                  OUTPUT_FILE ${OUT}/${page}.1 RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${program} ${argv} --help-man failed (${rc})")
  endif()
endforeach()
