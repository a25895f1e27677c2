# cmake -DIN=<file> -DOUT=<.cpp> -DNAMESPACE=<ns> -DNAME=<identifier> -P embed_text.cmake
# Writes the file's text into a C++ constant, so a binary carries it.
file(READ ${IN} text)
string(FIND "${text}" ")embedded_text\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter")
endif()
file(WRITE ${OUT}.tmp "// Generated from ${IN}. Do not edit.\nnamespace ${NAMESPACE} {\nextern const char* const ${NAME};\nconst char* const ${NAME} = R\"embedded_text(${text})embedded_text\";\n}\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
