# Writes OUT: a header defining ATTNC_CODEGEN_FINGERPRINT, a SHA-256 over the
# files listed (one per line) in LIST. The kernel cache puts it in every key,
# so a build whose code generator or kernel ABI differs in any way never
# reuses another build's kernels, even at the same version number.
file(STRINGS "${LIST}" files)
set(all "")
foreach(f IN LISTS files)
  file(SHA256 "${f}" h)
  string(APPEND all "${h}\n")
endforeach()
string(SHA256 fingerprint "${all}")
set(text "#define ATTNC_CODEGEN_FINGERPRINT \"${fingerprint}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUT}" "${text}")
endif()
