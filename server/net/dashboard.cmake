# Embeds the dashboard page in clmd: writes OUT, a C file defining
# dashboard_html[] and dashboard_html_len (server/net/dashboard.h) from the
# bytes of IN. Run by the build: cmake -DIN=... -DOUT=... -P dashboard.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR bytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp"
  "/* Generated from server/net/dashboard.html by dashboard.cmake. */\n"
  "#include \"net/dashboard.h\"\n\n"
  "const unsigned char dashboard_html[] = {\n${body}\n};\n"
  "const size_t dashboard_html_len = ${bytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
