# Wraps a text file in a C++ raw string literal: -DIN=file -DOUT=header.
file(READ "${IN}" content)
file(WRITE "${OUT}" "R\"attnc_template(${content})attnc_template\"\n")
