#include "app.hpp"

int main(int argc, char** argv) { return mailroom::app::run(argc, argv); }
